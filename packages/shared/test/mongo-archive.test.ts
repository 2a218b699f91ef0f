import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BSON, Binary, Decimal128, Double, Int32, Long, MaxKey, MinKey, ObjectId, BSONRegExp, Timestamp, Code, UUID } from 'bson';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Crc64 } from '../src/backup/mongo/crc64';
import { encodeEof, encodePrelude, encodeSegment, readArchive } from '../src/backup/mongo/archive';
import { checkMongoArchive, ContentHash, dumpMongo, inventoryMongo, restoreMongo } from '../src/backup/mongo/mongodb';
import { compareManifest } from '../src/backup/manifest';
import { exec } from '../src/exec';
import { startFerretDb, type FerretDb } from '../../../test/services/ferretdb';
import { requireCommand } from '../../../test/services/process';
import { collect } from '../../../test/helpers/streams';

let mongo: FerretDb;
let client: MongoClient;
const dir = mkdtempSync(join(tmpdir(), 'slipway-mongo-'));

/** FerretDB v1 refuses Decimal128, JavaScript code, MinKey, MaxKey and nested arrays; the archive is checked with them below. */
const ferretLacks = {
  decimal: Decimal128.fromString('1234567890.123456789012345678901234'),
  code: new Code('function () { return 1; }'),
  minKey: new MinKey(),
  maxKey: new MaxKey(),
  nestedArray: [1, [2, [3]]],
};

/** One document with every other BSON type. */
const everyType = {
  _id: new ObjectId(),
  double: new Double(1.5),
  negZero: new Double(-0),
  int32: new Int32(42),
  int64: Long.fromString('9007199254740993'),
  string: 'grüße 🚀',
  bool: true,
  nil: null,
  date: new Date('2026-11-23T01:02:03.004Z'),
  binary: new Binary(Buffer.from([0, 1, 2, 255]), 0),
  uuid: new UUID('0e3c5bd6-6b2a-4f6c-9d37-6c0e1a1a2b3c'),
  md5: new Binary(Buffer.alloc(16, 7), 5),
  userBinary: new Binary(Buffer.from('custom'), 0x80),
  regex: new BSONRegExp('^a.*z$', 'i'),
  timestamp: new Timestamp({ t: 1_700_000_000, i: 3 }),
  array: [1, 'two', { three: [3] }],
  deep: JSON.parse(`${'{"a":'.repeat(60)}1${'}'.repeat(60)}`) as unknown,
};

beforeAll(async () => {
  requireCommand('mongorestore', 'build it from the Go module proxy with `node scripts/ensure-deps.mjs` (MongoDB Database Tools)');
  mongo = await startFerretDb();
  client = new MongoClient(mongo.uri());
  const shop = client.db('shop');
  await shop.collection('every_type').insertOne(everyType);
  await shop.collection('orders').insertMany(Array.from({ length: 3000 }, (_, i) => ({ n: i, customer: `customer ${i}`, total: new Double(i + 0.99) })));
  await shop.collection('orders').createIndex({ customer: 1, n: -1 }, { name: 'customer_n' });
  await shop.collection('sessions').insertOne({ token: 'abc', at: new Date() });
  await shop.collection('sessions').createIndex({ token: 1 }, { unique: true });
  // TTL indexes (expireAfterSeconds) are not implemented in FerretDB v1, so they cannot be tested here.
  // ~15 MB: close to BSON's 16 MB limit.
  await shop.collection('blobs').insertOne({ big: new Binary(Buffer.alloc(15 * 1024 * 1024, 0xab)) });
  await client.db('unicode_db').collection('集合 ü').insertMany([{ 名前: 'テスト' }, { emoji: '🦀' }]);
}, 180_000);
afterAll(async () => {
  await client?.close();
  await mongo?.stop();
});

describe('CRC-64', () => {
  it("matches Go's crc64.ECMA (CRC-64/XZ check value)", () => {
    expect(new Crc64().update(Buffer.from('123456789')).digest()).toBe(0x995dc9bbdf1939fan);
    expect(new Crc64().digest()).toBe(0n);
  });
});

describe('content hash', () => {
  const reference = (docs: Uint8Array[]) =>
    docs.reduce((sum, d) => BigInt.asUintN(256, sum + BigInt(`0x${createHash('sha256').update(d).digest('hex')}`)), 0n).toString(16).padStart(64, '0');

  it('is the sum of the documents\' SHA-256 digests modulo 2^256, in any order', () => {
    const docs = Array.from({ length: 200 }, (_, i) => BSON.serialize({ i, text: 'x'.repeat(i) }));
    const forward = new ContentHash();
    const backward = new ContentHash();
    for (const d of docs) forward.add(d);
    for (const d of [...docs].reverse()) backward.add(d);
    // 200 digests of 256 bits overflow 2^256 many times: the carries and the wrap are exercised.
    expect(forward.hex()).toBe(reference(docs));
    expect(backward.hex()).toBe(forward.hex());
    expect(new ContentHash().hex()).toBe('0'.repeat(64));
  });
});

describe('mongodump archive format', () => {
  it('carries every BSON type byte for byte, and a CRC that catches a change', async () => {
    const doc = Buffer.from(BSON.serialize({ ...everyType, ...ferretLacks }));
    const crc = new Crc64().update(doc).digest();
    const metadata = { db: 'd', collection: 'c', metadata: '{"indexes":[]}', size: 1, type: '' };
    const archive = Buffer.concat([encodePrelude({ concurrent_collections: 1, version: '0.1', server_version: '7.0.0', tool_version: 't' }, [metadata]), encodeSegment('d', 'c', [doc]), encodeEof('d', 'c', crc)]);
    const events = [];
    for await (const e of readArchive([archive], { parseDocuments: true })) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['prelude', 'documents', 'eof']);
    expect(events[1]?.type === 'documents' && events[1].documents[0]?.equals(doc)).toBe(true);
    const wrongCrc = Buffer.concat([archive.subarray(0, archive.length - encodeEof('d', 'c', crc).length), encodeEof('d', 'c', crc + 1n)]);
    await expect(checkMongoArchive([wrongCrc])).rejects.toThrow(/CRC mismatch in d\.c/);
  });
});

