// PostgreSQL restores through the bundle, into targets that hold other objects, with a failure injected
// half way: a dependent view, a name clash with a sequence, view, function or type, a killed pg_restore,
// a blob changed between downloads, more tables than the lock table holds. After each, a full schema +
// data dump of the target (pg_dump) is either exactly as before or exactly the backup plus the others.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction } from '../helpers/action';
import { startAzurite, type Azurite } from '../services/azurite';
import { startPostgres, type Postgres } from '../services/postgres';
import { expectInputError, expectNoLeaks } from './harness';
import { backupDb, signalWhen, makeBackup, program, RUN_ENV, tamperingStore } from './restore-fixtures';

let pg: Postgres;
let azurite: Azurite;
const dir = mkdtempSync(join(tmpdir(), 'slipway-restore-pg-'));
const local = join(dir, 'store');
let backup: string;
const secrets = () => [pg.password];

/** The backup: tables with a foreign key and enough rows that a restore takes a moment, a view, a function, a type. */
const SOURCE = `
  create type status as enum ('new', 'paid');
  create table customers (id serial primary key, name text not null, state status not null default 'new');
  create table orders (id bigserial primary key, customer int not null references customers, total numeric(12, 2), note text);
  insert into customers (name) select 'customer ' || g from generate_series(1, 300) g;
  insert into orders (customer, total, note) select 1 + g % 300, g * 1.5, md5(g::text) || md5((g * 7)::text) from generate_series(1, 150000) g;
  create index orders_customer on orders (customer);
  create view order_totals as select customer, sum(total) as total from orders group by customer;
  create function order_count() returns bigint language sql as 'select count(*) from orders';`;

/** What the target holds besides: a table with data, a view, a function, a sequence that has been used. */
const OTHERS = `
  create table keep_me (id int primary key, v text);
  insert into keep_me select g, 'keep ' || g from generate_series(1, 50) g;
  create view keep_view as select count(*) as n from keep_me;
  create function keep_fn() returns int language sql as 'select 7';
  create sequence keep_seq start 40;
  select nextval('keep_seq');`;

/** A full schema + data dump of a database (pg_dump's random \\restrict keys left out). */
function state(database: string): string {
  const run = spawnSync('pg_dump', ['--no-owner', '--no-privileges', `--dbname=${pg.uri(database)}`], { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.replace(/^\\(un)?restrict .*$/gm, '');
}

let databases = 0;
/** A fresh database with the given SQL run in it. */
function database(sql: string): string {
  const name = `t${++databases}`;
  pg.sql(`create database ${name}`);
  if (sql.trim()) pg.sql(sql, name);
  return name;
}

/** The source restored by the reference tools into a database that holds OTHERS: what a full restore must equal. */
function expected(): string {
  const name = database(OTHERS);
  const restore = spawnSync('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${pg.uri(name)}`, join(dir, 'source.dump')], { encoding: 'utf8' });
  if (restore.status !== 0) throw new Error(restore.stderr);
  return state(name);
}

const restore = (target: string, inputs: Record<string, string> = {}) =>
  backupDb({ mode: 'restore', storage: 'local', 'local-path': local, 'target-uri': pg.uri(target), databases: 'source', backup, ...inputs }, secrets());

beforeAll(async () => {
  [pg, azurite] = await Promise.all([startPostgres(), startAzurite()]);
  pg.sql('create database source');
  pg.sql(SOURCE, 'source');
  const dump = spawnSync('pg_dump', ['--format=custom', `--file=${join(dir, 'source.dump')}`, `--dbname=${pg.uri('source')}`], { encoding: 'utf8' });
  if (dump.status !== 0) throw new Error(dump.stderr);
  backup = await makeBackup({ uri: pg.uri('source'), storage: 'local', 'local-path': local }, secrets());
}, 180_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), azurite?.stop()]);
});

