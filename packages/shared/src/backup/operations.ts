import { createHash } from 'node:crypto';
import * as core from '@actions/core';
import { InputError } from '../inputs';
import { compressStream, decompressStream, EXTENSIONS, type Compression } from './compression';
import { decryptStream, encryptStream, type DecryptionKeys, type EncryptionKeys } from './encryption';
import { checkClientReads, checkDump, dump, DUMP_EXTENSIONS, restore, restoreAndCompare, type Engine, type Selection } from './engines';
import type { Manifest } from './manifest';
import { PgClientTooOld, type PgClient } from './postgres-client';
import { ALL_DATABASES, backupBlobName, backupGroup, checkBackupName, encodeDatabaseSet, groupFolder, isBackupIn, legacyGroupFolder, type BackupGroup } from './naming';
import { decideRetention, hasRetention, isFutureDated, type RetentionPolicy } from './retention';
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
  /** The exact set as in names (`shop%20db`, `a+b`, `~all`), `server` (`host:port`) and `prefix` (percent-encoded): what groups a backup. */
  databaseSet: 'database_set',
  server: 'server',
  prefix: 'prefix',
  /** When and why a verification failed: such a backup is never `latest` and never counts for retention. */
  verifyFailedAt: 'verify_failed_at',
  verifyFailure: 'verify_failure',
  /** PostgreSQL: the version of the pg_dump that wrote the backup (`17.10`); an older client cannot read it. Absent from backups made before 2026-12. */
  pgDumpVersion: 'pg_dump_version',
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
  /** PostgreSQL's client, chosen for the servers of the step (choosePgClient). */
  pgClient?: PgClient;
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
  const group = backupGroup(req.engine, req.uri, req.selection, req.prefix);
  const encrypted = Boolean(req.encryption.recipients?.length || req.encryption.passphrase);
  const extension = `${DUMP_EXTENSIONS[req.engine]}${EXTENSIONS[req.compression]}${encrypted ? '.age' : ''}`;
  const name = backupBlobName({ ...group, createdAt, runId: req.runId, extension });
  const dumped = dump(req.engine, req.uri, req.selection, req.tool, req.pgClient);
  const { stream, manifest } = dumped;

  let raw = 0;
  let uploaded = 0;
  let wroteManifest = false;
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
        [META.databases]: encodeURIComponent(group.label),
        [META.databaseSet]: encodeDatabaseSet(group.databases),
        [META.server]: group.server,
        // Azure keeps no empty metadata value: no prefix is no `prefix`.
        ...(group.prefix ? { [META.prefix]: encodeURIComponent(group.prefix) } : {}),
        [META.createdAt]: createdAt.toISOString(),
        [META.compression]: req.compression,
        [META.encryption]: req.encryption.recipients?.length ? 'age-x25519' : req.encryption.passphrase ? 'age-scrypt' : 'none',
        [META.tool]: req.tool,
        ...(req.runUrl ? { [META.runUrl]: req.runUrl } : {}),
      },
      beforeCommit: async ({ sha256 }) => {
        if (raw === 0) throw new Error('the dump came out empty (0 bytes); nothing was stored');
        await req.store.writeText(manifestName(name), JSON.stringify(manifest, null, 2));
        wroteManifest = true;
        return { [META.sha256]: sha256, [META.rawSize]: String(raw), ...(dumped.pgDumpVersion ? { [META.pgDumpVersion]: dumped.pgDumpVersion } : {}) };
      },
    }).catch(async (error: unknown) => {
      // A commit that failed after the manifest was written leaves no manifest without its backup.
      if (wroteManifest) await req.store.delete(manifestName(name)).catch(() => undefined);
      throw error;
    });
    await req.store.addTags?.(name, { [META.engine]: req.engine, [META.databases]: group.label, [META.createdAt]: createdAt.toISOString(), [META.tool]: req.tool });
    return { name, url: req.store.locate(name), sizeBytes: result.sizeBytes, rawSizeBytes: raw, sha256: result.sha256, durationSeconds: (performance.now() - started) / 1000, manifest };
  } finally {
    clearInterval(progress);
  }
}

export type VerifyMode = 'checksum' | 'restore' | 'none';

/**
 * A verification that read the backup and found it wrong: its bytes differ from their SHA-256, its dump
 * does not parse, or its test restore differs from its manifest. Only this marks a backup as failed; a
 * verification that could not run (verify server unreachable or refusing the login, a wrong key, a
 * restore tool's error) proves nothing about the backup.
 */
export class VerificationFailed extends Error {
  override name = 'VerificationFailed';
}

