// PostgreSQL client selection at its edges, through the bundle (regressions of a hostile review): the
// input a URI without its database is blamed on, a backup written by a newer pg_dump than the verifying
// or restoring client (recorded in its metadata, or not: made before that was recorded), passwords
// on the paths that choose the client, and unusual postgres-bin folders.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import type { EmbeddedMajor } from '../../../test/services/embedded-postgres.mjs';
import { startPostgres, type Postgres } from '../../../test/services/postgres';

const RUN_ENV = runEnv('4343');
const PASSWORD = 'p@ss:w/rd%?#& x';

/** This machine's client, as Debian installs it. */
function machineClient(): { bin: string; version: string; major: number } {
  const run = spawnSync('pg_dump', ['--version'], { encoding: 'utf8' });
  const m = /\(PostgreSQL\) ((\d+)\.\d+)/.exec(run.stdout ?? '');
  if (!m) throw new Error(`pg_dump is not installed (apt-get install postgresql-client; npm test's pretest installs postgresql): ${run.stderr ?? run.error}`);
  return { bin: `/usr/lib/postgresql/${m[2]}/bin`, version: m[1] as string, major: Number(m[2]) };
}
const CLIENT = machineClient();
const CLIENT_BIN = CLIENT.bin;

let azurite: Azurite;
let old: Postgres; // 13: this machine's client is new enough
let newer: Postgres; // the next major: this machine's client is too old
const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-hostile-'));

beforeAll(async () => {
  azurite = await startAzurite();
  // The archive written below (format 1.16, pg_dump 17's) and the next server must both be newer than the client.
  if (CLIENT.major >= 17) throw new Error(`this machine's pg_dump ${CLIENT.version} reads pg_dump 17's archives: raise the simulated pg_dump's version and archive format below`);
  [old, newer] = await Promise.all([startPostgres({}, { major: 13 }), startPostgres({}, { major: (CLIENT.major + 1) as EmbeddedMajor })]);
  for (const pg of [old, newer]) {
    pg.sql('create database shop');
    pg.sql('create table t (id int); insert into t select generate_series(1, 10);', 'shop');
    pg.sql(`create role hostile login superuser password '${PASSWORD.replace(/'/g, "''")}'`);
  }
}, 300_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), old?.stop(), newer?.stop()]);
});

const common = (container: string) => ({ 'azure-connection-string': azurite.connectionString, container });
const log = (run: ActionRun) => visible(run.stdout) + run.stderr;
const errorLine = (run: ActionRun) =>
  (run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '').replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
const container = (name: string) => BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(name);
async function stored(name: string): Promise<string[]> {
  if (!(await container(name).exists())) return [];
  return (await azurite.blobs(name)).map((b) => b.name);
}
const metadata = async (box: string, name: string) => (await container(box).getBlobClient(name).getProperties()).metadata ?? {};
const PGDG = 'https://apt.postgresql.org/pub/repos/apt $(lsb_release -cs)-pgdg main" | sudo tee /etc/apt/sources.list.d/pgdg.list';
const hostileUri = (pg: Postgres, password = PASSWORD, database = 'shop') => `postgres://hostile:${encodeURIComponent(password)}@127.0.0.1:${pg.port}/${database}`;

