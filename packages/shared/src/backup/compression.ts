import { Readable, pipeline, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { InputError } from '../inputs';

export const COMPRESSIONS = ['gzip', 'zstd', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** File name suffix for each compression. */
export const EXTENSIONS: Record<Compression, string> = { gzip: '.gz', zstd: '.zst', none: '' };

/** zstd is in node:zlib since Node 22.15 / 23.8; `node24` always has it, older runtimes do not. */
export function hasZstd(): boolean {
  return typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';
}

/** Levels: gzip 1–9, zstd 1–19 (the range zstd's CLI offers without --ultra). */
export function checkLevel(compression: Compression, level: number | undefined, input = 'compression-level'): void {
  if (level === undefined || compression === 'none') return;
  const max = compression === 'gzip' ? 9 : 19;
  if (!Number.isInteger(level) || level < 1 || level > max) throw new InputError(input, String(level), `a level from 1 to ${max} for ${compression}`);
}

function transform(compression: Compression, direction: 'compress' | 'decompress', level?: number): Transform | undefined {
  if (compression === 'none') return undefined;
  if (compression === 'gzip') return direction === 'compress' ? zlib.createGzip({ level: level ?? 6 }) : zlib.createGunzip();
  if (!hasZstd()) {
    throw new InputError('compression', 'zstd', `gzip or none: this Node.js (${process.versions.node}) has no zstd in node:zlib (it needs 22.15 or newer)`);
  }
  const z = zlib as unknown as {
    createZstdCompress(o?: object): Transform;
    createZstdDecompress(): Transform;
    constants: Record<string, number>;
  };
  if (direction === 'decompress') return z.createZstdDecompress();
  const key = z.constants.ZSTD_c_compressionLevel;
  return z.createZstdCompress(level === undefined || key === undefined ? {} : { params: { [key]: level } });
}

/**
 * Runs source through a transform. pipeline (not pipe) so that a failing source, such as a dump tool
 * exiting non-zero, destroys the transform with that error and the consumer sees it instead of waiting.
 */
function through(source: AsyncIterable<Uint8Array>, stream: Transform | undefined): AsyncIterable<Uint8Array> {
  if (!stream) return source;
  // Readable.from buffers 16 chunks ahead by default (16 MiB of MongoDB segments); one keeps the codec busy.
  pipeline(Readable.from(source, { highWaterMark: 1 }), stream, () => {
    // The error, if any, reaches the consumer through the destroyed transform.
  });
  return stream as AsyncIterable<Buffer>;
}

/** Compresses a stream chunk by chunk; memory does not grow with the data. */
export function compressStream(source: AsyncIterable<Uint8Array>, compression: Compression, level?: number): AsyncIterable<Uint8Array> {
  checkLevel(compression, level);
  return through(source, transform(compression, 'compress', level));
}

export function decompressStream(source: AsyncIterable<Uint8Array>, compression: Compression): AsyncIterable<Uint8Array> {
  return through(source, transform(compression, 'decompress'));
}