export interface VerifyRequest {
  store: BackupStore;
  backup: StoredBackup;
  mode: Exclude<VerifyMode, 'none'>;
  decryption: DecryptionKeys;
  verifyUri?: string;
  pgClient?: PgClient;
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
  // A client too old for the backup proves nothing about it: refused before the download.
  checkClientReads(engine, req.backup.metadata[META.pgDumpVersion], req.pgClient);
  const hashed = hashing(req.store.download(req.backup.name));
  const plain = await plainStream(req.backup, hashed.stream, req.decryption);
  let problems: string[] = [];
  try {
    if (req.mode === 'checksum') {
      // The key opened the header (plainStream), so a dump that does not parse to its end is the backup's
      // fault, unless the client is too old to read it (a backup that does not record its pg_dump).
      await checkDump(engine, plain, req.pgClient).catch((error: unknown) => {
        if (error instanceof PgClientTooOld) throw error;
        throw new VerificationFailed(`${req.backup.name} does not read to its end: ${(error as Error).message}`, { cause: error });
      });
    } else {
      if (!req.verifyUri) throw new Error('verify: restore needs verify-uri, a server to restore a scratch copy into');
      const manifest = await readManifest(req.store, req.backup.name);
      if (!manifest) throw new Error(`${req.backup.name} has no manifest (${manifestName(req.backup.name)}), so a restore cannot be compared`);
      problems = await restoreAndCompare(engine, plain, req.verifyUri, manifest, req.pgClient);
    }
  } finally {
    // Even when parsing failed, a checksum mismatch is the clearer report: it says the bytes changed.
    const actual = await hashed.finish().catch(() => undefined);
    if (actual !== undefined && actual !== expected) {
      // eslint-disable-next-line no-unsafe-finally
      throw new VerificationFailed(`checksum mismatch for ${req.backup.name}: stored sha256 ${expected}, downloaded ${actual}; the backup is damaged`);
    }
  }
  if (problems.length) throw new VerificationFailed(`the test restore of ${req.backup.name} differs from its manifest:\n- ${problems.join('\n- ')}`);
  const verifiedAt = new Date().toISOString();
  await req.store.setMetadata(req.backup.name, { [META.verifiedAt]: verifiedAt });
  await req.store.addTags?.(req.backup.name, { [META.verifiedAt]: verifiedAt });
  return { verifiedAt };
}

/** A backup whose verification failed: never `latest`, never counted by retention. */
export const verificationFailed = (backup: StoredBackup): boolean => Boolean(backup.metadata[META.verifyFailedAt]);

/** Metadata values are percent-encoded; one that does not decode was not written by backup-db (undefined). */
function decoded(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** Text read from the store, for the log and the summary: control characters shown as escapes (a newline would start a workflow command). */
// eslint-disable-next-line no-control-regex
export const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).slice(0, 300);

/** When a backup was made, from its metadata; undefined when that is missing or no date. */
function createdAt(backup: StoredBackup): Date | undefined {
  const time = Date.parse(backup.metadata[META.createdAt] ?? '');
  return Number.isFinite(time) ? new Date(time) : undefined;
}

/**
 * Whether a listed file can be a backup at all: made by backup-db, it has a SHA-256 and a date, and its
 * name no control character. Anything else in a group's folder is never chosen, counted or deleted.
 */
// eslint-disable-next-line no-control-regex
const isBackup = (b: StoredBackup): boolean => Boolean(b.metadata[META.sha256]) && createdAt(b) !== undefined && !/[\u0000-\u001f\u007f]/.test(b.name);

/**
 * Labels made before 2026-12 that two MongoDB sets shared: `a+b` (the set a, b or a database named
 * `a+b`) and `all` (every database or one named `all`). The manifest's databases tell them apart: the
 * backup belongs to the group when it holds only the group's databases (or, for every database, any
 * other than `all` alone). No manifest, or one of `all` alone under the label `all`, fits both: such a
 * backup belongs to neither and is left alone.
 */
async function legacySetMatches(store: BackupStore, group: BackupGroup, backup: StoredBackup): Promise<boolean | undefined> {
  if (group.engine !== 'mongodb' || (group.label !== ALL_DATABASES && !group.label.includes('+'))) return true;
  const manifest = await readManifest(store, backup.name).catch(() => undefined);
  const held: unknown[] = Array.isArray(manifest?.databases) ? manifest.databases : [];
  if (held.length === 0 || (group.label === ALL_DATABASES && held.every((d) => d === ALL_DATABASES))) return undefined;
  const set = group.databases;
  return set === ALL_DATABASES || held.every((d) => typeof d === 'string' && set.includes(d));
}

export interface GroupListing {
  /** The group's backups, newest first (failed verifications included). */
  backups: StoredBackup[];
  /**
   * Backups made before backups recorded their server (same prefix, engine and databases label) that
   * cannot be given to this group: the group's folder also holds backups of another server, or the label
   * was one two MongoDB sets shared and the manifest does not tell which. Never chosen, never pruned.
   */
  unattributed: StoredBackup[];
  /** Those of `backups` made before backups recorded their server: which server made them is a guess. */
  legacy: StoredBackup[];
  /** The servers the group's backups come from (more than one only when the group names no server). */
  servers: string[];
}

