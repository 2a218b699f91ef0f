import { createHash } from 'node:crypto';
import * as core from '@actions/core';
import { compressStream, decompressStream, EXTENSIONS, type Compression } from './compression';
import { decryptStream, encryptStream, type DecryptionKeys, type EncryptionKeys } from './encryption';
import { checkDump, dump, DUMP_EXTENSIONS, restore, restoreAndCompare, databaseLabel, type Engine, type Selection } from './engines';
import type { Manifest } from './manifest';
import { backupBlobName, backupGroupPrefix } from './naming';
import { decideRetention, hasRetention, type RetentionPolicy } from './retention';
import { manifestName, type BackupStore, type StoredBackup } from './store';

/** Azure metadata names must be C# identifiers, so `verified_at`, not `verified-at`. */
export const META = {
  sha256: 'sha256',
  engine: 'engine',
  databases: 'databases',
  createdAt: 'created_at',
  rawSize: 'raw_size',
  compression: 'compression',
  encryption: 'encryption',
  tool: 'tool',
  runUrl: 'run_url',
  verifiedAt: 'verified_at',
} as const;

export interface BackupRequest {
  engine: Engine;
  uri: string;
  selection: Selection;
  store: BackupStore;
  prefix: string;
  compression: Compression;
  compressionLevel?: number;
  encryption: EncryptionKeys;
  blockSize?: number;
  concurrency?: number;
  runId: string;
  runUrl?: string;
  tool: string;
  now?: Date;
  /** Seconds between progress lines (default 10). */
  progressEvery?: number;
}

export interface BackupResult {
  name: string;
  url: string;
  sizeBytes: number;
  rawSizeBytes: number;
  sha256: string;
  durationSeconds: number;
  manifest: Manifest;
}

const MiB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** Counts bytes as they pass. */
async function* counted(source: AsyncIterable<Uint8Array>, add: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    add(chunk.length);
    yield chunk;
  }
}

/**
 * One stream: dump → compress → encrypt → upload (SHA-256 on the way). The manifest is written next to
 * the backup just before the backup is committed, so a visible backup always has its manifest, and a
 * dump that fails or comes out empty commits nothing.
 */
export async function runBackup(req: BackupRequest): Promise<BackupResult> {
  const started = performance.now();
  const createdAt = req.now ?? new Date();
  const database = databaseLabel(req.engine, req.uri, req.selection);
  const encrypted = Boolean(req.encryption.recipients?.length || req.encryption.passphrase);
  const extension = `${DUMP_EXTENSIONS[req.engine]}${EXTENSIONS[req.compression]}${encrypted ? '.age' : ''}`;
  const name = backupBlobName({ prefix: req.prefix, engine: req.engine, database, createdAt, runId: req.runId, extension });
  const { stream, manifest } = dump(req.engine, req.uri, req.selection, req.tool);

  let raw = 0;
  let uploaded = 0;
  const progress = setInterval(() => {
    const seconds = (performance.now() - started) / 1000;
    core.info(`… dumped ${mib(raw)}, uploaded ${mib(uploaded)}, ${(raw / MiB / seconds).toFixed(1)} MB/s`);
  }, (req.progressEvery ?? 10) * 1000);
  try {
    const compressed = compressStream(counted(stream, (n) => (raw += n)), req.compression, req.compressionLevel);
    const data = encrypted ? await encryptStream(compressed, req.encryption) : compressed;
    const result = await req.store.upload(name, data, {
      blockSize: req.blockSize,
      concurrency: req.concurrency,
      onProgress: (n) => (uploaded = n),
      metadata: {
        [META.engine]: req.engine,
        [META.databases]: encodeURIComponent(database),
        [META.createdAt]: createdAt.toISOString(),
        [META.compression]: req.compression,
        [META.encryption]: req.encryption.recipients?.length ? 'age-x25519' : req.encryption.passphrase ? 'age-scrypt' : 'none',
        [META.tool]: req.tool,
        ...(req.runUrl ? { [META.runUrl]: req.runUrl } : {}),
      },
      beforeCommit: async ({ sha256 }) => {
        if (raw === 0) throw new Error('the dump came out empty (0 bytes); nothing was stored');
        await req.store.writeText(manifestName(name), JSON.stringify(manifest, null, 2));
        return { [META.sha256]: sha256, [META.rawSize]: String(raw) };
      },
    });
    await req.store.addTags?.(name, { [META.engine]: req.engine, [META.databases]: database, [META.createdAt]: createdAt.toISOString(), [META.tool]: req.tool });
    return { name, url: req.store.locate(name), sizeBytes: result.sizeBytes, rawSizeBytes: raw, sha256: result.sha256, durationSeconds: (performance.now() - started) / 1000, manifest };
  } finally {
    clearInterval(progress);
  }
}

