// MongoDB restores through the bundle (the server is FerretDB 1.24), into databases that hold other
// collections, with a failure injected half way: a document the server refuses in the last collection,
// a blob changed between downloads, a collection of the backup's name, a second restore meeting a
// running one, the action's node killed half way. After each, every collection of the target (options,
// indexes, every document) is either exactly as before or exactly the backup plus the others. Also what
// FerretDB answers to the renames MongoDB's own staging would use.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { BSON, EJSON } from 'bson';
import { MongoClient, type Document } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeEof, encodePrelude, encodeSegment, readArchive, type ArchiveHeader, type CollectionMetadata } from '../../packages/shared/src/backup/mongo/archive';
import { Crc64 } from '../../packages/shared/src/backup/mongo/crc64';
import { startAzurite, type Azurite } from '../services/azurite';
import { startFerretDb, type FerretDb } from '../services/ferretdb';
import { expectInputError } from './harness';
import { backupDb, craftBackup, makeBackup, signalWhen, tamperingStore, whileStopped } from './restore-fixtures';

let mongo: FerretDb;
let azurite: Azurite;
let client: MongoClient;
const dir = mkdtempSync(join(tmpdir(), 'slipway-restore-mongo-'));
const local = join(dir, 'store');
let backup: string;
const secrets = () => [mongo.password];

/** The backup: three collections with indexes, the last one largest. */
async function fill(db: string, mark = 'customer'): Promise<void> {
  await collection(db, 'orders').insertMany(Array.from({ length: 2000 }, (_, i) => ({ _id: i, customer: i % 300, total: i * 1.5 })));
  await collection(db, 'orders').createIndex({ customer: 1 });
  await collection(db, 'products').insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, sku: `p${i}`, price: i })));
  await collection(db, 'users').insertMany(Array.from({ length: 500 }, (_, i) => ({ _id: i, name: `${mark} ${i}` })));
  await collection(db, 'users').createIndex({ name: 1 }, { unique: true });
}

/** What the target holds besides. */
async function others(db: string): Promise<void> {
  await collection(db, 'keep_me').insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, v: `keep ${i}` })));
  await collection(db, 'keep_me').createIndex({ v: 1 });
  await collection(db, 'logs').insertMany([{ _id: 1, line: 'one' }, { _id: 2, line: 'two' }]);
}

/** A collection of documents with any `_id` (the driver's default type wants ObjectIds). */
const collection = (db: string, name: string) => client.db(db).collection<{ _id: unknown; [field: string]: unknown }>(name);

type State = Record<string, { indexes: Document[]; documents: string[] }>;

/** Every collection of a database: its indexes and every document (canonical Extended JSON, sorted). */
async function state(db: string): Promise<State> {
  const out: State = {};
  for (const { name } of (await client.db(db).listCollections({}, { nameOnly: true }).toArray()).sort((a, b) => a.name.localeCompare(b.name))) {
    const indexes = (await client.db(db).collection(name).listIndexes().toArray()).map(({ name: index, key, unique }) => ({ index, key, unique: Boolean(unique) })).sort((a, b) => a.index.localeCompare(b.index));
    const documents = (await client.db(db).collection(name).find({}).toArray()).map((d) => EJSON.stringify(d, { relaxed: false })).sort();
    out[name] = { indexes, documents };
  }
  return out;
}

let count = 0;
async function target(withOthers = true): Promise<string> {
  const db = `t${++count}`;
  if (withOthers) await others(db);
  return db;
}

/** The backup plus the others, as a full restore must leave the target. */
const expected = async () => ({ ...(await state('t_others')), ...(await state('shop')) });

const restore = (db: string, inputs: Record<string, string> = {}) =>
  backupDb({ mode: 'restore', engine: 'mongodb', storage: 'local', 'local-path': local, 'target-uri': mongo.uri(db), databases: 'shop', backup, ...inputs }, secrets());

beforeAll(async () => {
  [mongo, azurite] = await Promise.all([startFerretDb(), startAzurite()]);
  client = new MongoClient(mongo.uri());
  await fill('shop');
  await others('t_others');
  backup = await makeBackup({ uri: mongo.uri('shop'), storage: 'local', 'local-path': local }, secrets());
}, 180_000);
afterAll(async () => {
  await client?.close();
  await Promise.all([mongo?.stop(), azurite?.stop()]);
});