/**
 * The backups of one group, chosen by their metadata: engine, exact database set, server and prefix,
 * in the group's folder. Backups made before 2026-12 (no `server`; `databases` holds the label, in the
 * lossy folder of its day) are matched by their label and belong to the group unless the folder holds
 * backups of another server too. Files that cannot be backups (isBackup) or whose metadata does not
 * decode belong to no group.
 */
export async function listGroup(store: BackupStore, group: BackupGroup): Promise<GroupListing> {
  const folders = [...new Set([groupFolder(group), legacyGroupFolder(group)])];
  const listed = new Map((await Promise.all(folders.map((f) => store.list(f)))).flat().map((b) => [b.name, b]));
  const set = encodeDatabaseSet(group.databases);
  const current: StoredBackup[] = [];
  const legacy: StoredBackup[] = [];
  const ambiguous: StoredBackup[] = [];
  for (const b of listed.values()) {
    const m = b.metadata;
    if (m[META.engine] !== group.engine || !isBackup(b)) continue;
    if (m[META.server] !== undefined) {
      if (isBackupIn(groupFolder(group), b.name) && m[META.databaseSet] === set && decoded(m[META.prefix] ?? '') === group.prefix) current.push(b);
    } else if (isBackupIn(legacyGroupFolder(group), b.name) && decoded(m[META.databases]) === group.label) {
      const matches = await legacySetMatches(store, group, b);
      if (matches) legacy.push(b);
      else if (matches === undefined) ambiguous.push(b);
    }
  }
  const servers = [...new Set(current.map((b) => b.metadata[META.server] as string))].sort();
  const ours = group.server === undefined ? current : current.filter((b) => b.metadata[META.server] === group.server);
  const attributable = group.server === undefined ? servers.length <= 1 : servers.every((s) => s === group.server);
  const time = (b: StoredBackup) => createdAt(b)?.getTime() ?? 0;
  const newestFirst = (list: StoredBackup[]) => list.sort((a, b) => time(b) - time(a) || b.name.localeCompare(a.name));
  return {
    backups: newestFirst(attributable ? [...ours, ...legacy] : ours),
    unattributed: newestFirst(attributable ? ambiguous : [...legacy, ...ambiguous]),
    legacy: attributable ? newestFirst(legacy) : [],
    servers: group.server === undefined ? servers : [group.server],
  };
}

const describeGroup = (group: BackupGroup) =>
  `${group.engine} ${group.label}${group.server ? ` on ${group.server}` : ''}${group.prefix ? ` under prefix ${group.prefix}` : ''}`;

/**
 * `latest` (the newest backup of the group whose verification did not fail, passing over any dated in
 * the future unless there is no other) or a backup's name, and why it was chosen. With no server in the
 * group and backups of several servers, `latest` is refused.
 */
export async function findBackup(store: BackupStore, which: string, group: BackupGroup, now = new Date()): Promise<{ backup: StoredBackup; why: string }> {
  if (which && which !== 'latest') {
    const found = await store.get(checkBackupName(which));
    if (!found) throw new Error(`backup ${which} does not exist (input 'backup')`);
    return { backup: found, why: "named by input 'backup'" };
  }
  const { backups, servers } = await listGroup(store, group);
  if (servers.length > 1) {
    throw new InputError('uri', '', `the URI of the server the backup was made from (it is only read for its host and port): this prefix holds backups of ${group.engine} ${group.label} from ${servers.join(', ')}`);
  }
  const usable = backups.filter((b) => !verificationFailed(b));
  const future = (b: StoredBackup) => isFutureDated(createdAt(b) ?? now, now);
  const chosen = usable.find((b) => !future(b)) ?? usable[0];
  const reason = (b: StoredBackup) => printable(decoded(b.metadata[META.verifyFailure]) ?? 'no reason recorded');
  if (!chosen) {
    const failed = backups[0];
    if (!failed) throw new Error(`there is no backup of ${describeGroup(group)} (check prefix, engine, databases and the server in the URI)`);
    throw new Error(`every backup of ${describeGroup(group)} failed verification (the newest, ${failed.name}: ${reason(failed)})`);
  }
  const skipped = backups.slice(0, backups.indexOf(chosen));
  const verifiedAt = chosen.metadata[META.verifiedAt];
  const verified = verifiedAt ? `verified at ${printable(verifiedAt)}` : 'not verified';
  const unknownServer = chosen.metadata[META.server] === undefined ? '; made before backups recorded their server' : '';
  const dated = future(chosen) ? `; dated in the future (${createdAt(chosen)?.toISOString()}), but no other backup is usable` : '';
  const why = [`the newest of ${usable.length} backup${usable.length === 1 ? '' : 's'} of ${describeGroup(group)} that did not fail verification, ${verified}${unknownServer}${dated}`]
    .concat(
      skipped.map((b) =>
        verificationFailed(b)
          ? `skipped the newer ${b.name}: verification failed at ${printable(b.metadata[META.verifyFailedAt] ?? '')} (${reason(b)})`
          : `skipped ${b.name}: dated in the future (${createdAt(b)?.toISOString()}; now ${now.toISOString()}), by a wrong clock or by hand`,
      ),
    )
    .join('; ');
  return { backup: chosen, why };
}

