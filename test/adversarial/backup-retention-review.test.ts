// A hostile review of backup-db's names, `latest` and retention, through the bundle: files in a group's
// folder with tampered metadata, backups dated in the future, a verification that cannot run, metadata
// that carries workflow commands, `backup` names that climb out of the container, database names and
// prefixes too long for a file name, two runs writing one name at once, and old MongoDB labels that two
// sets shared. Each case failed on the bundle of 32e3ee9.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { startAzurite, type Azurite } from '../services/azurite';
import { startFerretDb, type FerretDb } from '../services/ferretdb';
import { startMariaDb, type MariaDb } from '../services/mariadb';
import { startPostgres, type Postgres } from '../services/postgres';
import { expectInputError, expectNoLeaks } from './harness';

/** The last commit whose dist/backup-db wrote names and metadata as before 2026-12. */
const LEGACY_COMMIT = 'd890279a7f888c35b4f879d4a29d015ee42e8ae0';

let pg: Postgres;
let maria: MariaDb;
let mongo: FerretDb;
let azurite: Azurite;
let legacyDist: string;
const secrets = () => [pg.password, maria.password, mongo.password];

beforeAll(async () => {
  [pg, maria, mongo, azurite] = await Promise.all([startPostgres(), startMariaDb(), startFerretDb(), startAzurite()]);
  legacyDist = mkdtempSync(join(tmpdir(), 'slipway-legacy-dist-'));
  const archive = spawnSync('sh', ['-c', `git archive ${LEGACY_COMMIT} dist/backup-db | tar -x -C "${legacyDist}"`], { cwd: join(import.meta.dirname, '..', '..'), encoding: 'utf8' });
  if (archive.status !== 0) throw new Error(`could not extract dist/backup-db of ${LEGACY_COMMIT} (needs the git history): ${archive.stderr}`);
}, 180_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop(), mongo?.stop(), azurite?.stop()]);
});

/** A PostgreSQL database whose one row says which state it was backed up in. */
function marked(database: string, mark: string): void {
  pg.sql(`create database "${database}"`);
  pg.sql(`create table marker (v text); insert into marker values ('${mark}')`, database);
}
const mark = (database: string, value: string) => pg.sql(`update marker set v = '${value}'`, database);
const markOf = (database: string) => pg.sql('select v from marker', database).trim();

async function scanned(run: Promise<ActionRun>): Promise<ActionRun> {
  const done = await run;
  expectNoLeaks(done, secrets());
  return done;
}
const local = (root: string, runId: string, inputs: Record<string, string>, env: Record<string, string> = {}) =>
  scanned(runAction('backup-db', { storage: 'local', 'local-path': root, ...inputs }, { ...runEnv(runId), ...env }));
const azure = (container: string, runId: string, inputs: Record<string, string>) =>
  scanned(runAction('backup-db', { 'azure-connection-string': azurite.connectionString, container, ...inputs }, runEnv(runId)));
const made = (run: ActionRun) => {
  expect(run.exitCode, run.stdout + run.stderr).toBe(0);
  return run.outputs['backup-name'] ?? '';
};
const deleted = (run: ActionRun) => JSON.parse(run.outputs.deleted ?? '[]') as string[];
const metaOf = (root: string, name: string) => JSON.parse(readFileSync(join(root, `${name}.meta.json`), 'utf8')) as Record<string, string>;

/** A copy of a backup in the same store, under another name and with the metadata given (as a person or another tool could leave one). */
function copyAs(root: string, from: string, to: string, meta: Record<string, string> | string): string {
  mkdirSync(dirname(join(root, to)), { recursive: true });
  copyFileSync(join(root, from), join(root, to));
  writeFileSync(join(root, `${to}.meta.json`), typeof meta === 'string' ? meta : JSON.stringify(meta));
  return to;
}
/** The name of a backup moved by `seconds` (same folder, run id `id`). */
const later = (name: string, seconds: number, id: string) =>
  name.replace(/(\d{8}T\d{6}Z)-\d+-/, (_, stamp: string) => {
    const t = new Date(Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(9, 11), +stamp.slice(11, 13), +stamp.slice(13, 15)) + seconds * 1000);
    return `${t.toISOString().replace(/[-:]|\.\d+/g, '')}-${id}-`;
  });

