import { hash, randomBytes } from 'node:crypto';
import { BSON, EJSON } from 'bson';
import type { Document, MongoClient } from 'mongodb';
import * as core from '@actions/core';
import { InputError, checkDatabaseUri } from '../../inputs';
import { formatDatabaseUri, redact } from '../../secrets/index';
import { compareManifest, type Manifest, type ManifestObject } from '../manifest';
import { selector } from '../glob';
import { encodeEof, encodePrelude, encodeSegment, readArchive, type CollectionMetadata } from './archive';
import { Crc64 } from './crc64';

const SYSTEM_DATABASES = new Set(['admin', 'local', 'config']);
/** Documents per archive segment are cut at about this many bytes; mongorestore reads any size. */
const SEGMENT_BYTES = 1024 * 1024;

export interface MongoSelection {
  /** Databases to dump; empty: the URI's database, else every database but admin, local and config. */
  databases?: string[];
  include?: string[];
  exclude?: string[];
}

/** The database a `mongodb://` URI names in its path, if any. */
export function mongoUriDatabase(uri: string, input = 'uri'): string | undefined {
  return checkDatabaseUri(input, uri, 'mongodb').database || undefined;
}

export async function connectMongo(uri: string, input = 'uri'): Promise<MongoClient> {
  // The driver gets the URI rebuilt fully encoded: it refuses a password with `/`, `?` or `@` as written.
  const canonical = formatDatabaseUri(checkDatabaseUri(input, uri, 'mongodb'), { password: true });
  const { MongoClient } = await import('mongodb');
  let client: MongoClient;
  try {
    client = new MongoClient(canonical, { serverSelectionTimeoutMS: 15_000, appName: 'slipway-backup-db' });
  } catch (error) {
    throw new InputError(input, uri, `a valid MongoDB connection string (${redact((error as Error).message)})`, true);
  }
  await client.connect();
  return client;
}

/**
 * Sums SHA-256 digests of documents modulo 2^256: the same documents in any order give the same hash.
 * The sum is kept in eight 32-bit limbs and digests come from the one-shot hash, so a document costs
 * one 32-byte digest and no other allocation: this runs once per document of every backup.
 */
export class ContentHash {
  private readonly limbs = new Uint32Array(8);
  add(document: Uint8Array): void {
    const digest = hash('sha256', document, 'buffer');
    let carry = 0;
    for (let i = 7; i >= 0; i--) {
      const sum = (this.limbs[i] as number) + digest.readUInt32BE(i * 4) + carry;
      this.limbs[i] = sum >>> 0;
      carry = sum > 0xffffffff ? 1 : 0;
    }
  }
  hex(): string {
    return Array.from(this.limbs, (limb) => limb.toString(16).padStart(8, '0')).join('');
  }
}

/**
 * Documents copied into one buffer as they arrive. Each raw document is a view into the driver's reply;
 * holding a segment's worth of views would keep the replies and their wrappers alive until V8 promotes
 * them to the old generation, which then grows with the data. Copied, they die young.
 */
class SegmentBuffer {
  private buffer = Buffer.allocUnsafe(SEGMENT_BYTES + 64 * 1024);
  size = 0;
  add(document: Uint8Array): number {
    if (this.size + document.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.size + document.length));
      this.buffer.copy(grown, 0, 0, this.size);
      this.buffer = grown;
    }
    this.buffer.set(document, this.size);
    return (this.size += document.length);
  }
  take(): Buffer {
    const taken = this.buffer.subarray(0, this.size);
    this.buffer = Buffer.allocUnsafe(SEGMENT_BYTES + 64 * 1024);
    this.size = 0;
    return taken;
  }
}

interface Planned {
  db: string;
  name: string;
  type: 'collection' | 'view' | 'timeseries';
  /** Where the documents are read from: the collection, or for time series its buckets. */
  source: string;
  metadata: CollectionMetadata;
}

const LOCKS = 'slipway_restore_lock';
/** A running restore's lock and staging collections (see lockDatabases): its work, not the database's content. */
const RESTORE_WORK = new RegExp(`^(${LOCKS}$|slipway_restore_[0-9a-f]{8}_)`);