describe('mongodump archive from the driver (FerretDB)', () => {
  let archive: Buffer;
  let dump: ReturnType<typeof dumpMongo>;

  beforeAll(async () => {
    dump = dumpMongo(mongo.uri(), {}, 'slipway-test');
    archive = await collect(dump.stream);
  }, 120_000);

  it('records every user database and collection with counts and hashes', () => {
    expect(dump.manifest.databases).toEqual(['shop', 'unicode_db']);
    const names = dump.manifest.objects.map((o) => `${o.database}.${o.name}:${o.count}`);
    expect(names).toEqual(['shop.blobs:1', 'shop.every_type:1', 'shop.orders:3000', 'shop.sessions:1', 'unicode_db.集合 ü:2']);
    expect(dump.manifest.objects.every((o) => /^[0-9a-f]{64}$/.test(o.hash ?? ''))).toBe(true);
  });

  it('parses back with every CRC checked', async () => {
    expect(await checkMongoArchive([archive])).toEqual({ collections: 5, documents: 3005 });
  });

  it('fails on one flipped byte', async () => {
    const damaged = Buffer.from(archive);
    const at = damaged.length - 5000;
    damaged.writeUInt8(damaged.readUInt8(at) ^ 0x01, at);
    await expect(checkMongoArchive([damaged])).rejects.toThrow(/CRC mismatch in shop\.|not valid BSON|impossible length|damaged/);
  });

  it('fails when truncated', async () => {
    await expect(checkMongoArchive([archive.subarray(0, archive.length - 100)])).rejects.toThrow(/ends (early|before)/);
  });

  // mongorestore sends an `ns` option with each index, which MongoDB ignores and FerretDB v1 rejects, so
  // the reference restore is of the data; indexes are checked through the driver restore below.
  it('is restored by the reference mongorestore --archive', async () => {
    const file = join(dir, 'dump.archive');
    writeFileSync(file, archive);
    const target = (db: string) => `${db}_ref`;
    const result = await exec(
      'mongorestore',
      [`--uri=${mongo.uri()}`, `--archive=${file}`, '--nsFrom=shop.*', '--nsTo=shop_ref.*', '--nsInclude=shop.*', '--noIndexRestore'],
      { silent: true, ignoreExitCode: true },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    const restored = await inventoryMongo(mongo.uri(), dump.manifest.objects.filter((o) => o.database === 'shop'), target);
    expect(compareManifest({ ...dump.manifest, objects: dump.manifest.objects.filter((o) => o.database === 'shop') }, restored, target)).toEqual([]);
    const doc = await client.db('shop_ref').collection('every_type').findOne({}, { promoteValues: false, promoteLongs: false });
    expect(Buffer.from(BSON.serialize(doc!)).equals(BSON.serialize(await client.db('shop').collection('every_type').findOne({}, { promoteValues: false, promoteLongs: false }) ?? {}))).toBe(true);
  }, 120_000);

  it('is restored by the driver into other databases with types, indexes and unicode intact', async () => {
    const rename = (db: string) => `r_${db}`;
    const result = await restoreMongo([archive], mongo.uri(), { rename });
    expect(result).toEqual({ collections: 5, documents: 3005 });
    expect(compareManifest(dump.manifest, await inventoryMongo(mongo.uri(), dump.manifest.objects, rename), rename)).toEqual([]);
    const indexes = await client.db('r_shop').collection('sessions').listIndexes().toArray();
    expect(indexes.find((i) => i.name === 'token_1')?.unique).toBe(true);
    expect((await client.db('r_shop').collection('orders').listIndexes().toArray()).map((i) => i.name)).toContain('customer_n');
    const original = await client.db('shop').collection('every_type').findOne({}, { promoteValues: false });
    const copy = await client.db('r_shop').collection('every_type').findOne({}, { promoteValues: false });
    expect(Buffer.from(BSON.serialize(copy!)).equals(BSON.serialize(original!))).toBe(true);
  }, 120_000);

  it('refuses to restore over existing collections without drop, changing nothing', async () => {
    await client.db('r2_shop').collection('orders').insertOne({ keep: 'me' });
    await expect(restoreMongo([archive], mongo.uri(), { rename: (db) => `r2_${db}` })).rejects.toThrow(/Input 'drop'.*r2_shop\.orders.*nothing was changed/s);
    expect(await client.db('r2_shop').collection('orders').find().toArray()).toHaveLength(1);
    const dropped = await restoreMongo([archive], mongo.uri(), { rename: (db) => `r2_${db}`, drop: true });
    expect(dropped.documents).toBe(3005);
    expect(await client.db('r2_shop').collection('orders').countDocuments({ keep: 'me' })).toBe(0);
  }, 120_000);

  it('dumps only what include and exclude select', async () => {
    const selected = dumpMongo(mongo.uri('shop'), { include: ['orders', 'sess*'], exclude: ['*ions'] }, 'slipway-test');
    const events = [];
    for await (const e of readArchive(selected.stream)) if (e.type === 'eof') events.push(`${e.db}.${e.collection}`);
    expect(events).toEqual(['shop.orders']);
  });
});
