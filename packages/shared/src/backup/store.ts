import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as core from '@actions/core';
import type { ContainerClient } from '@azure/storage-blob';
import { uploadBlocks } from '../azure/block-upload';

export interface StoredBackup {
  name: string;
  sizeBytes: number;
  metadata: Record<string, string>;
}

export interface UploadOptions {
  metadata: Record<string, string>;
  blockSize?: number;
  concurrency?: number;
  onProgress?: (uploadedBytes: number) => void;
  /** Runs once all data is written and before the backup becomes visible; may add metadata or throw. */
  beforeCommit?: (result: { sizeBytes: number; sha256: string }) => Promise<Record<string, string> | undefined>;
}

/**
 * Where backups live. A backup becomes visible only when complete: a failed upload leaves nothing.
 * Nothing is ever overwritten: upload and writeText fail when the name exists.
 */
export interface BackupStore {
  /** Where a backup is, for people: the blob URL without any SAS, or the file path. */
  locate(name: string): string;
  upload(name: string, source: AsyncIterable<Uint8Array>, options: UploadOptions): Promise<{ sizeBytes: number; sha256: string }>;
  /** Backups (not their sidecar files) whose names start with prefix. */
  list(prefix: string): Promise<StoredBackup[]>;
  get(name: string): Promise<StoredBackup | undefined>;
  download(name: string): AsyncIterable<Uint8Array>;
  /** Merges into the existing metadata. */
  setMetadata(name: string, metadata: Record<string, string>): Promise<void>;
  writeText(name: string, text: string): Promise<void>;
  readText(name: string): Promise<string | undefined>;
  delete(name: string): Promise<void>;
  /** Merges searchable index tags, where the store has them; never fails the backup over them. */
  addTags?(name: string, tags: Record<string, string>): Promise<void>;
}

/** Index tag values allow letters, digits, space and `+ - . / : = _`, at most 256 characters. */
function tagValue(value: string): string {
  return value.replace(/[^A-Za-z0-9 +\-./:=_]/g, '_').slice(0, 256);
}

/** Refusal to overwrite; an upload stops with it before any data moves when it can tell. */
function exists(name: string): Error {
  return new Error(`${name} already exists; nothing was overwritten`);
}
const isConflict = (error: unknown) => [409, 412].includes((error as { statusCode?: number }).statusCode ?? 0);

/** The manifest sits next to its backup. */
export const manifestName = (backup: string) => `${backup}.manifest.json`;
const isSidecar = (name: string) => name.endsWith('.manifest.json') || name.endsWith('.meta.json') || name.endsWith('.partial');

/** Azure Blob Storage: staged blocks committed at the end (see uploadBlocks). */
export class AzureBlobStore implements BackupStore {
  constructor(private readonly container: ContainerClient) {}

  locate(name: string): string {
    const url = new URL(this.container.getBlobClient(name).url);
    url.search = '';
    return url.toString();
  }