export type VerifyMode = 'checksum' | 'restore' | 'none';

export interface VerifyRequest {
  store: BackupStore;
  backup: StoredBackup;
  mode: Exclude<VerifyMode, 'none'>;
  decryption: DecryptionKeys;
  verifyUri?: string;
}

/** Hashes what passes, and after the consumer stops, reads the rest so the hash covers everything. */
function hashing(source: AsyncIterable<Uint8Array>): { stream: AsyncGenerator<Uint8Array>; finish: () => Promise<string> } {
  const hash = createHash('sha256');
  const iterator = source[Symbol.asyncIterator]();
  let done = false;
  async function* stream(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        done = true;
        return;
      }
      hash.update(next.value);
      yield next.value;
    }
  }
  return {
    stream: stream(),
    finish: async () => {
      while (!done) {
        const next = await iterator.next();
        if (next.done) done = true;
        else hash.update(next.value);
      }
      return hash.digest('hex');
    },
  };
}

function engineOfBackup(backup: StoredBackup): Engine {
  const engine = backup.metadata[META.engine];
  if (engine === 'mongodb' || engine === 'postgres' || engine === 'mysql') return engine;
  throw new Error(`${backup.name} has no engine in its metadata; it was not made by backup-db`);
}

/** The plain dump of a stored backup: download → decrypt → decompress. */
async function plainStream(backup: StoredBackup, source: AsyncIterable<Uint8Array>, keys: DecryptionKeys): Promise<AsyncIterable<Uint8Array>> {
  const encryption = backup.metadata[META.encryption] ?? (backup.name.endsWith('.age') ? 'age' : 'none');
  let data = source;
  if (encryption !== 'none') {
    if (!keys.identities?.length && !keys.passphrase) {
      throw new Error(`${backup.name} is encrypted (${encryption}): set decryption-identity or decryption-passphrase`);
    }
    data = await decryptStream(data, keys);
  }
  const compression = (backup.metadata[META.compression] ?? 'gzip') as Compression;
  return decompressStream(data, compression);
}

async function readManifest(store: BackupStore, name: string): Promise<Manifest | undefined> {
  const text = await store.readText(manifestName(name));
  return text ? (JSON.parse(text) as Manifest) : undefined;
}

/**
 * Streams a backup back and proves it: the SHA-256 of the stored bytes must match its metadata, and the
 * dump must decrypt, decompress and parse to its end (`checksum`), or restore into scratch databases
 * with every count and hash equal to the manifest (`restore`). On success `verified_at` is recorded.
 */