async function plan(client: MongoClient, selection: MongoSelection, uriDatabase: string | undefined): Promise<Planned[]> {
  let databases = selection.databases?.length ? selection.databases : uriDatabase ? [uriDatabase] : [];
  if (databases.length === 0) {
    const listed = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    databases = (listed.databases as { name: string }[]).map((d) => d.name).filter((n) => !SYSTEM_DATABASES.has(n)).sort();
  }
  const selected = selector(selection.include ?? [], selection.exclude ?? []);
  const planned: Planned[] = [];
  for (const db of databases) {
    const infos = await client.db(db).listCollections({}, { nameOnly: false }).toArray();
    for (const info of infos.sort((a, b) => a.name.localeCompare(b.name))) {
      if (info.name.startsWith('system.') || RESTORE_WORK.test(info.name) || !selected(`${db}.${info.name}`, info.name)) continue;
      const type = info.type === 'view' ? 'view' : info.type === 'timeseries' ? 'timeseries' : 'collection';
      const indexes = type === 'view' ? [] : (await client.db(db).collection(info.name).listIndexes().toArray()).map(({ ns: _ns, ...index }: Document) => index);
      const uuid = (info as { info?: { uuid?: { toString(encoding: 'hex'): string } } }).info?.uuid?.toString('hex');
      const metadata = { options: info.options ?? {}, indexes, ...(uuid ? { uuid } : {}), collectionName: info.name, ...(type === 'collection' ? {} : { type }) };
      planned.push({
        db,
        name: info.name,
        type,
        source: type === 'timeseries' ? `system.buckets.${info.name}` : info.name,
        metadata: {
          db,
          collection: info.name,
          metadata: EJSON.stringify(metadata, { relaxed: false }),
          size: 0,
          type: type === 'collection' ? '' : type,
        },
      });
    }
  }
  return planned;
}

export interface MongoDump {
  /** The archive bytes. */
  stream: AsyncGenerator<Buffer>;
  /** Filled in as the stream is read; complete when it ends. */
  manifest: Manifest;
}

/**
 * Dumps databases as a mongodump archive, reading raw BSON from the driver (documents are never
 * decoded), one collection after another; memory holds one segment. The manifest gets each
 * collection's count and content hash.
 */
export function dumpMongo(uri: string, selection: MongoSelection, tool: string): MongoDump {
  const uriDatabase = mongoUriDatabase(uri);
  const manifest: Manifest = { engine: 'mongodb', databases: [], tool, objects: [] };
  async function* generate(): AsyncGenerator<Buffer> {
    const client = await connectMongo(uri);
    try {
      const build = await client.db('admin').command({ buildInfo: 1 });
      manifest.serverVersion = String(build.version);
      const planned = await plan(client, selection, uriDatabase);
      manifest.databases = [...new Set(planned.map((p) => p.db))];
      if (planned.length === 0) throw new Error('there is nothing to back up: no collection matched (check `databases`, `include` and `exclude`)');
      for (const p of planned) p.metadata.size = p.type === 'view' ? 0 : await client.db(p.db).collection(p.source).estimatedDocumentCount();
      yield encodePrelude({ concurrent_collections: 1, version: '0.1', server_version: manifest.serverVersion, tool_version: tool }, planned.map((p) => p.metadata));
      for (const p of planned) {
        const crc = new Crc64();
        const hash = new ContentHash();
        let count = 0;
        if (p.type !== 'view') {
          const segment = new SegmentBuffer();
          const cursor = client.db(p.db).collection(p.source).find({}, { raw: true, batchSize: 1000 });
          for await (const raw of cursor as AsyncIterable<unknown> as AsyncIterable<Buffer>) {
            crc.update(raw);
            hash.add(raw);
            count++;
            if (segment.add(raw) >= SEGMENT_BYTES) yield encodeSegment(p.db, p.name, [segment.take()]);
          }
          if (segment.size) yield encodeSegment(p.db, p.name, [segment.take()]);
        }
        yield encodeEof(p.db, p.name, crc.digest());
        manifest.objects.push({ database: p.db, name: p.name, kind: p.type, count, ...(p.type === 'view' ? {} : { hash: hash.hex() }) });
      }
    } finally {
      await client.close();
    }
  }
  return { stream: generate(), manifest };
}

const exists = async (client: MongoClient, db: string, name: string) => (await client.db(db).listCollections({ name }, { nameOnly: true }).toArray()).length > 0;