describe('PostgreSQL restore: all or nothing, in one transaction', () => {
  it('without drop, into a target holding other objects: the backup is added, the others are untouched', async () => {
    const target = database(OTHERS);
    const run = await restore(target);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(state(target)).toBe(expected());
  }, 120_000);

  it('with drop, over an older copy next to other objects: the copy is replaced, the others are untouched', async () => {
    const target = database(OTHERS);
    spawnSync('pg_restore', ['--no-owner', `--dbname=${pg.uri(target)}`, join(dir, 'source.dump')]);
    pg.sql(`delete from orders where id > 1000; alter table customers add column legacy int; create or replace function order_count() returns bigint language sql as 'select 0::bigint'`, target);
    const run = await restore(target, { drop: 'true' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(state(target)).toBe(expected());
  }, 120_000);

  // Before: only tables were checked, so these started the restore and stopped half way with the backup's tables created.
  for (const [what, sql, clash] of [
    ['a sequence named as the backup\'s view', 'create sequence order_totals', 'sequence public.order_totals'],
    ['a view named as the backup\'s sequence', 'create view orders_id_seq as select 1 as x', 'view public.orders_id_seq'],
    ['a function of the backup\'s signature', "create function order_count() returns bigint language sql as 'select 1::bigint'", 'function public.order_count()'],
    ['a type of the backup\'s name', "create type status as enum ('x')", 'type public.status'],
  ] as const) {
    it(`without drop, ${what} stops it before anything runs`, async () => {
      const target = database(`${OTHERS}; ${sql}`);
      const before = state(target);
      const run = await restore(target);
      expect(state(target)).toBe(before);
      expectInputError(run, 'drop');
      expect(run.stdout).toContain(clash);
      expect(run.stdout).toMatch(/nothing was changed/);
    }, 120_000);
  }

  it('with drop, a view of the target on a backup table stops it half way, and all of it is rolled back', async () => {
    const target = database(OTHERS);
    spawnSync('pg_restore', ['--no-owner', `--dbname=${pg.uri(target)}`, join(dir, 'source.dump')]);
    pg.sql(`delete from orders where id > 10; create view big_spenders as select customer from orders where total > 100`, target);
    const before = state(target);
    const run = await restore(target, { drop: 'true' });
    expect(state(target)).toBe(before);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*cannot drop .*orders.*because other objects depend on it.*rolled back; nothing was changed/s);
  }, 120_000);

  it('pg_restore killed half way through the data: rolled back', async () => {
    const target = database(OTHERS);
    const before = state(target);
    const copying = () => pg.sql(`select count(*) from pg_stat_activity where datname = '${target}' and query like 'COPY%'`).trim() !== '0';
    const [run, killed] = await Promise.all([restore(target), signalWhen(program('pg_restore', { without: '--list' }), copying)]);
    expect(state(target)).toBe(before);
    expect(killed.length).toBeGreaterThan(0);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*pg_restore.*(killed|SIGKILL|exited)/);
  }, 120_000);

  it('a blob changed between downloads: what is restored is what was checked, or nothing', async () => {
    // Two backups of the same database in one container: the second says every customer is "evil".
    const common = { 'azure-connection-string': azurite.connectionString, container: 'swapped' };
    const genuine = await makeBackup({ ...common, uri: pg.uri('source') }, secrets());
    pg.sql('create database evil template source');
    pg.sql(`update customers set name = 'evil'`, 'evil');
    const other = await makeBackup({ ...common, uri: pg.uri('evil') }, secrets());
    const otherBytes = await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('swapped').getBlobClient(other).downloadToBuffer();

    // From the second download on, the store serves the other backup: a check on one read and a restore from another would restore "evil".
    const later = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 2);
    try {
      const target = database(OTHERS);
      const run = await backupDb({ mode: 'restore', 'azure-connection-string': later.connectionString, container: 'swapped', 'target-uri': pg.uri(target), databases: 'source', backup: genuine }, secrets());
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(pg.sql(`select count(*) from customers where name = 'evil'`, target).trim()).toBe('0');
      expect(state(target)).toBe(expected());
    } finally {
      await later.close();
    }

    // Every download changed: the checksum of the restored bytes fails before COMMIT.
    const always = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 1);
    try {
      const target = database(OTHERS);
      const before = state(target);
      const run = await backupDb({ mode: 'restore', 'azure-connection-string': always.connectionString, container: 'swapped', 'target-uri': pg.uri(target), databases: 'source', backup: genuine }, secrets());
      expect(state(target)).toBe(before);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::.*checksum mismatch for .*nothing was changed/);
    } finally {
      await always.close();
    }
  }, 180_000);

  it('with drop, an extension the backup and the target share is kept: the target\'s own use of it is untouched', async () => {
    pg.sql('create database crypto');
    pg.sql(`create extension pgcrypto; create table tokens (id int primary key, token text not null default encode(gen_random_bytes(8), 'hex')); insert into tokens (id) select g from generate_series(1, 20) g`, 'crypto');
    const withExtension = await makeBackup({ uri: pg.uri('crypto'), storage: 'local', 'local-path': local }, secrets());
    // Before: pg_restore --clean dropped the extension, which the target's column default needs, and the restore failed.
    const target = database(`${OTHERS}; create extension pgcrypto; create table mine (id int primary key, salt text default encode(gen_random_bytes(4), 'hex')); insert into mine (id) values (1)`);
    const run = await backupDb({ mode: 'restore', storage: 'local', 'local-path': local, 'target-uri': pg.uri(target), databases: 'crypto', backup: withExtension, drop: 'true' }, secrets());
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(pg.sql(`select count(*), count(distinct token) from tokens`, target).trim()).toBe('20|20');
    pg.sql('insert into mine (id) values (2)', target);
    expect(pg.sql(`select count(*) from mine where length(salt) = 8`, target).trim()).toBe('2');
  }, 120_000);

  it('2,000 tables in one transaction: past max_locks_per_transaction it says what to set and changes nothing; with that set it restores', async () => {
    pg.sql('create database many');
    pg.sql(`do $$ begin for i in 1..2000 loop execute format('create table t%s (id serial primary key, v text); insert into t%s (v) values (''x'')', i, i); end loop; end $$`, 'many');
    const many = await makeBackup({ uri: pg.uri('many'), storage: 'local', 'local-path': local }, secrets());
    const tight = await startPostgres({ max_locks_per_transaction: '10' });
    let roomy: Postgres | undefined;
    try {
      tight.sql('create database target');
      tight.sql(OTHERS, 'target');
      const dump = () => spawnSync('pg_dump', ['--no-owner', `--dbname=${tight.uri('target')}`], { encoding: 'utf8' }).stdout.replace(/^\\(un)?restrict .*$/gm, '');
      const before = dump();
      const inputs = { mode: 'restore', storage: 'local', 'local-path': local, databases: 'many', backup: many };
      const refused = await runAction('backup-db', { ...inputs, 'target-uri': tight.uri('target') }, RUN_ENV);
      expect(dump()).toBe(before);
      expectNoLeaks(refused, [tight.password]);
      expect(refused.exitCode).toBe(1);
      const setting = /set max_locks_per_transaction to (\d+) or more on the target server/.exec(refused.stdout)?.[1];
      expect(setting, refused.stdout).toBeDefined();
      expect(refused.stdout).toMatch(/nothing was changed/);

      roomy = await startPostgres({ max_locks_per_transaction: setting as string });
      roomy.sql('create database target');
      const restored = await runAction('backup-db', { ...inputs, 'target-uri': roomy.uri('target') }, RUN_ENV);
      expect(restored.exitCode, restored.stdout + restored.stderr).toBe(0);
      expect(roomy.sql(`select count(*) from pg_tables where schemaname = 'public'`, 'target').trim()).toBe('2000');
      expect(roomy.sql('select v from t2000', 'target').trim()).toBe('x');
    } finally {
      await Promise.all([tight.stop(), roomy?.stop()]);
    }
  }, 300_000);
});