describe('MongoDB restore: staged under other names, renamed into place', () => {
  it('without drop, into a database holding other collections: the backup is added, the others are untouched', async () => {
    const db = await target();
    const run = await restore(db);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(await state(db)).toEqual(await expected());
  }, 120_000);

  it('with drop, over an older copy next to other collections: the copy is replaced, the others are untouched, no staging name is left', async () => {
    const db = await target();
    await collection(db, 'users').insertMany([{ _id: 1, name: 'old' }, { _id: 9999, name: 'only here' }]);
    await collection(db, 'orders').insertOne({ _id: 1, customer: -1 });
    const run = await restore(db, { drop: 'true' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(await state(db)).toEqual(await expected());
  }, 120_000);

  it('without drop, a collection of the backup\'s name stops it before anything is written', async () => {
    const db = await target();
    await collection(db, 'products').insertOne({ _id: 'mine', mine: true });
    const before = await state(db);
    const run = await restore(db);
    expect(await state(db)).toEqual(before);
    expectInputError(run, 'drop');
    expect(run.stdout).toMatch(/already has .*products.*nothing was changed/);
  }, 120_000);

  it('a document the server refuses in the last collection: with or without drop, the target is as it was', async () => {
    // The genuine archive again, with one more document in `users` (an array _id, which MongoDB and FerretDB refuse), CRCs recomputed.
    const events = [];
    for await (const e of readArchive([gunzipSync(readFileSync(join(local, ...backup.split('/'))))])) events.push(e);
    const prelude = events[0] as { header: ArchiveHeader; collections: CollectionMetadata[] };
    const parts = [encodePrelude(prelude.header, prelude.collections)];
    for (const c of prelude.collections) {
      const documents = events.flatMap((e) => (e.type === 'documents' && e.collection === c.collection ? e.documents : []));
      if (c.collection === 'users') documents.push(Buffer.from(BSON.serialize({ _id: [1, 2], name: 'refused' })));
      const crc = new Crc64();
      for (const d of documents) crc.update(d);
      parts.push(encodeSegment(c.db, c.collection, documents), encodeEof(c.db, c.collection, crc.digest()));
    }
    const crafted = craftBackup(local, backup, `crafted/mongodb/${backup.split('/').pop()?.replace('.gz', '')}`, Buffer.concat(parts));
    for (const drop of ['false', 'true']) {
      const db = await target();
      if (drop === 'true') await collection(db, 'users').insertOne({ _id: 1, name: 'old' });
      const before = await state(db);
      const run = await restore(db, { drop, backup: crafted });
      expect(await state(db)).toEqual(before);
      expect(run.exitCode, run.stdout).toBe(1);
      expect(run.stdout).toMatch(/::error::.*_id.*array.*Nothing was changed/);
    }
  }, 180_000);

  it('a blob changed between downloads: what is restored is what was checked, or nothing', async () => {
    const common = { 'azure-connection-string': azurite.connectionString, container: 'swapped' };
    const genuine = await makeBackup({ ...common, uri: mongo.uri('shop') }, secrets());
    await fill('evil', 'evil');
    const other = await makeBackup({ ...common, uri: mongo.uri('evil') }, secrets());
    const otherBytes = await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('swapped').getBlobClient(other).downloadToBuffer();
    const restoreThrough = (connectionString: string, db: string) =>
      backupDb({ mode: 'restore', engine: 'mongodb', 'azure-connection-string': connectionString, container: 'swapped', 'target-uri': mongo.uri(db), databases: 'shop', backup: genuine }, secrets());

    const later = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 2);
    try {
      const db = await target();
      const run = await restoreThrough(later.connectionString, db);
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(await state(db)).toEqual(await expected());
    } finally {
      await later.close();
    }

    const always = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 1);
    try {
      const db = await target();
      const before = await state(db);
      const run = await restoreThrough(always.connectionString, db);
      expect(await state(db)).toEqual(before);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::.*checksum mismatch for .*nothing was changed/i);
    } finally {
      await always.close();
    }
  }, 180_000);

  // Why the restore stages next to the target and renames aside instead of `dropTarget` (see README, Safety).
  it('FerretDB 1.24 renames only within a database, without dropTarget, and not from names with a dot', async () => {
    const db = client.db('renames');
    await db.collection('a').insertOne({ a: 1 });
    await db.collection('b').insertOne({ b: 1 });
    await db.collection('x.y').insertOne({ x: 1 });
    const admin = client.db('admin');
    await expect(admin.command({ renameCollection: 'renames.a', to: 'elsewhere.a' })).rejects.toThrow(/cross-database rename/);
    await expect(admin.command({ renameCollection: 'renames.a', to: 'renames.b', dropTarget: true })).rejects.toThrow(/dropTarget.*not implemented/);
    await expect(admin.command({ renameCollection: 'renames.x.y', to: 'renames.z' })).rejects.toThrow(/Invalid namespace/);
    await expect(admin.command({ renameCollection: 'renames.a', to: 'renames.b' })).rejects.toThrow(/target namespace exists/);
    expect(await admin.command({ renameCollection: 'renames.a', to: 'renames.c' })).toMatchObject({ ok: 1 });
  });
});