/**
 * Counts and content hashes of the given collections as they are now, to compare with a manifest;
 * `collection` maps a name to the one it is under (a staging name; time series stay in place).
 */
export async function inventoryMongo(uri: string, objects: readonly ManifestObject[], rename: (db: string) => string = (d) => d, collection: (name: string) => string = (c) => c): Promise<ManifestObject[]> {
  const client = await connectMongo(uri);
  try {
    const out: ManifestObject[] = [];
    for (const o of objects) {
      const db = rename(o.database);
      const name = o.kind === 'timeseries' ? o.name : collection(o.name);
      if (!(await exists(client, db, name))) continue;
      if (o.kind === 'view') {
        out.push({ ...o, database: db });
        continue;
      }
      const hash = new ContentHash();
      let count = 0;
      const source = o.kind === 'timeseries' ? `system.buckets.${o.name}` : name;
      for await (const raw of client.db(db).collection(source).find({}, { raw: true, batchSize: 1000 }) as AsyncIterable<unknown> as AsyncIterable<Buffer>) {
        hash.add(raw);
        count++;
      }
      out.push({ database: db, name: o.name, kind: o.kind, count, hash: hash.hex() });
    }
    return out;
  } finally {
    await client.close();
  }
}

/** Reads an archive fully, checking its structure, every document and every CRC (verify `checksum`). */
export async function checkMongoArchive(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ collections: number; documents: number }> {
  let collections = 0;
  let documents = 0;
  for await (const event of readArchive(source, { parseDocuments: true })) {
    if (event.type === 'eof') {
      collections++;
      documents += event.count;
    }
  }
  return { collections, documents };
}

export interface MongoRestoreOptions {
  /** Replace collections and views of the backup's names; without it, one that exists stops the restore before anything is written. */
  drop?: boolean;
  /** Target database for a backed-up one (restoring into another name, e.g. a scratch database). */
  rename?: (db: string) => string;
  /** The database `target-uri` names: the archive must hold one database, restored into this one. */
  into?: string;
  /** The targets are fresh scratch databases (a verify): collections are written under their names, not staged and renamed. */
  inPlace?: boolean;
  /** Counts and content hashes the staged collections must have before they are swapped in. */
  manifest?: Manifest;
  /** Runs when everything is staged and checked, before the swap (the download's checksum): throwing leaves the target as it was. */
  beforeCommit?: () => Promise<void>;
}

const DESERIALIZE = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

const LEASE_MS = 60_000;

/**
 * One restore at a time into a database: a document of a unique `_id` in its `slipway_restore_lock`
 * collection (two inserts cannot both succeed), with an expiry the restore renews while it runs. An
 * expired lock was left by a restore whose process was killed (nothing else ends one without
 * unlocking): it is taken over, and the staging collections that restore left are dropped. Collections
 * it had renamed aside (`slipway_old_…`) held the target's data and are only reported. Returns the
 * release, which drops the lock collection again.
 */
