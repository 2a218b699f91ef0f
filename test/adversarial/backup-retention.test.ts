// backup-db's names, `latest` and retention under hostile and careless use, through the bundle: one
// container holding look-alike databases (`shop db` / `shop_db`, MongoDB `a,b` / `a_b`, a database
// named `all`), one database name on two servers, prefixes that climb out, verifications that fail,
// clocks that disagree, and backups written by the bundle before names changed (2026-12).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { startAzurite, type Azurite } from '../services/azurite';
import { startFerretDb, type FerretDb } from '../services/ferretdb';
import { startPostgres, type Postgres } from '../services/postgres';
import { expectInputError, expectNoLeaks, findLeaks } from './harness';

/** The last commit whose dist/backup-db wrote names and metadata as before 2026-12. */
const LEGACY_COMMIT = 'd890279a7f888c35b4f879d4a29d015ee42e8ae0';

let azurite: Azurite;
let one: Postgres;
let two: Postgres;
let mongo: FerretDb;
let legacyDist: string;
const secrets = () => [one.password, two.password, mongo.password];

/** A database whose one row says which it is, so a restore shows which backup it came from. */
function marked(pg: Postgres, database: string, mark: string): void {
  pg.sql(`create database "${database}"`);
  pg.sql(`create table marker (v text); insert into marker values ('${mark}')`, encodeURIComponent(database));
}
const markOf = (pg: Postgres, database: string) => pg.sql('select v from marker', encodeURIComponent(database)).trim();
const pgUri = (pg: Postgres, database: string) => pg.uri(encodeURIComponent(database));

beforeAll(async () => {
  [azurite, one, two, mongo] = await Promise.all([startAzurite(), startPostgres(), startPostgres(), startFerretDb()]);
  for (const db of ['shop', 'shop_db', 'shop db', 'vshop']) marked(one, db, `${db} on one`);
  marked(two, 'shop', 'shop on two');
  const client = new MongoClient(mongo.uri());
  try {
    for (const db of ['a', 'b', 'a_b', 'all']) await client.db(db).collection('marker').insertOne({ v: db });
  } finally {
    await client.close();
  }
  legacyDist = mkdtempSync(join(tmpdir(), 'slipway-legacy-dist-'));
  const archive = spawnSync('sh', ['-c', `git archive ${LEGACY_COMMIT} dist/backup-db | tar -x -C "${legacyDist}"`], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`could not extract dist/backup-db of ${LEGACY_COMMIT} (needs the git history): ${archive.stderr}`);
}, 180_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), one?.stop(), two?.stop(), mongo?.stop()]);
});

/** One backup-db run into a container; every run is scanned for the servers' passwords. */
async function backupDb(container: string, runId: string, inputs: Record<string, string>): Promise<ActionRun> {
  const run = await runAction('backup-db', { 'azure-connection-string': azurite.connectionString, container, ...inputs }, runEnv(runId));
  expectNoLeaks(run, secrets());
  return run;
}
const made = (run: ActionRun) => {
  expect(run.exitCode, run.stdout + run.stderr).toBe(0);
  return run.outputs['backup-name'] ?? '';
};
const deleted = (run: ActionRun) => JSON.parse(run.outputs.deleted ?? '[]') as string[];
const names = async (container: string) => (await azurite.blobs(container)).map((b) => b.name).filter((n) => !n.endsWith('.manifest.json'));

/** Runs the bundle of LEGACY_COMMIT, as a workflow pinned to the release before 2026-12 would. */
async function withLegacyBundle<T>(body: () => Promise<T>): Promise<T> {
  const before = process.env.SLIPWAY_DIST;
  process.env.SLIPWAY_DIST = join(legacyDist, 'dist');
  try {
    return await body();
  } finally {
    if (before === undefined) delete process.env.SLIPWAY_DIST;
    else process.env.SLIPWAY_DIST = before;
  }
}