describe('MongoDB restore: one at a time per database, leftovers of a killed one cleared', () => {
  const action = (argv: string[]) => argv[1]?.endsWith(join('backup-db', 'index.js')) === true;
  const names = async (db: string) => (await client.db(db).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  const locked = async (db: string) => (await client.db(db).collection('slipway_restore_lock').countDocuments({})) > 0;

  it('a second restore into a database while one runs stops at once and changes nothing; a backup meanwhile holds none of the restore\'s work; the first completes', async () => {
    const db = await target();
    const first = restore(db);
    // The first is held (its node stopped) once it holds the lock, so the second surely meets it.
    await whileStopped(action, () => locked(db), async () => {
      const before = await state(db);
      const second = await restore(db);
      expect(second.exitCode, second.stdout).toBe(1);
      expect(second.stdout).toMatch(new RegExp(`::error::.*another restore into ${db} is running`));
      expect(await state(db)).toEqual(before);
      const meanwhile = await makeBackup({ uri: mongo.uri(db), storage: 'local', 'local-path': local }, secrets());
      expect(readFileSync(join(local, ...`${meanwhile}.manifest.json`.split('/')), 'utf8')).not.toContain('slipway_restore');
    });
    const run = await first;
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(await state(db)).toEqual(await expected());
  }, 180_000);

  it('a restore of several databases, one of them locked, changes none; a collection of the user\'s named like a staging one is never dropped', async () => {
    await collection('several_a', 'a').insertMany([{ _id: 1 }, { _id: 2 }]);
    await collection('several_b', 'b').insertMany([{ _id: 1 }]);
    const several = await makeBackup({ uri: mongo.uri(), databases: 'several_a,several_b', storage: 'local', 'local-path': local }, secrets());
    await collection('several_a', 'slipway_restore_0badf00d_mine').insertOne({ _id: 'precious' });
    await client.db('several_b').collection<{ _id: string; owner: string; expires: Date }>('slipway_restore_lock').insertOne({ _id: 'restore', owner: 'ffffffff', expires: new Date(Date.now() + 600_000) });
    const before = { a: await state('several_a'), b: await state('several_b') };
    const inputs = { mode: 'restore', engine: 'mongodb', storage: 'local', 'local-path': local, 'target-uri': mongo.uri(), databases: 'several_a,several_b', backup: several, drop: 'true' };
    const refused = await backupDb(inputs, secrets());
    expect(refused.exitCode).toBe(1);
    expect(refused.stdout).toMatch(/::error::.*another restore into several_b is running/);
    expect({ a: await state('several_a'), b: await state('several_b') }).toEqual(before);

    // Once the other restore has finished, the restore goes ahead; the user's collection stays.
    await client.db('several_b').collection('slipway_restore_lock').drop();
    const run = await backupDb(inputs, secrets());
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toContain('Dropped');
    expect(await names('several_a')).toEqual(['a', 'slipway_restore_0badf00d_mine']);
    expect(await names('several_b')).toEqual(['b']);
  }, 180_000);

  it('the action\'s node killed half way (a cancelled job): its lock holds until the lease ends, then the next restore drops what it staged, and restores', async () => {
    const db = await target();
    // Killed while collections are staged and before any is renamed into place.
    const staging = async () => {
      const now = await names(db);
      return now.some((n) => /^slipway_restore_[0-9a-f]{8}_/.test(n)) && !['orders', 'products', 'users'].some((n) => now.includes(n));
    };
    const [killed, killedRun] = await Promise.all([signalWhen(action, staging), restore(db)]);
    expect(killed.length).toBeGreaterThan(0);
    expect(killedRun.exitCode).not.toBe(0);
    const left = (await names(db)).filter((n) => /^slipway_restore_[0-9a-f]{8}_/.test(n));
    expect(left.length).toBeGreaterThan(0);

    const early = await restore(db);
    expect(early.exitCode).toBe(1);
    expect(early.stdout).toMatch(new RegExp(`::error::.*another restore into ${db} is running.*expires a minute after`));
    // A minute later, as the killed restore can no longer renew its lease.
    await client.db(db).collection<{ _id: string; expires: Date }>('slipway_restore_lock').updateOne({ _id: 'restore' }, { $set: { expires: new Date(Date.now() - 1000) } });
    const run = await restore(db);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    for (const name of left) expect(run.stdout).toContain(`Dropped ${db}.${name}, a staging collection left by an earlier restore`);
    expect(await state(db)).toEqual(await expected());
  }, 180_000);
});