async function lockDatabases(client: MongoClient, databases: readonly string[], owner: string): Promise<() => Promise<void>> {
  type Lock = { _id: string; owner: string; expires: Date };
  const lease = () => new Date(Date.now() + LEASE_MS);
  const locked: string[] = [];
  const timer = setInterval(() => {
    for (const db of locked) void client.db(db).collection<Lock>(LOCKS).updateOne({ _id: 'restore', owner }, { $set: { expires: lease() } }).catch(() => undefined);
  }, LEASE_MS / 4);
  timer.unref();
  const release = async () => {
    clearInterval(timer);
    for (const db of locked) {
      const locks = client.db(db).collection<Lock>(LOCKS);
      await locks.deleteOne({ _id: 'restore', owner });
      if ((await locks.countDocuments({})) === 0) await locks.drop().catch(() => false);
    }
  };
  // The owners of the expired locks taken over, by database: only what they staged is a leftover.
  const expired = new Map<string, string>();
  try {
    for (const db of [...databases].sort()) {
      const locks = client.db(db).collection<Lock>(LOCKS);
      const taken = await locks.insertOne({ _id: 'restore', owner, expires: lease() }).then(
        () => true,
        async (error: { code?: number }) => {
          if (error.code !== 11000) throw error;
          const held = await locks.findOne({ _id: 'restore' });
          if (held && held.expires.getTime() > Date.now()) return false;
          // Expired: take it over, unless another restore just did.
          const won = Boolean(held && (await locks.findOneAndUpdate({ _id: 'restore', owner: held.owner, expires: held.expires }, { $set: { owner, expires: lease() } })));
          if (won && held) expired.set(db, held.owner);
          return won;
        },
      );
      if (!taken) throw new Error(`another restore into ${db} is running: it holds the lock in ${db}.${LOCKS}, which expires a minute after that restore stops renewing it`);
      locked.push(db);
    }
    // Once every database is locked (a refusal leaves them all as they were), the killed restores' work is cleared.
    for (const db of locked) {
      for (const { name } of await client.db(db).listCollections({}, { nameOnly: true }).toArray()) {
        const leftover = /^slipway_(restore|old)_([0-9a-f]{8})_/.exec(name);
        if (!leftover || leftover[2] === owner) continue;
        if (leftover[1] === 'restore') {
          // A collection of this name that no killed restore of this database staged is the user's.
          if (leftover[2] !== expired.get(db)) continue;
          await client.db(db).collection(name).drop();
          core.info(`Dropped ${db}.${name}, a staging collection left by an earlier restore that was interrupted.`);
        } else core.warning(`${db}.${name} was set aside by an earlier restore with drop that was interrupted half way through its renames: it holds that collection as it was before; drop or rename it by hand.`);
      }
    }
  } catch (error) {
    await release();
    throw error;
  }
  return release;
}

interface Restored {
  db: string;
  name: string;
  type: string;
  metadata: Document;
  /** The collection written to: a staging name, or (time series) the name itself. */
  into: string;
}

/**
 * Restores a mongodump archive through the driver: collections with their options, documents in
 * batches (types kept exactly: values are not promoted to JS numbers), then indexes, then views.
 *
 * MongoDB cannot roll a restore back, so collections are written under staging names next to their
 * targets (`slipway_restore_<id>_<name>` in the same database: FerretDB renames only within one
 * database, and without `dropTarget`), compared with the manifest's counts and content hashes, and then
 * renamed into place one by one; with drop, an existing collection is first renamed aside and dropped
 * once all are in. A failure before the renames leaves the target as it was; a failed rename puts back
 * those done. Views are created after the renames; time-series collections, which cannot be renamed,
 * are written in place as the archive streams. The target databases are locked for the restore (see
 * lockDatabases), which also clears what an interrupted restore left.
 */