describe('backup-db retention and latest, hostile', () => {
  it('retention of shop on server one and of shop_db never deletes shop on server two or shop db, and latest restores the database asked for', async () => {
    const c = 'lookalikes';
    const onTwo = made(await backupDb(c, '101', { uri: two.uri('shop') }));
    const spaced = made(await backupDb(c, '102', { uri: pgUri(one, 'shop db') }));
    const underscored = made(await backupDb(c, '103', { uri: pgUri(one, 'shop_db') }));

    const shop = await backupDb(c, '104', { uri: one.uri('shop'), 'keep-last': '1' });
    made(shop);
    expect(deleted(shop)).toEqual([]);
    const underscoredAgain = await backupDb(c, '105', { uri: pgUri(one, 'shop_db'), 'keep-last': '1' });
    made(underscoredAgain);
    expect(deleted(underscoredAgain)).toEqual([underscored]);
    expect(await names(c)).toEqual(expect.arrayContaining([onTwo, spaced, shop.outputs['backup-name'], underscoredAgain.outputs['backup-name']]));
    expect(await names(c)).toHaveLength(4);
    // Three databases, three folders (the old names put `shop db` and `shop_db` in one).
    expect(new Set([onTwo, spaced, underscored].map((n) => n.split('/').slice(0, 2).join('/'))).size).toBe(3);

    // latest of `shop db` is the backup of `shop db`, though `shop_db`'s is newer.
    marked(one, 'target_spaced', 'empty');
    one.sql('drop table marker', 'target_spaced');
    const restored = await backupDb(c, '106', { mode: 'restore', uri: pgUri(one, 'shop db'), 'target-uri': one.uri('target_spaced') });
    expect(made(restored)).toBe(spaced);
    expect(markOf(one, 'target_spaced')).toBe('shop db on one');

    // Given only its target, a restore of `shop` cannot tell the two servers' backups apart: it refuses.
    one.sql('create database target_shop');
    const ambiguous = await backupDb(c, '107', { mode: 'restore', databases: 'shop', 'target-uri': one.uri('target_shop') });
    expectInputError(ambiguous, 'uri');
    expect(ambiguous.stdout).toMatch(/from 127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/);
    expect(one.sql(`select count(*) from pg_tables where schemaname = 'public'`, 'target_shop').trim()).toBe('0');
  }, 240_000);

  it('MongoDB: a,b is not a_b, and a database named all is not all databases', async () => {
    const c = 'mongo-sets';
    const pair = made(await backupDb(c, '201', { uri: mongo.uri(), databases: 'a,b' }));
    const named = made(await backupDb(c, '202', { uri: mongo.uri('all') }));
    const underscored = await backupDb(c, '203', { uri: mongo.uri('a_b'), 'keep-last': '1' });
    expect(made(underscored)).toMatch(/^mongodb\/a_b\//);
    expect(deleted(underscored)).toEqual([]);
    const again = await backupDb(c, '204', { uri: mongo.uri('a_b'), 'keep-last': '1' });
    made(again);
    expect(deleted(again)).toEqual([underscored.outputs['backup-name']]);
    const everything = await backupDb(c, '205', { uri: mongo.uri(), 'keep-last': '1' });
    made(everything);
    expect(deleted(everything)).toEqual([]);
    expect(await names(c)).toEqual(expect.arrayContaining([pair, named]));
    const verified = await backupDb(c, '206', { mode: 'verify', uri: mongo.uri('all') });
    expect(made(verified)).toBe(named);
  }, 240_000);

  it('prefixes that climb out of their folder are refused before anything is written', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient('other').create();
    for (const prefix of ['../other', 'nightly/../../other', '/other', 'nightly//x', './nightly', 'nightly\\..\\..\\other', '..']) {
      const run = await backupDb('prefixes', '301', { uri: one.uri('shop'), prefix });
      expectInputError(run, 'prefix');
    }
    expect(await service.getContainerClient('prefixes').exists()).toBe(false);
    expect(await azurite.blobs('other')).toEqual([]);

    const parent = mkdtempSync(join(tmpdir(), 'slipway-prefix-'));
    const local = await backupDb('unused', '302', { uri: one.uri('shop'), storage: 'local', 'local-path': join(parent, 'backups'), prefix: '../outside' });
    expectInputError(local, 'prefix');
    expect(readdirSync(parent)).toEqual([]);
    expect(existsSync(join(parent, 'outside'))).toBe(false);
  }, 120_000);

  it('a backup whose verification failed is never latest and never counts; the backup a run made is never pruned', async () => {
    const c = 'verification';
    const first = made(await backupDb(c, '401', { uri: one.uri('vshop') }));
    // A backup whose manifest its test restore contradicts (here: edited counts) fails verification.
    const second = made(await backupDb(c, '402', { uri: one.uri('vshop'), verify: 'none' }));
    const blobs = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(c);
    const manifest = JSON.parse((await blobs.getBlobClient(`${second}.manifest.json`).downloadToBuffer()).toString()) as { objects: { count: number }[] };
    for (const object of manifest.objects) object.count += 1;
    const text = JSON.stringify(manifest);
    await blobs.getBlockBlobClient(`${second}.manifest.json`).upload(text, Buffer.byteLength(text));
    const failedRun = await backupDb(c, '402', { mode: 'verify', uri: one.uri('vshop'), backup: second, verify: 'restore', 'verify-uri': one.uri('postgres') });
    expect(failedRun.exitCode).toBe(1);
    const failed = (await azurite.blobs(c)).find((b) => b.name === second);
    expect(failed?.metadata?.verify_failed_at).toMatch(/^\d{4}-/);
    expect(decodeURIComponent(failed?.metadata?.verify_failure ?? '')).toMatch(/^restore: the test restore of .* differs from its manifest/);
    expect(findLeaks({ metadata: JSON.stringify(failed?.metadata) }, [one.password])).toEqual([]);

    marked(one, 'vtarget', 'empty');
    one.sql('drop table marker', 'vtarget');
    const restored = await backupDb(c, '403', { mode: 'restore', uri: one.uri('vshop'), 'target-uri': one.uri('vtarget') });
    expect(made(restored)).toBe(first);
    expect(restored.stdout).toContain(`Chose ${first}: the newest of 1 backup of postgres vshop on 127.0.0.1:${one.port} that did not fail verification`);
    expect(restored.stdout).toContain(`skipped the newer ${failed?.name}: verification failed at`);
    expect(restored.summary).toContain('Chosen');
    expect(restored.summary).toMatch(/failed at \d{4}-/);
    expect(markOf(one, 'vtarget')).toBe('vshop on one');

    // keep-last 2 keeps two backups that did not fail; the failed one, newer than the oldest kept, stays to be looked into.
    const third = await backupDb(c, '404', { uri: one.uri('vshop'), 'keep-last': '2' });
    made(third);
    expect(deleted(third)).toEqual([]);

    // A backup dated in the future (another runner's clock) is newest: keep-last 1 would keep it alone.
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(c);
    const source = container.getBlobClient(first);
    const props = await source.getProperties();
    const future = first.replace(/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-401-/, '2099/01/01/20990101T000000Z-401-');
    const data = await source.downloadToBuffer();
    await container.getBlockBlobClient(future).uploadData(data, { metadata: { ...props.metadata, created_at: '2099-01-01T00:00:00.000Z' } });
    const fourth = await backupDb(c, '405', { uri: one.uri('vshop'), 'keep-last': '1' });
    const fresh = made(fourth);
    expect(deleted(fourth)).not.toContain(fresh);
    expect(deleted(fourth)).toEqual(expect.arrayContaining([first, failed?.name, third.outputs['backup-name']]));
    expect((await names(c)).sort()).toEqual([fresh, future].sort());
  }, 240_000);

  it('backups written before names changed stay listed, restorable and prunable', async () => {
    const c = 'legacy';
    const [spaced, underscored] = await withLegacyBundle(async () => [
      made(await backupDb(c, '501', { uri: pgUri(one, 'shop db') })),
      made(await backupDb(c, '502', { uri: pgUri(one, 'shop_db') })),
    ]);
    // Both went to the one folder the old names had for them.
    expect([spaced, underscored].map((n) => n.split('/').slice(0, 2).join('/'))).toEqual(['postgres/shop_db', 'postgres/shop_db']);

    marked(one, 'legacy_target', 'empty');
    one.sql('drop table marker', 'legacy_target');
    const restored = await backupDb(c, '503', { mode: 'restore', uri: pgUri(one, 'shop db'), 'target-uri': one.uri('legacy_target') });
    expect(made(restored)).toBe(spaced);
    expect(restored.stdout).toMatch(/made before backups recorded their server/);
    expect(markOf(one, 'legacy_target')).toBe('shop db on one');
    expect(restored.summary).toContain(spaced);
    expect(restored.summary.split('Latest backups')[1]).not.toContain(underscored);

    // Without legacy-server the old backup is kept (it could be another server's), with a warning.
    const kept = await backupDb(c, '504', { uri: pgUri(one, 'shop db'), 'keep-last': '1' });
    made(kept);
    expect(deleted(kept)).toEqual([]);
    expect(kept.stdout).toMatch(/::warning::Retention kept 1 backups .* made before backups recorded their server/);
    const pruned = await backupDb(c, '505', { uri: pgUri(one, 'shop db'), 'keep-last': '1', 'legacy-server': `127.0.0.1:${one.port}` });
    made(pruned);
    expect(deleted(pruned)).toEqual(expect.arrayContaining([spaced]));
    expect(await names(c)).toEqual(expect.arrayContaining([underscored]));
  }, 240_000);

  it("server two's first run after the upgrade never prunes server one's old backups of the same database", async () => {
    const c = 'legacy-two-servers';
    const old = await withLegacyBundle(async () => made(await backupDb(c, '511', { uri: pgUri(one, 'shop') })));
    const second = await backupDb(c, '512', { uri: pgUri(two, 'shop'), 'keep-last': '1' });
    made(second);
    expect(deleted(second)).toEqual([]);
    expect(await names(c)).toContain(old);
    // Naming server one there does not make them server two's either.
    const wrongServer = await backupDb(c, '513', { uri: pgUri(two, 'shop'), 'keep-last': '1', 'legacy-server': `127.0.0.1:${one.port}` });
    made(wrongServer);
    expect(await names(c)).toContain(old);
    const bad = await backupDb(c, '514', { uri: pgUri(two, 'shop'), 'legacy-server': 'user:pw@db/x' });
    expectInputError(bad, 'legacy-server');
  }, 240_000);
});
