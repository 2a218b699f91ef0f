import { createHash, randomBytes } from 'node:crypto';
import type { BlockBlobClient, BlobHTTPHeaders } from '@azure/storage-blob';

/** Azure's limits for a block blob: https://learn.microsoft.com/rest/api/storageservices/put-block */
export const MAX_BLOCKS = 50_000;
export const MAX_BLOCK_BYTES = 4000 * 1024 * 1024;

/** Blocks per size step: after every this many blocks the block size doubles. */
const BLOCKS_PER_STEP = 10_000;

/**
 * The size of block `index` (0-based). Blocks may differ in size, so a stream of unknown length starts
 * small (memory stays at block size × concurrency) and doubles every 10,000 blocks: from 4 MiB, 50,000
 * blocks hold 1.18 TiB; from 64 MiB, 18.9 TiB. A larger stream needs a larger first block.
 */
export function blockSizeFor(index: number, baseBytes: number): number {
  return Math.min(MAX_BLOCK_BYTES, baseBytes * 2 ** Math.floor(index / BLOCKS_PER_STEP));
}

/** Capacity of 50,000 blocks starting at baseBytes. */
export function capacity(baseBytes: number): number {
  let total = 0;
  for (let step = 0; step * BLOCKS_PER_STEP < MAX_BLOCKS; step++) total += blockSizeFor(step * BLOCKS_PER_STEP, baseBytes) * BLOCKS_PER_STEP;
  return total;
}

export interface BlockUploadOptions {
  /** First block size (default 4 MiB). */
  blockSize?: number;
  /** Blocks in flight at once (default 4); memory is about blockSize × (concurrency + 1). */
  concurrency?: number;
  metadata?: Record<string, string>;
  tags?: Record<string, string>;
  headers?: BlobHTTPHeaders;
  /**
   * Called when every block is staged and before the commit, with the size and hash; it may return
   * more metadata and may throw to commit nothing (e.g. the dump turned out empty).
   */
  beforeCommit?: (result: BlockUploadResult) => Promise<Record<string, string> | undefined>;
  /** Called after each staged block with the bytes staged so far. */
  onProgress?: (uploadedBytes: number) => void;
  abortSignal?: AbortSignal;
}

export interface BlockUploadResult {
  sizeBytes: number;
  sha256: string;
  blocks: number;
}

/**
 * Streams data into a block blob: each block is staged as it fills, and the blob becomes visible only
 * when the block list is committed at the end. If the source or any block fails, nothing is committed
 * and no blob appears (Azure discards uncommitted blocks after a week), so a failed run leaves nothing
 * that looks like a backup. An existing blob of the same name is never replaced: the commit fails.
 */
export async function uploadBlocks(
  blob: BlockBlobClient,
  source: AsyncIterable<Buffer | Uint8Array | string>,
  options: BlockUploadOptions = {},
): Promise<BlockUploadResult> {
  const base = options.blockSize ?? 4 * 1024 * 1024;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const hash = createHash('sha256');
  const upload = randomBytes(12).toString('hex');
  const ids: string[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let staged = 0;
  let total = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;

  const stage = (data: Buffer): Promise<void> => {
    if (ids.length === MAX_BLOCKS) {
      const tib = (capacity(base) / 1024 ** 4).toFixed(2);
      throw new Error(`the data is larger than ${MAX_BLOCKS} blocks starting at ${base / 1024 / 1024} MiB can hold (${tib} TiB); use a larger block size`);
    }
    // Block IDs must all have the same length; a zero-padded index keeps them in order too. Uncommitted
    // blocks belong to the blob name, not to the upload: the upload's own random part keeps a concurrent
    // upload to the same name from replacing this one's blocks before its commit (which If-None-Match
    // then refuses to the later one).
    const id = Buffer.from(`${upload}-${String(ids.length).padStart(8, '0')}`).toString('base64');
    ids.push(id);
    const task = blob
      .stageBlock(id, data, data.length, { abortSignal: options.abortSignal })
      .then(() => {
        staged += data.length;
        options.onProgress?.(staged);
      })
      .catch((error: unknown) => {
        failure ??= error;
      })
      .finally(() => inFlight.delete(task));
    inFlight.add(task);
    return task;
  };

  const flush = async (): Promise<void> => {
    const data = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    stage(data);
    // Backpressure: don't read more of the source than the blocks in flight can hold.
    while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
    if (failure) throw failure;
  };

  try {
    for await (const chunk of source) {
      let buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      hash.update(buffer);
      total += buffer.length;
      while (buffer.length > 0) {
        const room = blockSizeFor(ids.length, base) - pendingBytes;
        pending.push(buffer.subarray(0, room));
        pendingBytes += Math.min(room, buffer.length);
        buffer = buffer.subarray(room);
        if (pendingBytes === blockSizeFor(ids.length, base)) await flush();
      }
      if (failure) throw failure;
    }
    if (pendingBytes > 0 || ids.length === 0) await flush();
    await Promise.all(inFlight);
    if (failure) throw failure;
    const extra = (await options.beforeCommit?.({ sizeBytes: total, sha256: hash.copy().digest('hex'), blocks: ids.length })) ?? {};
    // If-None-Match: the commit never replaces a blob of the same name (Azure answers 409).
    await blob.commitBlockList(ids, {
      conditions: { ifNoneMatch: '*' },
      metadata: { ...options.metadata, ...extra },
      tags: options.tags,
      blobHTTPHeaders: options.headers,
      abortSignal: options.abortSignal,
    });
  } catch (error) {
    // Let staged requests settle so none is left running after we report the failure.
    await Promise.allSettled(inFlight);
    throw error;
  }
  return { sizeBytes: total, sha256: hash.digest('hex'), blocks: ids.length };
}