export async function restoreMongo(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, targetUri: string, options: MongoRestoreOptions = {}): Promise<{ collections: number; documents: number }> {
  const into = options.into;
  const rename = into === undefined ? (options.rename ?? ((d: string) => d)) : () => into;
  const suffix = randomBytes(4).toString('hex');
  const staging = (name: string) => (options.inPlace ? name : `slipway_restore_${suffix}_${name}`);
  const client = await connectMongo(targetUri, 'target-uri');
  const meta = new Map<string, Restored>();
  const created: Restored[] = [];
  let documents = 0;
  let collections = 0;
  let swapped = false;
  let unlock: (() => Promise<void>) | undefined;
  try {
    for await (const event of readArchive(source)) {
      if (event.type === 'prelude') {
        const held = [...new Set(event.collections.map((c) => c.db))];
        if (into !== undefined && held.length > 1) {
          throw new InputError('target-uri', into, `a URI without a database: this backup holds ${held.join(', ')}, which are restored under their own names (a database in the URI takes a single-database backup only); nothing was changed`);
        }
        for (const c of event.collections) {
          const metadata = EJSON.parse(c.metadata, { relaxed: false }) as Document;
          meta.set(`${c.db}.${c.collection}`, { db: rename(c.db), name: c.collection, type: c.type, metadata, into: c.type === 'timeseries' ? c.collection : staging(c.collection) });
        }
        if (!options.inPlace) unlock = await lockDatabases(client, [...new Set([...meta.values()].map((m) => m.db))], suffix);
        if (!options.drop) {
          const existing: string[] = [];
          for (const m of meta.values()) if (await exists(client, m.db, m.name)) existing.push(`${m.db}.${m.name}`);
          if (existing.length) throw new InputError('drop', 'false', `true to replace what exists: the target already has ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}; nothing was changed`);
        }
        for (const m of meta.values()) {
          if (m.type === 'view') continue;
          if (m.type === 'timeseries' && options.drop) await client.db(m.db).collection(m.name).drop().catch(() => false);
          await client.db(m.db).createCollection(m.into, m.metadata.options as Document);
          created.push(m);
        }
      } else if (event.type === 'documents') {
        const m = meta.get(`${event.db}.${event.collection}`) as Restored;
        const target = m.type === 'timeseries' ? `system.buckets.${m.name}` : m.into;
        const docs = event.documents.map((d) => BSON.deserialize(d, DESERIALIZE));
        await client.db(m.db).collection(target).insertMany(docs, { ordered: true, bypassDocumentValidation: true, forceServerObjectId: false });
        documents += docs.length;
      } else {
        const m = meta.get(`${event.db}.${event.collection}`) as Restored;
        // Like mongorestore, leave the index version to the target server (`v` from an older one may be refused).
        const indexes = ((m.metadata.indexes ?? []) as Document[]).filter((i) => i.name !== '_id_').map(({ v: _v, ...index }) => index);
        if (indexes.length && m.type !== 'view') await client.db(m.db).command({ createIndexes: m.into, indexes });
        collections++;
      }
    }
    if (options.manifest) {
      const objects = options.manifest.objects.filter((o) => o.kind !== 'view');
      const problems = compareManifest({ ...options.manifest, objects }, await inventoryMongo(targetUri, objects, rename, staging), rename);
      if (problems.length) throw new Error(`the staged restore differs from the backup's manifest:\n- ${problems.join('\n- ')}`);
    }
    await options.beforeCommit?.();

    const renameIn = (db: string, from: string, to: string) => client.db(db).renameCollection(from, to);
    const swaps: { m: Restored; aside?: string; into?: boolean }[] = [];
    try {
      for (const m of options.inPlace ? [] : created) {
        if (m.type === 'timeseries') continue;
        const swap: (typeof swaps)[number] = { m };
        swaps.push(swap);
        if (options.drop && (await exists(client, m.db, m.name))) {
          await renameIn(m.db, m.name, `slipway_old_${suffix}_${m.name}`);
          swap.aside = `slipway_old_${suffix}_${m.name}`;
        }
        await renameIn(m.db, m.into, m.name);
        swap.into = true;
      }
    } catch (error) {
      const undo: string[] = [];
      for (const { m, aside, into } of swaps.reverse()) {
        try {
          if (into) await renameIn(m.db, m.name, m.into);
          if (aside) await renameIn(m.db, aside, m.name);
        } catch (undoError) {
          undo.push(`${m.db}.${m.name} (${(undoError as Error).message})`);
        }
      }
      if (undo.length) {
        swapped = true;
        throw new Error(`renaming the staged collections into place failed (${(error as Error).message}), and putting back these failed too: ${undo.join(', ')}; collections named slipway_restore_${suffix}_… and slipway_old_${suffix}_… hold the rest`, { cause: error });
      }
      throw error;
    }
    swapped = true;
    for (const { m, aside } of swaps) if (aside) await client.db(m.db).collection(aside).drop();
    for (const m of meta.values()) {
      if (m.type !== 'view') continue;
      if (options.drop) await client.db(m.db).collection(m.name).drop().catch(() => false);
      await client.db(m.db).createCollection(m.name, m.metadata.options as Document);
    }
  } catch (error) {
    if (swapped || error instanceof InputError) throw error;
    for (const m of created) await client.db(m.db).collection(m.into).drop().catch(() => false);
    throw new Error(`${(error as Error).message}\nNothing was changed in the target${created.length ? ': the restore was staged under other names, dropped again' : ''}.`, { cause: error });
  } finally {
    // A lock left behind expires with its lease; the restore's own outcome is what is reported.
    await unlock?.().catch((error: unknown) => core.warning(`the restore's lock in ${LOCKS} could not be released (${(error as Error).message}); it expires a minute after the restore stopped renewing it`));
    await client.close();
  }
  return { collections, documents };
}

/** Drops whole databases (a verify's scratch copies). */
export async function dropMongoDatabases(uri: string, databases: readonly string[]): Promise<void> {
  const client = await connectMongo(uri, 'verify-uri');
  try {
    for (const db of databases) await client.db(db).dropDatabase();
  } finally {
    await client.close();
  }
}
