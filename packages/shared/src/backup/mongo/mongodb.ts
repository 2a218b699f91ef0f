import { hash } from 'node:crypto';
import { BSON, EJSON } from 'bson';
import type { Document, MongoClient } from 'mongodb';
import { InputError, checkDatabaseUri } from '../../inputs';
import { formatDatabaseUri, redact } from '../../secrets/index';
import type { Manifest, ManifestObject } from '../manifest';
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
      if (info.name.startsWith('system.') || !selected(`${db}.${info.name}`, info.name)) continue;
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

/** Counts and content hashes of the given collections as they are now, to compare with a manifest. */
export async function inventoryMongo(uri: string, objects: readonly ManifestObject[], rename: (db: string) => string = (d) => d): Promise<ManifestObject[]> {
  const client = await connectMongo(uri);
  try {
    const out: ManifestObject[] = [];
    for (const o of objects) {
      const db = rename(o.database);
      const exists = (await client.db(db).listCollections({ name: o.name }, { nameOnly: true }).toArray()).length > 0;
      if (!exists) continue;
      if (o.kind === 'view') {
        out.push({ ...o, database: db });
        continue;
      }
      const hash = new ContentHash();
      let count = 0;
      const source = o.kind === 'timeseries' ? `system.buckets.${o.name}` : o.name;
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
  /** Drop each collection before restoring it; without it, a collection that exists stops the restore before anything is written. */
  drop?: boolean;
  /** Target database for a backed-up one (restoring into another name, e.g. a scratch database). */
  rename?: (db: string) => string;
  onDocuments?: (count: number) => void;
}

const DESERIALIZE = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/**
 * Restores a mongodump archive through the driver: collections with their options, documents in
 * batches (types kept exactly: values are not promoted to JS numbers), then indexes, then views.
 */
export async function restoreMongo(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, targetUri: string, options: MongoRestoreOptions = {}): Promise<{ collections: number; documents: number }> {
  const rename = options.rename ?? ((d: string) => d);
  const client = await connectMongo(targetUri, 'target-uri');
  const meta = new Map<string, { db: string; name: string; type: string; metadata: Document }>();
  const views: { db: string; name: string; options: Document }[] = [];
  let documents = 0;
  let collections = 0;
  try {
    for await (const event of readArchive(source)) {
      if (event.type === 'prelude') {
        for (const c of event.collections) {
          const metadata = EJSON.parse(c.metadata, { relaxed: false }) as Document;
          meta.set(`${c.db}.${c.collection}`, { db: rename(c.db), name: c.collection, type: c.type, metadata });
        }
        if (!options.drop) {
          const existing: string[] = [];
          for (const m of meta.values()) {
            if ((await client.db(m.db).listCollections({ name: m.name }, { nameOnly: true }).toArray()).length) existing.push(`${m.db}.${m.name}`);
          }
          if (existing.length) throw new InputError('drop', 'false', `true to replace what exists: the target already has ${existing.slice(0, 5).join(', ')}${existing.length > 5 ? ', …' : ''}; nothing was changed`);
        }
        for (const m of meta.values()) {
          const db = client.db(m.db);
          if (options.drop) await db.collection(m.name).drop().catch(() => false);
          if (m.type === 'view') {
            views.push({ db: m.db, name: m.name, options: m.metadata.options as Document });
            continue;
          }
          await db.createCollection(m.name, m.metadata.options as Document);
        }
      } else if (event.type === 'documents') {
        const m = meta.get(`${event.db}.${event.collection}`) as { db: string; name: string; type: string };
        const target = m.type === 'timeseries' ? `system.buckets.${m.name}` : m.name;
        const docs = event.documents.map((d) => BSON.deserialize(d, DESERIALIZE));
        await client.db(m.db).collection(target).insertMany(docs, { ordered: true, bypassDocumentValidation: true, forceServerObjectId: false });
        documents += docs.length;
        options.onDocuments?.(documents);
      } else {
        const m = meta.get(`${event.db}.${event.collection}`) as { db: string; name: string; type: string; metadata: Document };
        // Like mongorestore, leave the index version to the target server (`v` from an older one may be refused).
        const indexes = ((m.metadata.indexes ?? []) as Document[]).filter((i) => i.name !== '_id_').map(({ v: _v, ...index }) => index);
        if (indexes.length && m.type !== 'view') await client.db(m.db).command({ createIndexes: m.name, indexes });
        collections++;
      }
    }
    for (const v of views) await client.db(v.db).createCollection(v.name, v.options);
  } finally {
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