describe('backup-db names, latest and retention, hostile review', () => {
  it('files in the group folder with tampered or unreadable metadata neither stop retention and latest nor are counted or deleted', async () => {
    marked('tampered', 'real');
    const root = mkdtempSync(join(tmpdir(), 'slipway-tampered-'));
    const first = made(await local(root, '1', { uri: pg.uri('tampered') }));
    const m = metaOf(root, first);
    const strays = [
      copyAs(root, first, later(first, 1, '2'), { ...m, prefix: '%zz', created_at: new Date(Date.now() + 1000).toISOString() }),
      copyAs(root, first, later(first, 2, '3'), { ...m, created_at: 'yesterday-ish' }),
      copyAs(root, first, later(first, 3, '4'), '{"engine": "postgr'),
      copyAs(root, first, later(first, 4, '5'), { ...m, created_at: new Date(Date.now() + 4000).toISOString(), sha256: '' }),
    ];
    const run = await local(root, '6', { uri: pg.uri('tampered'), 'keep-last': '1', 'keep-daily': '1' });
    const fresh = made(run);
    expect(deleted(run)).toEqual([first]);
    for (const stray of strays) expect(existsSync(join(root, stray)), stray).toBe(true);

    pg.sql('create database tampered_target');
    const restored = await local(root, '7', { mode: 'restore', uri: pg.uri('tampered'), 'target-uri': pg.uri('tampered_target') });
    expect(made(restored)).toBe(fresh);
    expect(markOf('tampered_target')).toBe('real');
  }, 120_000);

  it('latest never restores a backup dated in the future over the newest real one, and prune keeps the newest real one', async () => {
    marked('futuredb', 'old');
    const root = mkdtempSync(join(tmpdir(), 'slipway-future-'));
    const old = made(await local(root, '11', { uri: pg.uri('futuredb') }));
    // Another runner's clock (or a hand) dated this copy of the old state in 2099.
    const future = copyAs(root, old, old.replace(/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-11-/, '2099/01/01/20990101T000000Z-11-'), { ...metaOf(root, old), created_at: '2099-01-01T00:00:00.000Z' });
    mark('futuredb', 'new');
    const fresh = made(await local(root, '12', { uri: pg.uri('futuredb') }));

    pg.sql('create database future_target');
    const restored = await local(root, '13', { mode: 'restore', uri: pg.uri('futuredb'), 'target-uri': pg.uri('future_target') });
    expect(made(restored)).toBe(fresh);
    expect(markOf('future_target')).toBe('new');
    expect(restored.stdout).toContain(`skipped ${future}: dated in the future (2099-01-01T00:00:00.000Z`);

    // keep-last 1 without a backup of its own to pin: the newest real backup is the one kept.
    const pruned = await local(root, '14', { mode: 'prune', uri: pg.uri('futuredb'), 'keep-last': '1' });
    expect(pruned.exitCode, pruned.stdout).toBe(0);
    expect(deleted(pruned)).toEqual([old]);
    expect(existsSync(join(root, fresh))).toBe(true);
    expect(existsSync(join(root, future))).toBe(true);
  }, 120_000);

  it('a verification that cannot run marks nothing; one that finds the backup wrong marks it', async () => {
    marked('verifydb', 'good');
    const root = mkdtempSync(join(tmpdir(), 'slipway-verify-'));
    const good = made(await local(root, '21', { uri: pg.uri('verifydb') }));
    // The verify server refuses the login: nothing is learnt about the backup.
    const refused = await local(root, '22', { mode: 'verify', uri: pg.uri('verifydb'), verify: 'restore', 'verify-uri': pg.uri('postgres').replace(encodeURIComponent(pg.password), 'wrong-password') });
    expect(refused.exitCode).toBe(1);
    expect(metaOf(root, good).verify_failed_at).toBeUndefined();
    expect(visible(refused.stdout)).toContain("could not ask the server of verify-uri for its version, so nothing was dumped, restored or marked as failed");
    // The reason given is the refused login, not the clean-up that could not log in either.
    const errors = visible(refused.stdout).split('\n').filter((l) => l.startsWith('::error'));
    expect(errors).toEqual([expect.stringMatching(/password authentication failed/)]);
    expect(errors[0]).not.toMatch(/DROP DATABASE/);
    pg.sql('create database verify_target');
    const restored = await local(root, '23', { mode: 'restore', uri: pg.uri('verifydb'), 'target-uri': pg.uri('verify_target') });
    expect(made(restored)).toBe(good);
    expect(markOf('verify_target')).toBe('good');

    // A manifest that the test restore contradicts: the backup is wrong, and is marked so.
    const manifestFile = join(root, `${good}.manifest.json`);
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { objects: { count: number }[] };
    for (const object of manifest.objects) object.count += 1;
    writeFileSync(manifestFile, JSON.stringify(manifest));
    const differs = await local(root, '24', { mode: 'verify', uri: pg.uri('verifydb'), verify: 'restore', 'verify-uri': pg.uri('postgres') });
    expect(differs.exitCode).toBe(1);
    expect(decodeURIComponent(metaOf(root, good).verify_failure ?? '')).toMatch(/^restore: the test restore of .* differs from its manifest/);
  }, 120_000);

  it('metadata read from the store never becomes a workflow command in the log', async () => {
    marked('injected', 'real');
    const root = mkdtempSync(join(tmpdir(), 'slipway-inject-'));
    const real = made(await local(root, '31', { uri: pg.uri('injected') }));
    copyAs(root, real, later(real, 1, '32'), {
      ...metaOf(root, real),
      created_at: new Date(Date.now() + 1000).toISOString(),
      verify_failed_at: '2026-01-01T00:00:00Z\n::warning::from metadata',
      verify_failure: encodeURIComponent('boom\n::error::injected\n::add-mask::postgres'),
    });
    pg.sql('create database inject_target');
    const restored = await local(root, '33', { mode: 'restore', uri: pg.uri('injected'), 'target-uri': pg.uri('inject_target') });
    expect(made(restored)).toBe(real);
    const commands = restored.stdout.split('\n').filter((l) => /^::(error|warning|add-mask)::/.test(l) && !l.includes(pg.password));
    expect(commands.filter((l) => !l.startsWith('::add-mask::postgres%') && !l.startsWith('::add-mask::postgres://'))).toEqual([]);
    expect(restored.stdout).toContain('boom\\u000a::error::injected');
  }, 120_000);

  it('input backup cannot name a blob in another container', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const other = service.getContainerClient('elsewhere');
    await other.create();
    await other.getBlockBlobClient('x.dump').upload('x', 1, { metadata: { engine: 'postgres' } });
    for (const name of ['../elsewhere/x.dump', 'a/../../elsewhere/x.dump', '/x.dump', 'a//x.dump']) {
      expectInputError(await azure('mine', '41', { mode: 'verify', uri: pg.uri('postgres'), backup: name }), 'backup');
    }
    expect((await other.getBlobClient('x.dump').getProperties()).metadata).toEqual({ engine: 'postgres' });
  }, 120_000);

  it('a MariaDB database named with 50 non-ASCII characters is backed up to local storage, chosen and pruned; a folder name past 255 bytes is refused up front', async () => {
    const db = '数'.repeat(50);
    maria.sql(`create database \`${db}\`; create table \`${db}\`.t (a int); insert into \`${db}\`.t values (1)`);
    const root = mkdtempSync(join(tmpdir(), 'slipway-long-'));
    const first = made(await local(root, '51', { uri: maria.uri(encodeURIComponent(db)) }));
    const second = await local(root, '52', { uri: maria.uri(encodeURIComponent(db)), 'keep-last': '1' });
    made(second);
    expect(deleted(second)).toEqual([first]);
    const verified = await local(root, '53', { mode: 'verify', uri: maria.uri(encodeURIComponent(db)) });
    expect(made(verified)).toBe(second.outputs['backup-name']);
    // Another long name with the same start is another folder.
    maria.sql(`create database \`${db.slice(0, 49)}x\``);
    maria.sql(`create table \`${db.slice(0, 49)}x\`.t (a int); insert into \`${db.slice(0, 49)}x\`.t values (2)`);
    const sibling = made(await local(root, '54', { uri: maria.uri(encodeURIComponent(`${db.slice(0, 49)}x`)), 'keep-last': '1' }));
    expect(sibling.split('/')[1]).not.toBe(first.split('/')[1]);
    expect(existsSync(join(root, second.outputs['backup-name'] ?? ''))).toBe(true);

    const parent = mkdtempSync(join(tmpdir(), 'slipway-long-prefix-'));
    expectInputError(await local(join(parent, 'backups'), '55', { uri: maria.uri(encodeURIComponent(db)), prefix: `nightly/${'p'.repeat(300)}` }), 'prefix');
    expectInputError(await local(join(parent, 'backups'), '55', { uri: maria.uri(encodeURIComponent(db)), prefix: 'p/'.repeat(400) }), 'prefix');
    expect(readdirSync(parent)).toEqual([]);
  }, 180_000);

  it('two runs writing one name at once (a matrix, the same second) leave one intact backup', async () => {
    pg.sql('create database race');
    // Incompressible data and small blocks: the upload takes many blocks, so the two runs' blocks interleave.
    pg.sql(`create table noise (b bytea); insert into noise select decode(string_agg(lpad(to_hex((random() * 255)::int), 2, '0'), ''), 'hex') from generate_series(1, 4000000)`, 'race');
    const inputs = { uri: pg.uri('race'), compression: 'none', 'block-size': '1', 'upload-concurrency': '1', verify: 'none', 'encryption-passphrase': 'correct horse battery staple' };
    let collided = 0;
    for (let attempt = 0; attempt < 6 && collided < 2; attempt++) {
      const container = `race${attempt}`;
      const runs = await Promise.all([azure(container, '61', inputs), azure(container, '61', inputs)]);
      const names = runs.map((r) => r.outputs['backup-name']).filter(Boolean);
      if (runs.every((r) => r.exitCode === 0)) continue; // different seconds: no clash this time
      collided++;
      expect(names).toHaveLength(1);
      expect(runs.find((r) => r.exitCode !== 0)?.stdout).toContain('already exists; nothing was overwritten');
      const blob = (await azurite.blobs(container)).find((b) => b.name === names[0]);
      const data = await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).getBlobClient(names[0] ?? '').downloadToBuffer();
      expect(createHash('sha256').update(data).digest('hex'), 'the committed blob is the winner\'s bytes').toBe(blob?.metadata?.sha256);
    }
    expect(collided, 'two runs started together never wrote the same name').toBeGreaterThan(0);
  }, 600_000);

  it('old MongoDB backups of every database are not the backups of a database named all', async () => {
    const client = new MongoClient(mongo.uri());
    try {
      for (const db of ['x', 'all']) await client.db(db).collection('marker').insertOne({ v: db });
    } finally {
      await client.close();
    }
    const c = 'legacy-all';
    const before = process.env.SLIPWAY_DIST;
    process.env.SLIPWAY_DIST = join(legacyDist, 'dist');
    let everything: string;
    try {
      everything = made(await azure(c, '71', { uri: mongo.uri() }));
    } finally {
      if (before === undefined) delete process.env.SLIPWAY_DIST;
      else process.env.SLIPWAY_DIST = before;
    }
    expect(everything).toMatch(/^mongodb\/all\//);

    const named = await azure(c, '72', { uri: mongo.uri('all'), 'keep-last': '1' });
    made(named);
    expect(deleted(named)).toEqual([]);
    const verified = await azure(c, '73', { mode: 'verify', uri: mongo.uri('all') });
    expect(made(verified)).toBe(named.outputs['backup-name']);
    // Every database's own retention does count it, once told that the old backup is this server's.
    const all = await azure(c, '74', { uri: mongo.uri(), 'keep-last': '1', 'legacy-server': new URL(mongo.uri()).host });
    made(all);
    expect(deleted(all)).toEqual([everything]);
    expect((await azurite.blobs(c)).map((b) => b.name)).toContain(named.outputs['backup-name']);
  }, 240_000);
});
