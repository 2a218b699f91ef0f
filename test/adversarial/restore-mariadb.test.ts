// MySQL/MariaDB restores through the bundle, into targets that hold other tables, views, routines,
// triggers and events, with a failure injected half way: a name clash with a view, routine, event or
// trigger, a killed client, a duplicate row, a foreign key from outside the backup, a blob changed
// between downloads, a second restore meeting a running one, the action's node killed. After each, a
// full schema + data dump of the target (mariadb-dump with routines, triggers and events) is either
// exactly as before or exactly the backup plus the others.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BlobServiceClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../services/azurite';
import { startMariaDb, type MariaDb } from '../services/mariadb';
import { expectInputError } from './harness';
import { backupDb, craftBackup, makeBackup, ourProcesses, program, signalWhen, tamperingStore, until, whileStopped } from './restore-fixtures';

let maria: MariaDb;
let azurite: Azurite;
const dir = mkdtempSync(join(tmpdir(), 'slipway-restore-my-'));
const local = join(dir, 'store');
let backup: string;
const secrets = () => [maria.password];

/** The backup: tables with a foreign key and enough rows that a restore takes a moment, a trigger, a view on a view, routines, an event. */
const SOURCE = `
  CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL) ENGINE=InnoDB;
  CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, total DECIMAL(12,2), note VARCHAR(64), FOREIGN KEY (customer) REFERENCES customers (id)) ENGINE=InnoDB;
  CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(100)) ENGINE=InnoDB;
  INSERT INTO customers (name) SELECT CONCAT('customer ', seq) FROM seq_1_to_300;
  INSERT INTO orders (customer, total, note) SELECT 1 + seq % 300, seq * 1.5, MD5(seq) FROM seq_1_to_150000;
  CREATE TRIGGER orders_ai AFTER INSERT ON orders FOR EACH ROW INSERT INTO audit (what) VALUES (CONCAT('order ', NEW.id));
  CREATE VIEW order_totals AS SELECT customer, SUM(total) AS total FROM orders GROUP BY customer;
  CREATE VIEW top_customers AS SELECT customer FROM order_totals WHERE total > 100000;
  CREATE FUNCTION shout(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN CONCAT(UPPER(s), '!');
  CREATE PROCEDURE order_count() SELECT COUNT(*) FROM orders;
  CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit;`;

/** What the target holds besides: a table with data and a trigger, a view, a function, an event. */
const OTHERS = `
  CREATE TABLE keep_me (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
  INSERT INTO keep_me SELECT seq, CONCAT('keep ', seq) FROM seq_1_to_50;
  CREATE TRIGGER keep_bi BEFORE INSERT ON keep_me FOR EACH ROW SET NEW.v = UPPER(NEW.v);
  CREATE VIEW keep_view AS SELECT COUNT(*) AS n FROM keep_me;
  CREATE FUNCTION keep_fn() RETURNS INT DETERMINISTIC RETURN 7;
  CREATE EVENT keep_event ON SCHEDULE EVERY 1 HOUR STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM keep_me WHERE id < 0;`;

const DUMP = ['--single-transaction', '--routines', '--triggers', '--events', '--hex-blob', '--skip-add-drop-table', '--default-character-set=utf8mb4'];