export interface RestoreRequest {
  store: BackupStore;
  backup: StoredBackup;
  targetUri: string;
  drop: boolean;
  decryption: DecryptionKeys;
  pgClient?: PgClient;
}

/**
 * Restores a backup from one download, and the SHA-256 of the very bytes restored must match the
 * backup's metadata before the target is committed to (PostgreSQL: before COMMIT; MySQL and MongoDB:
 * before the swap from staging). A damaged or changed blob, a wrong key or any failure on the way
 * leaves the target as it was.
 */
export async function restoreBackup(req: RestoreRequest): Promise<void> {
  const engine = engineOfBackup(req.backup);
  const expected = req.backup.metadata[META.sha256];
  if (!expected) throw new Error(`${req.backup.name} has no sha256 in its metadata, so what would be restored cannot be checked; nothing was changed`);
  checkClientReads(engine, req.backup.metadata[META.pgDumpVersion], req.pgClient);
  const manifest = await readManifest(req.store, req.backup.name);
  const hashed = hashing(req.store.download(req.backup.name));
  const mismatch = (actual: string) => `checksum mismatch for ${req.backup.name}: stored sha256 ${expected}, downloaded ${actual}; the backup is damaged or was changed`;
  try {
    const plain = await plainStream(req.backup, hashed.stream, req.decryption);
    await restore(engine, plain, req.targetUri, {
      pgClient: req.pgClient,
      drop: req.drop,
      manifest,
      beforeCommit: async () => {
        const actual = await hashed.finish();
        if (actual !== expected) throw new Error(mismatch(actual));
      },
    });
  } catch (error) {
    // Changed bytes explain a failure best; a refusal (`drop`) is about the target, not the bytes.
    if (error instanceof InputError) throw error;
    const actual = await hashed.finish().catch(() => undefined);
    if (actual !== undefined && actual !== expected) throw new Error(`${mismatch(actual)}; nothing was changed`, { cause: error });
    throw error;
  }
}

export interface PruneResult {
  deleted: string[];
  kept: { name: string; reasons: string[] }[];
  /** Backups of the group's databases made before servers were recorded that retention left alone (see listGroup). */
  unattributed: string[];
  /** Backups made before servers were recorded that retention kept because `pruneLegacy` was not given. */
  legacyKept: string[];
}

/**
 * Applies retention to one group, listed here by its metadata so no other group's backup is ever
 * counted or deleted. The newest verified backup and those in `keep` (the one this run made) are never
 * deleted; failed verifications never count (see decideRetention). Backups made before servers were
 * recorded count and may be deleted only with `pruneLegacy`, the caller's word that they are this
 * server's: the first server to run would otherwise take another server's old backups for its own.
 */
export async function pruneBackups(
  store: BackupStore,
  group: BackupGroup,
  policy: RetentionPolicy,
  options: { dryRun: boolean; keep?: readonly string[]; now?: Date; pruneLegacy?: boolean },
): Promise<PruneResult> {
  const listing = await listGroup(store, group);
  const ignored = listing.unattributed.map((b) => b.name);
  const legacyKept = options.pruneLegacy ? [] : listing.legacy.map((b) => b.name);
  const backups = listing.backups.filter((b) => !legacyKept.includes(b.name));
  if (!hasRetention(policy)) return { deleted: [], kept: backups.map((b) => ({ name: b.name, reasons: ['no retention rule'] })), unattributed: ignored, legacyKept };
  const entries = backups.map((b) => ({ name: b.name, createdAt: createdAt(b) ?? new Date(0), verified: Boolean(b.metadata[META.verifiedAt]), failed: verificationFailed(b) }));
  const decision = decideRetention(entries, policy, options.now, options.keep);
  for (const entry of decision.delete) {
    if (options.dryRun) continue;
    await store.delete(entry.name);
    await store.delete(manifestName(entry.name));
  }
  return { deleted: decision.delete.map((e) => e.name), kept: decision.keep.map((k) => ({ name: k.entry.name, reasons: k.reasons })), unattributed: ignored, legacyKept };
}