describe('a URI without its database is refused naming the input it came from', () => {
  it('a verify-uri without a database is refused naming verify-uri, not uri, and nothing is stored', async () => {
    const run = await runAction('backup-db', { ...common('noverifydb'), uri: old.uri('shop'), verify: 'restore', 'verify-uri': `postgres://slipway:${old.password}@127.0.0.1:${old.port}` }, RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(await stored('noverifydb')).toEqual([]);
    expect(errorLine(run)).toContain("Input 'verify-uri'");
  });

  it('a target-uri without a database is refused naming target-uri, not uri', async () => {
    const made = await runAction('backup-db', { ...common('notargetdb'), uri: old.uri('shop') }, RUN_ENV);
    expect(made.exitCode, log(made)).toBe(0);
    const run = await runAction('backup-db', { ...common('notargetdb'), mode: 'restore', databases: 'shop', 'target-uri': `postgres://slipway:${old.password}@127.0.0.1:${old.port}` }, RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(errorLine(run)).toContain("Input 'target-uri'");
  });
});

describe('a backup written by a newer pg_dump than the verifying or restoring client', () => {
  // The backing-up runner has pgdg's pg_dump 17 (simulated: this machine's client, with the archive
  // header's minor version set to 16, as pg_dump 17 writes it); the verifying or restoring one has this machine's.
  const newerBin = join(dir, 'pg17');
  beforeAll(() => {
    mkdirSync(newerBin);
    writeFileSync(
      join(newerBin, 'pg_dump'),
      `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 17.10"; exit 0; fi\n${CLIENT_BIN}/pg_dump "$@" | node -e 'let f=true;process.stdin.on("data",c=>{if(f){c[6]=16;f=false}process.stdout.write(c)})'\n`,
    );
    chmodSync(join(newerBin, 'pg_dump'), 0o755);
    for (const p of ['psql', 'pg_restore']) symlinkSync(join(CLIENT_BIN, p), join(newerBin, p));
  });

  /** Refused before the backup is read or the target touched: both versions, what to install, and the input that chooses another client. */
  function expectTooOldForBackup(run: ActionRun, newer: RegExp): void {
    expect(run.exitCode, log(run)).toBe(1);
    const text = errorLine(run);
    expect(text).toContain(`pg_dump ${CLIENT.version} (${CLIENT_BIN}) is older than the pg_dump `);
    expect(text).toMatch(newer);
    expect(text).toContain('nothing was done');
    expect(text).toContain(PGDG);
    expect(text).toContain('sudo apt-get install -y postgresql-client-17');
    expect(text).toContain('Or set postgres-bin to the bin folder of a PostgreSQL 17 client or newer.');
  }
  const RECORDED = /than the pg_dump 17\.10 that wrote the backup, whose archive its pg_restore cannot read/;
  // A backup made before the pg_dump version was recorded: pg_restore's refusal is read instead.
  const UNRECORDED = /than the pg_dump that wrote the backup, whose archive format 1\.16 its pg_restore cannot read \(a PostgreSQL 17 client or newer can\)/;

  /** A backup of old's shop written by the simulated pg_dump 17; `recorded: false` takes its pg_dump version out of its metadata. */
  async function newerBackup(box: string, recorded: boolean): Promise<string> {
    const made = await runAction('backup-db', { ...common(box), uri: old.uri('shop'), verify: 'none', 'postgres-bin': newerBin }, RUN_ENV);
    expect(made.exitCode, log(made)).toBe(0);
    const name = made.outputs['backup-name'] ?? '';
    const { pg_dump_version: version, ...rest } = await metadata(box, name);
    expect(version).toBe('17.10');
    if (!recorded) await container(box).getBlobClient(name).setMetadata(rest);
    return name;
  }

  it.each([
    ['records its pg_dump', true, RECORDED],
    ['was made before backups recorded their pg_dump', false, UNRECORDED],
  ])('verify: checksum of a backup that %s is refused on the older client, and the sound backup is not marked', async (_, recorded, newer) => {
    const box = `newdump-checksum-${recorded}`;
    const name = await newerBackup(box, recorded);
    const run = await runAction('backup-db', { ...common(box), mode: 'verify', uri: old.uri('shop'), verify: 'checksum' }, RUN_ENV);
    expectTooOldForBackup(run, newer);
    expect(run.stdout).toContain('could not run to a verdict; the backup is not marked as failed');
    expect(run.outputs.verified).toBeUndefined();
    const after = await metadata(box, name);
    expect(after.verify_failed_at, `the sound backup was marked failed: ${decodeURIComponent(after.verify_failure ?? '')}`).toBeUndefined();
    expect(after.verified_at).toBeUndefined();
  }, 60_000);

  it.each([
    ['records its pg_dump', true, RECORDED],
    ['was made before backups recorded their pg_dump', false, UNRECORDED],
  ])('a restore of a backup that %s is refused on the older client, and leaves the target as it was', async (_, recorded, newer) => {
    const box = `newdump-restore-${recorded}`;
    await newerBackup(box, recorded);
    const target = `target_newdump_${recorded}`;
    old.sql(`create database ${target}`);
    old.sql('create table marker (id int); insert into marker values (1);', target);
    const run = await runAction('backup-db', { ...common(box), mode: 'restore', databases: 'shop', 'target-uri': old.uri(target) }, RUN_ENV);
    expectTooOldForBackup(run, newer);
    expect(old.sql('select count(*) from marker', target).trim()).toBe('1');
    expect(old.sql(`select count(*) from pg_tables where tablename = 't'`, target).trim()).toBe('0');
  }, 60_000);

  it('verify: restore of a backup made before backups recorded their pg_dump is refused on the older client, drops its scratch database and marks nothing', async () => {
    const box = 'newdump-verify-restore';
    const name = await newerBackup(box, false);
    const before = old.sql('select datname from pg_database order by 1');
    const run = await runAction('backup-db', { ...common(box), mode: 'verify', uri: old.uri('shop'), verify: 'restore', 'verify-uri': old.uri() }, RUN_ENV);
    expectTooOldForBackup(run, UNRECORDED);
    expect(old.sql('select datname from pg_database order by 1')).toBe(before);
    expect((await metadata(box, name)).verify_failed_at).toBeUndefined();
  }, 60_000);
});

describe('the password never shows where the client is chosen', () => {
  const encoded = encodeURIComponent(PASSWORD);
  const leaks = (run: ActionRun) =>
    [PASSWORD, encoded, encoded.toLowerCase(), 'w/rd%?#'].filter((s) => [visible(run.stdout), run.stderr, run.summary, JSON.stringify(run.outputs), errorLine(run)].some((t) => t.includes(s)));

  it.each([
    ['too old for the server', () => ({ uri: hostileUri(newer) })],
    ['too old for the verify server', () => ({ uri: hostileUri(old), verify: 'restore', 'verify-uri': hostileUri(newer, PASSWORD, 'postgres') })],
    ['wrong password', () => ({ uri: hostileUri(old, `${PASSWORD}y`) })],
    ['nothing listening', () => ({ uri: `postgres://hostile:${encoded}@127.0.0.1:1/shop` })],
    ['no such database', () => ({ uri: hostileUri(old, PASSWORD, 'nope') })],
    ['restore target too new', () => ({ mode: 'restore', databases: 'shop', 'target-uri': hostileUri(newer) })],
  ])('%s', async (_, inputs) => {
    const run = await runAction('backup-db', { ...common('pw-leak'), ...inputs() }, RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(errorLine(run)).not.toBe('');
    expect(leaks(run)).toEqual([]);
    expect(await stored('pw-leak')).toEqual([]);
  }, 60_000);
});

describe('postgres-bin: unusual and bad folders', () => {
  it('a folder with spaces in its name, given relative to the workspace with .., works', async () => {
    const spaced = join(dir, 'my client', 'bin');
    mkdirSync(spaced, { recursive: true });
    for (const p of ['pg_dump', 'psql', 'pg_restore']) symlinkSync(join(CLIENT_BIN, p), join(spaced, p));
    // runAction runs in a fresh folder under tmpdir: ../<dir>/… from there.
    const rel = join('..', relative(tmpdir(), spaced));
    const run = await runAction('backup-db', { ...common('spaced'), uri: old.uri('shop'), 'postgres-bin': rel, verify: 'checksum' }, RUN_ENV);
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.stdout).toContain(`in ${spaced}`);
  }, 60_000);

  it.each([
    ['huge', 'x'.repeat(20_000), /expected a folder path without control characters, under 4,096 characters/],
    ['a file', `${CLIENT_BIN}/pg_dump`, /expected a folder that exists on the runner/],
    ['a pg_dump that prints a version then exits non-zero', 'FAKE', /expected a folder whose pg_dump runs \(`pg_dump --version` exited with code 3, printing "pg_dump \(PostgreSQL\) 99\.0"\)/],
  ])('%s is refused naming the input, with a short message', async (_, value, expected) => {
    let bin = value;
    if (value === 'FAKE') {
      bin = join(dir, 'fake');
      mkdirSync(bin);
      for (const p of ['pg_dump', 'psql', 'pg_restore']) {
        writeFileSync(join(bin, p), `#!/bin/sh\necho "${p} (PostgreSQL) 99.0"\nexit 3\n`);
        chmodSync(join(bin, p), 0o755);
      }
    }
    const run = await runAction('backup-db', { ...common('badbin'), uri: old.uri('shop'), 'postgres-bin': bin }, RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(errorLine(run)).toContain("Input 'postgres-bin'");
    expect(errorLine(run)).toMatch(expected);
    expect(errorLine(run).length).toBeLessThan(1000);
    expect(await stored('badbin')).toEqual([]);
  }, 60_000);
});