function client(args: string[], input?: string): string {
  const url = new URL(maria.uri());
  const run = spawnSync(args[0] as string, [`--user=slipway`, `--password=${maria.password}`, '--host=127.0.0.1', `--port=${url.port}`, '--protocol=tcp', ...args.slice(1)], { encoding: 'utf8', input, maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout;
}

/** A full schema + data dump of a database, with routines, triggers and events. */
const state = (database: string) => client(['mariadb-dump', ...DUMP, '--skip-dump-date', '--skip-comments', '--', database]);
/** Every database on the server: a restore stages in a scratch database, which must be gone afterwards. */
const databasesNow = () => maria.sql('SHOW DATABASES');

let count = 0;
function database(sql: string): string {
  const name = `t${++count}`;
  maria.sql(`CREATE DATABASE ${name}`);
  if (sql.trim()) maria.sql(sql, name);
  return name;
}

/** The source loaded by the reference client into a database that holds OTHERS: what a full restore must equal. */
function expected(): string {
  const name = database(OTHERS);
  client(['mariadb', name], readFileSync(join(dir, 'source.sql'), 'utf8'));
  return state(name);
}

/** A target with OTHERS and an older, different copy of the backup's objects. */
function withOlderCopy(): string {
  const name = database(OTHERS);
  client(['mariadb', name], readFileSync(join(dir, 'source.sql'), 'utf8'));
  maria.sql(`DELETE FROM orders WHERE id > 1000; ALTER TABLE customers ADD COLUMN legacy INT; DROP FUNCTION shout; CREATE FUNCTION shout(s VARCHAR(20)) RETURNS VARCHAR(40) DETERMINISTIC RETURN s;`, name);
  return name;
}

/** The client loading the dump, and whether it is inserting the backup's largest table. */
const loader = program('mariadb', { having: '--binary-mode', without: '--batch' });
const inserting = () => maria.sql(`SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'INSERT INTO \`orders\`%'`).trim() !== '0';

const restore = (target: string, inputs: Record<string, string> = {}) =>
  backupDb({ mode: 'restore', storage: 'local', 'local-path': local, 'target-uri': maria.uri(target), databases: 'source', backup, ...inputs }, secrets());

beforeAll(async () => {
  [maria, azurite] = await Promise.all([startMariaDb(), startAzurite()]);
  maria.sql('CREATE DATABASE source');
  maria.sql(SOURCE, 'source');
  writeFileSync(join(dir, 'source.sql'), client(['mariadb-dump', ...DUMP, '--', 'source']));
  backup = await makeBackup({ uri: maria.uri('source'), storage: 'local', 'local-path': local }, secrets());
}, 180_000);
afterAll(async () => {
  await Promise.all([maria?.stop(), azurite?.stop()]);
});

describe('MySQL/MariaDB restore: staged in a scratch database, swapped in by one RENAME TABLE', () => {
  it('with drop, over an older copy next to other objects: only the backup\'s objects are replaced, nothing else is dropped', async () => {
    const target = withOlderCopy();
    const servers = databasesNow();
    const run = await restore(target, { drop: 'true' });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(databasesNow()).toBe(servers);
    expect(state(target)).toBe(expected());
    expect(maria.sql('SELECT keep_fn(), (SELECT n FROM keep_view), shout(\'hi\')', target).trim()).toBe('7\t50\tHI!');
  }, 120_000);

  it('without drop, into a target holding other objects: the backup is added, the others are untouched', async () => {
    const target = database(OTHERS);
    const run = await restore(target);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(state(target)).toBe(expected());
  }, 120_000);

  // Before: only base tables were checked, so these ran the dump, whose DROP VIEW IF EXISTS replaced
  // the target's view, or which stopped half way with the tables loaded.
  for (const [what, sql, clash] of [
    ['a view of the backup\'s view name', 'CREATE VIEW order_totals AS SELECT 1 AS mine', 'view order_totals'],
    ['a table of the backup\'s view name', 'CREATE TABLE top_customers (mine INT)', 'table top_customers'],
    ['a procedure of the backup\'s name', 'CREATE PROCEDURE order_count() SELECT 42', 'procedure order_count'],
    ['a function of the backup\'s name', 'CREATE FUNCTION shout(s INT) RETURNS INT DETERMINISTIC RETURN s', 'function shout'],
    ['an event of the backup\'s name', "CREATE EVENT purge_audit ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO SELECT 1", 'event purge_audit'],
    ['a trigger of the backup\'s name', 'CREATE TRIGGER orders_ai BEFORE UPDATE ON keep_me FOR EACH ROW SET NEW.v = NEW.v', 'trigger orders_ai'],
  ] as const) {
    it(`without drop, ${what} stops it before the target is touched`, async () => {
      const target = database(`${OTHERS}; ${sql}`);
      const before = state(target);
      const servers = databasesNow();
      const run = await restore(target);
      expect(state(target)).toBe(before);
      expectInputError(run, 'drop');
      expect(run.stdout).toContain(clash);
      expect(run.stdout).toMatch(/nothing was changed/);
      expect(databasesNow()).toBe(servers);
    }, 120_000);
  }

  it('the client killed half way through the data: the target is as it was, the scratch database gone', async () => {
    const target = database(OTHERS);
    const before = state(target);
    const servers = databasesNow();
    const [run, killed] = await Promise.all([restore(target), signalWhen(loader, inserting)]);
    expect(state(target)).toBe(before);
    expect(killed.length).toBeGreaterThan(0);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*(killed|SIGKILL|exited).*Nothing was changed/);
    expect(databasesNow()).toBe(servers);
  }, 120_000);

  it('a duplicate row in the last table fails the load: with or without drop, the target is as it was', async () => {
    // A dump that dies on its last table, after the others loaded: a duplicate primary key in `orders`.
    const sql = gunzipSync(readFileSync(join(local, ...backup.split('/')))).toString('utf8');
    const bad = sql.replace(/INSERT INTO `orders` VALUES\s*/, (m) => `${m}(1,1,0.00,'duplicate'),`);
    expect(bad).not.toBe(sql);
    const crafted = craftBackup(local, backup, `crafted/mysql/${backup.split('/').pop()?.replace('.gz', '')}`, Buffer.from(bad));
    for (const drop of ['false', 'true']) {
      const target = drop === 'true' ? withOlderCopy() : database(OTHERS);
      const before = state(target);
      const servers = databasesNow();
      const run = await restore(target, { drop, backup: crafted });
      expect(state(target)).toBe(before);
      expect(run.exitCode, run.stdout).toBe(1);
      expect(run.stdout).toMatch(/::error::.*Duplicate entry '\d+' for key 'PRIMARY'/);
      // The client's echo of the failed statement would print the dump's rows.
      expect(run.stdout + run.stderr).not.toMatch(/,'[0-9a-f]{32}'\)/);
      expect(databasesNow()).toBe(servers);
    }
  }, 180_000);

  it('a backup made with include keeps its foreign keys to the target\'s tables it does not hold, not to the scratch database', async () => {
    const partial = await makeBackup({ uri: maria.uri('source'), storage: 'local', 'local-path': local, include: 'orders' }, secrets());
    const target = database(`${OTHERS}; CREATE TABLE customers LIKE source.customers; INSERT INTO customers SELECT * FROM source.customers;`);
    const run = await restore(target, { backup: partial });
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(maria.sql(`SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = '${target}' AND TABLE_NAME = 'orders'`).trim()).toBe(`${target}\tcustomers`);
    expect(maria.sql('SELECT COUNT(*) FROM orders JOIN customers ON customers.id = orders.customer', target).trim()).toBe('150000');
  }, 120_000);

  it('with drop, a foreign key from a table outside the backup stops it before the target is touched', async () => {
    const target = withOlderCopy();
    maria.sql('CREATE TABLE invoices (id INT PRIMARY KEY, customer INT, FOREIGN KEY (customer) REFERENCES customers (id)) ENGINE=InnoDB; INSERT INTO invoices VALUES (1, 1)', target);
    const before = state(target);
    const run = await restore(target, { drop: 'true' });
    expect(state(target)).toBe(before);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*invoices .*references customers.*Nothing was changed/);
  }, 120_000);

  it('a blob changed between downloads: what is restored is what was checked, or nothing', async () => {
    const common = { 'azure-connection-string': azurite.connectionString, container: 'swapped' };
    const genuine = await makeBackup({ ...common, uri: maria.uri('source') }, secrets());
    maria.sql('CREATE DATABASE evil');
    client(['mariadb', 'evil'], readFileSync(join(dir, 'source.sql'), 'utf8'));
    maria.sql(`UPDATE customers SET name = 'evil'`, 'evil');
    const other = await makeBackup({ ...common, uri: maria.uri('evil') }, secrets());
    const otherBytes = await BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('swapped').getBlobClient(other).downloadToBuffer();
    const restoreThrough = (connectionString: string, target: string) =>
      backupDb({ mode: 'restore', 'azure-connection-string': connectionString, container: 'swapped', 'target-uri': maria.uri(target), databases: 'source', backup: genuine }, secrets());

    const later = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 2);
    try {
      const target = database(OTHERS);
      const run = await restoreThrough(later.connectionString, target);
      expect(run.exitCode, run.stdout + run.stderr).toBe(0);
      expect(maria.sql(`SELECT COUNT(*) FROM customers WHERE name = 'evil'`, target).trim()).toBe('0');
      expect(state(target)).toBe(expected());
    } finally {
      await later.close();
    }

    const always = await tamperingStore(azurite, 'swapped', genuine, otherBytes, 1);
    try {
      const target = database(OTHERS);
      const before = state(target);
      const run = await restoreThrough(always.connectionString, target);
      expect(state(target)).toBe(before);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::.*checksum mismatch for .*nothing was changed/i);
    } finally {
      await always.close();
    }
  }, 180_000);
});