  /**
   * A SAS scoped to the container may not create it (403): then it has to exist already, and if it
   * does not, the first block says so.
   */
  private async ensureContainer(): Promise<void> {
    try {
      await this.container.createIfNotExists();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 403) throw error;
    }
  }

  async upload(name: string, source: AsyncIterable<Uint8Array>, options: UploadOptions) {
    await this.ensureContainer();
    const blob = this.container.getBlockBlobClient(name);
    if (await blob.exists()) throw exists(name);
    try {
      const result = await uploadBlocks(blob, source, {
        blockSize: options.blockSize,
        concurrency: options.concurrency,
        metadata: options.metadata,
        onProgress: options.onProgress,
        beforeCommit: options.beforeCommit,
      });
      return { sizeBytes: result.sizeBytes, sha256: result.sha256 };
    } catch (error) {
      throw isConflict(error) ? exists(name) : error;
    }
  }

  async list(prefix: string): Promise<StoredBackup[]> {
    const out: StoredBackup[] = [];
    // Listed directly, not after container.exists(): a container SAS may list blobs but not read the
    // container's properties. A container that does not exist holds no backups.
    try {
      for await (const blob of this.container.listBlobsFlat({ prefix, includeMetadata: true })) {
        if (isSidecar(blob.name)) continue;
        out.push({ name: blob.name, sizeBytes: blob.properties.contentLength ?? 0, metadata: blob.metadata ?? {} });
      }
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    return out;
  }

  async get(name: string): Promise<StoredBackup | undefined> {
    const client = this.container.getBlobClient(name);
    try {
      const props = await client.getProperties();
      return { name, sizeBytes: props.contentLength ?? 0, metadata: props.metadata ?? {} };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async *download(name: string): AsyncIterable<Uint8Array> {
    const response = await this.container.getBlobClient(name).download(0, undefined, { maxRetryRequests: 5 });
    yield* response.readableStreamBody as AsyncIterable<Buffer>;
  }

  async setMetadata(name: string, metadata: Record<string, string>): Promise<void> {
    const client = this.container.getBlobClient(name);
    const props = await client.getProperties();
    await client.setMetadata({ ...props.metadata, ...metadata }, { conditions: { ifMatch: props.etag } });
  }

  async writeText(name: string, text: string): Promise<void> {
    try {
      await this.container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), { blobHTTPHeaders: { blobContentType: 'application/json' }, conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      throw isConflict(error) ? exists(name) : error;
    }
  }

  async readText(name: string): Promise<string | undefined> {
    const client = this.container.getBlobClient(name);
    if (!(await client.exists())) return undefined;
    return (await client.downloadToBuffer()).toString('utf8');
  }

  async delete(name: string): Promise<void> {
    await this.container.getBlobClient(name).deleteIfExists({ deleteSnapshots: 'include' });
  }

  /**
   * Set after the commit, not with it: accounts with a hierarchical namespace have no index tags, and a
   * SAS may lack the `t` permission; either must not cost the backup, so a refusal is a warning.
   */
  async addTags(name: string, tags: Record<string, string>): Promise<void> {
    const client = this.container.getBlobClient(name);
    try {
      const current = (await client.getTags()).tags;
      await client.setTags({ ...current, ...Object.fromEntries(Object.entries(tags).map(([k, v]) => [k, tagValue(v)])) });
    } catch (error) {
      core.warning(`Blob index tags were not set on ${name}: ${(error as Error).message.split('\n')[0]} (the backup is stored; tags need an account without hierarchical namespace and, with a SAS, the 't' permission)`);
    }
  }
}

/**
 * A folder on the runner (or a mounted share): data is written to `<name>.partial` and linked to its
 * name when complete, so a failed run leaves no file that looks like a backup and an existing file is
 * never replaced; metadata sits in `<name>.meta.json`.
 */
export class LocalStore implements BackupStore {
  constructor(private readonly root: string) {}

  /** Never outside the root, whatever the name holds (`..`, an absolute path, backslashes on Windows). */
  private path(name: string): string {
    const path = resolve(this.root, ...name.split('/'));
    const inside = relative(resolve(this.root), path);
    if (!inside || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) throw new Error(`${JSON.stringify(name)} is outside local-path; nothing was written or read`);
    return path;
  }

  locate(name: string): string {
    return this.path(name);
  }

  async upload(name: string, source: AsyncIterable<Uint8Array>, options: UploadOptions) {
    const path = this.path(name);
    if (existsSync(path)) throw exists(name);
    mkdirSync(dirname(path), { recursive: true });
    const partial = `${path}.partial`;
    const meta = `${path}.meta.json`;
    const fd = openPartial(partial, name);
    const hash = createHash('sha256');
    let size = 0;
    let wroteMeta = false;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            size += chunk.length;
            options.onProgress?.(size);
            yield chunk;
          }
        },
        createWriteStream(partial, { fd }),
      );
      const result = { sizeBytes: size, sha256: hash.digest('hex') };
      const extra = (await options.beforeCommit?.(result)) ?? {};
      writeFileSync(meta, JSON.stringify({ ...options.metadata, ...extra }, null, 2), { flag: 'wx' });
      wroteMeta = true;
      commitFile(partial, path, name);
      return result;
    } catch (error) {
      rmSync(partial, { force: true });
      if (wroteMeta) rmSync(meta, { force: true });
      throw error;
    }
  }

  /**
   * Only string values of a JSON object: a damaged or hand-edited `.meta.json` holds no metadata, so the
   * file counts as no backup-db backup (as a blob without metadata would) and cannot stop listing.
   */
  private meta(name: string): Record<string, string> {
    const file = `${this.path(name)}.meta.json`;
    if (!existsSync(file)) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
  }

  async list(prefix: string): Promise<StoredBackup[]> {
    const out: StoredBackup[] = [];
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else {
          const name = relative(this.root, full).split(sep).join('/');
          if (!isSidecar(name) && name.startsWith(prefix)) out.push({ name, sizeBytes: statSync(full).size, metadata: this.meta(name) });
        }
      }
    };
    walk(this.root);
    return out;
  }

  async get(name: string): Promise<StoredBackup | undefined> {
    const path = this.path(name);
    return existsSync(path) ? { name, sizeBytes: statSync(path).size, metadata: this.meta(name) } : undefined;
  }

  download(name: string): AsyncIterable<Uint8Array> {
    return createReadStream(this.path(name));
  }

  async setMetadata(name: string, metadata: Record<string, string>): Promise<void> {
    writeFileSync(`${this.path(name)}.meta.json`, JSON.stringify({ ...this.meta(name), ...metadata }, null, 2));
  }

  async writeText(name: string, text: string): Promise<void> {
    mkdirSync(dirname(this.path(name)), { recursive: true });
    try {
      writeFileSync(this.path(name), text, { flag: 'wx' });
    } catch (error) {
      throw (error as NodeJS.ErrnoException).code === 'EEXIST' ? exists(name) : error;
    }
  }

  async readText(name: string): Promise<string | undefined> {
    return existsSync(this.path(name)) ? readFileSync(this.path(name), 'utf8') : undefined;
  }

  async delete(name: string): Promise<void> {
    rmSync(this.path(name), { force: true });
    rmSync(`${this.path(name)}.meta.json`, { force: true });
  }
}

/** `wx`: a second run writing the same name fails here instead of sharing (and then removing) the file. */
function openPartial(partial: string, name: string): number {
  try {
    return openSync(partial, 'wx');
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'EEXIST' ? exists(name) : error;
  }
}

/**
 * Gives the finished file its name only if the name is free: a hard link fails when it exists, where a
 * rename would replace it. A file system without hard links (exFAT, some shares) gets a checked rename.
 */
function commitFile(partial: string, path: string, name: string): void {
  try {
    linkSync(partial, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' || existsSync(path)) throw exists(name);
    renameSync(partial, path);
    return;
  }
  rmSync(partial);
}