export async function verifyBackup(req: VerifyRequest): Promise<{ verifiedAt: string }> {
  const engine = engineOfBackup(req.backup);
  const expected = req.backup.metadata[META.sha256];
  if (!expected) throw new Error(`${req.backup.name} has no sha256 in its metadata, so it cannot be verified`);
  const hashed = hashing(req.store.download(req.backup.name));
  const plain = await plainStream(req.backup, hashed.stream, req.decryption);
  let problems: string[] = [];
  try {
    if (req.mode === 'checksum') await checkDump(engine, plain);
    else {
      if (!req.verifyUri) throw new Error('verify: restore needs verify-uri, a server to restore a scratch copy into');
      const manifest = await readManifest(req.store, req.backup.name);
      if (!manifest) throw new Error(`${req.backup.name} has no manifest (${manifestName(req.backup.name)}), so a restore cannot be compared`);
      problems = await restoreAndCompare(engine, plain, req.verifyUri, manifest);
    }
  } finally {
    // Even when parsing failed, a checksum mismatch is the clearer report: it says the bytes changed.
    const actual = await hashed.finish().catch(() => undefined);
    if (actual !== undefined && actual !== expected) {
      // eslint-disable-next-line no-unsafe-finally
      throw new Error(`checksum mismatch for ${req.backup.name}: stored sha256 ${expected}, downloaded ${actual}; the backup is damaged`);
    }
  }
  if (problems.length) throw new Error(`the test restore of ${req.backup.name} differs from its manifest:\n- ${problems.join('\n- ')}`);
  const verifiedAt = new Date().toISOString();
  await req.store.setMetadata(req.backup.name, { [META.verifiedAt]: verifiedAt });
  await req.store.addTags?.(req.backup.name, { [META.verifiedAt]: verifiedAt });
  return { verifiedAt };
}

/** The backups of one group (prefix, engine, database), newest first. */
export async function listGroup(store: BackupStore, prefix: string, engine: Engine, database: string): Promise<StoredBackup[]> {
  const group = await store.list(backupGroupPrefix(prefix, engine, database));
  return group.sort((a, b) => (b.metadata[META.createdAt] ?? '').localeCompare(a.metadata[META.createdAt] ?? '') || b.name.localeCompare(a.name));
}

/** `latest` (the newest of the group) or a backup's name. */
export async function findBackup(store: BackupStore, which: string, group: () => Promise<StoredBackup[]>): Promise<StoredBackup> {
  if (which && which !== 'latest') {
    const found = await store.get(which);
    if (!found) throw new Error(`backup ${which} does not exist (input 'backup')`);
    return found;
  }
  const newest = (await group())[0];
  if (!newest) throw new Error('there is no backup to use: the group is empty (check prefix, engine and databases)');
  return newest;
}

export interface RestoreRequest {
  store: BackupStore;
  backup: StoredBackup;
  targetUri: string;
  drop: boolean;
  decryption: DecryptionKeys;
}

/**
 * Restores a backup. It is first verified end to end (checksum, decryption, parse), so a wrong key or
 * a damaged blob fails before the target is touched; then it is streamed again into the target.
 */
export async function restoreBackup(req: RestoreRequest): Promise<void> {
  const engine = engineOfBackup(req.backup);
  await verifyBackup({ store: req.store, backup: req.backup, mode: 'checksum', decryption: req.decryption });
  const manifest = await readManifest(req.store, req.backup.name);
  const plain = await plainStream(req.backup, req.store.download(req.backup.name), req.decryption);
  await restore(engine, plain, req.targetUri, manifest, req.drop);
}

export interface PruneResult {
  deleted: string[];
  kept: { name: string; reasons: string[] }[];
}

/** Applies retention to one group; the newest verified backup is never deleted (see decideRetention). */
export async function pruneBackups(store: BackupStore, backups: StoredBackup[], policy: RetentionPolicy, dryRun: boolean, now = new Date()): Promise<PruneResult> {
  if (!hasRetention(policy)) return { deleted: [], kept: backups.map((b) => ({ name: b.name, reasons: ['no retention rule'] })) };
  const entries = backups.map((b) => ({ name: b.name, createdAt: new Date(b.metadata[META.createdAt] ?? 0), verified: Boolean(b.metadata[META.verifiedAt]) }));
  const decision = decideRetention(entries, policy, now);
  for (const entry of decision.delete) {
    if (dryRun) continue;
    await store.delete(entry.name);
    await store.delete(manifestName(entry.name));
  }
  return { deleted: decision.delete.map((e) => e.name), kept: decision.keep.map((k) => ({ name: k.entry.name, reasons: k.reasons })) };
}