describe('MySQL/MariaDB restore: one at a time per database, leftovers of a killed one cleared', () => {
  const action = (argv: string[]) => argv[1]?.endsWith(join('backup-db', 'index.js')) === true;
  const stagingOf = (target: string) => maria.sql(`SHOW DATABASES LIKE '${target}\\_restore\\_%'`).trim().split('\n').filter(Boolean);

  it('a second restore into a database while one runs stops at once and changes nothing; the first completes', async () => {
    const want = expected();
    const target = database(OTHERS);
    const servers = databasesNow();
    const first = restore(target);
    // The first is held half way through its load (its client stopped), so the second surely meets it.
    await whileStopped(loader, inserting, async () => {
      const before = state(target);
      const second = await restore(target);
      expect(second.exitCode, second.stdout).toBe(1);
      expect(second.stdout).toMatch(new RegExp(`::error::.*another restore into ${target} .*nothing was changed`));
      expect(state(target)).toBe(before);
      expect(stagingOf(target)).toHaveLength(1);
    });
    const run = await first;
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(state(target)).toBe(want);
    expect(databasesNow()).toBe(servers);
  }, 180_000);

  it('a database of the user\'s named like a staging one (<db>_restore_20240101) is left alone', async () => {
    const want = expected();
    const target = database(OTHERS);
    const theirs = `${target}_restore_20240101`;
    maria.sql(`CREATE DATABASE ${theirs}; CREATE TABLE ${theirs}.precious (id INT); INSERT INTO ${theirs}.precious VALUES (1)`);
    const servers = databasesNow();
    const run = await restore(target);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toContain('Dropped');
    expect(maria.sql('SELECT id FROM precious', theirs).trim()).toBe('1');
    expect(state(target)).toBe(want);
    expect(databasesNow()).toBe(servers);
  }, 180_000);

  // The lock's name, as restoreMysql derives it from the database's.
  const lockOf = (target: string) => `slipway_restore_${createHash('sha256').update(target).digest('hex').slice(0, 40)}`;

  it('the session holding the lock killed half way: the restore stops before the swap and changes nothing', async () => {
    const target = withOlderCopy();
    const before = state(target);
    const servers = databasesNow();
    const first = restore(target, { drop: 'true' });
    await whileStopped(loader, inserting, () => maria.sql(`KILL ${maria.sql(`SELECT IS_USED_LOCK('${lockOf(target)}')`).trim()}`));
    const run = await first;
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::.*the restore lost its lock .*Nothing was changed/);
    expect(state(target)).toBe(before);
    expect(databasesNow()).toBe(servers);
  }, 180_000);

  it('a server whose wait_timeout is shorter than the restore keeps the lock for the whole restore', async () => {
    const want = expected();
    const target = database(OTHERS);
    const before = state(target);
    maria.sql('SET GLOBAL wait_timeout = 1');
    let run: Awaited<ReturnType<typeof restore>>;
    try {
      const first = restore(target);
      // The restore is held (its node stopped) for longer than the lock's session may idle.
      const lockHeld = () => maria.sql(`SELECT IS_USED_LOCK('${lockOf(target)}') IS NOT NULL`).trim() === '1';
      // Stopped between its queries: a client of its own that the stop kept from sending its query would idle past the timeout too.
      const betweenQueries = () => lockHeld() && ourProcesses(program('mariadb', { without: '--unbuffered' })).length === 0;
      await whileStopped(action, betweenQueries, async () => {
        await new Promise((r) => setTimeout(r, 3000));
        expect(lockHeld()).toBe(true);
      });
      run = await first;
    } finally {
      maria.sql('SET GLOBAL wait_timeout = 28800');
    }
    // A client of the restore's own that the stop caught before it sent its query idles out as well
    // ("Server has gone away"): then the restore fails, and changes nothing.
    if (run.exitCode === 0) expect(state(target)).toBe(want);
    else {
      expect(run.stdout).toMatch(/::error::.*Server has gone away/);
      expect(state(target)).toBe(before);
    }
  }, 180_000);

  it('the action\'s node killed half way (a cancelled job): the next restore drops the staging database it left, and restores', async () => {
    const want = expected();
    const target = database(OTHERS);
    const servers = databasesNow();
    const [killed, killedRun] = await Promise.all([signalWhen(action, inserting, 'SIGKILL'), restore(target)]);
    expect(killed.length).toBeGreaterThan(0);
    expect(killedRun.exitCode).not.toBe(0);
    const [left] = stagingOf(target);
    expect(left).toMatch(new RegExp(`^${target}_restore_[0-9a-f]{8}$`));
    // Its clients read end of file once the node is gone, and the server frees its locks.
    await until(() => maria.sql(`SELECT IS_FREE_LOCK('${left}')`).trim() === '1', `the lock of ${left} to be freed`);
    const run = await restore(target);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Dropped ${left}, a staging database left by an earlier restore of ${target}`);
    expect(state(target)).toBe(want);
    expect(databasesNow()).toBe(servers);
  }, 180_000);
});
