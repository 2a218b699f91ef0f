// Database connection strings with the passwords people really have — unencoded `/`, `#`, `?`, `@`,
// `:`, `%`, `+`, spaces, non-ASCII, digits first — through dist/backup-db against real PostgreSQL,
// MariaDB and FerretDB: the backup, its test restore and a restore work, and nothing a user can see
// (log, outputs, summary) holds the password in any form or any piece of it of 4+ characters.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { startFerretDb, type FerretDb } from '../services/ferretdb';
import { startMariaDb, type MariaDb } from '../services/mariadb';
import { startPostgres, type Postgres } from '../services/postgres';
import { expectInputError, expectNoLeaks } from './harness';

/**
 * Each password as the server knows it, and as written in the URI (unencoded but for `%` as %25, and
 * a newline and a tab, which URL parsers drop, as %0A and %09).
 * Their 4-character pieces occur in no ordinary log line.
 */
const PASSWORDS = {
  postgres: [
    { user: 'adv_pg1', password: 'Kq7/Wx#Vb?Zt@Jm:Ry%Lp+Nü Hs' },
    { user: 'adv_pg2', password: '4821/Qx@Tn#Ke?Wd' },
  ],
  mysql: [
    { user: 'adv_my1', password: "3Fp/Gk#Mv?Qs@Wb%Dj:Xé'Tz" },
    { user: 'adv_my2', password: '90210?Hv/Cq@Bn' },
    // The client's option file holds it: a newline there ended the value.
    { user: 'adv_my3', password: 'Lw"Rn\nKv\tPq"Dm' },
  ],
  mongodb: [
    { user: 'adv_mg1', password: 'Yh5/Lq?Xw#Rt@Yc:Nz+Pö Ud' },
    { user: 'adv_mg2', password: '7713/Jc#Wq@Fv?Gm' },
  ],
};

const written = (password: string) => password.replace(/%/g, '%25').replace(/\n/g, '%0A').replace(/\t/g, '%09');

let pg: Postgres;
let maria: MariaDb;
let mongo: FerretDb;
const RUN_ENV = runEnv('1818');

beforeAll(async () => {
  [pg, maria, mongo] = await Promise.all([startPostgres(), startMariaDb(), startFerretDb()]);
  // No password holds a backslash: doubling `'` quotes them for both servers.
  const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
  for (const { user, password } of PASSWORDS.postgres) pg.sql(`CREATE ROLE ${user} LOGIN SUPERUSER PASSWORD ${sqlString(password)}`);
  pg.sql('CREATE DATABASE shop');
  pg.sql("CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, 250) g;", 'shop');
  for (const { user, password } of PASSWORDS.mysql) maria.sql(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY ${sqlString(password)}; GRANT ALL ON *.* TO '${user}'@'127.0.0.1';`);
  maria.sql('CREATE DATABASE shop CHARACTER SET utf8mb4');
  maria.sql("CREATE TABLE orders (id INT PRIMARY KEY, item VARCHAR(40)) ENGINE=InnoDB; INSERT INTO orders VALUES (1, 'one'), (2, 'two'), (3, 'three');", 'shop');
  const client = new MongoClient(mongo.uri());
  try {
    // FerretDB v1 knows no roles: every user may do everything.
    for (const { user, password } of PASSWORDS.mongodb) await client.db('admin').command({ createUser: user, pwd: password, roles: [] });
    await client.db('app').collection('users').insertMany(Array.from({ length: 120 }, (_, i) => ({ i, name: `user ${i}` })));
  } finally {
    await client.close();
  }
}, 180_000);
afterAll(async () => {
  await Promise.all([pg?.stop(), maria?.stop(), mongo?.stop()]);
});

function uriOf(engine: keyof typeof PASSWORDS, user: string, password: string, database: string): string {
  if (engine === 'postgres') return `postgres://${user}:${written(password)}@127.0.0.1:${pg.port}/${database}`;
  if (engine === 'mysql') return `mysql://${user}:${written(password)}@127.0.0.1:${maria.port}/${database}`;
  return `mongodb://${user}:${written(password)}@127.0.0.1:${mongo.port}/${database}?authSource=admin`;
}

/** No form of the password, and no piece of it of 4+ characters, anywhere a user can see. */
function expectNothingOf(run: ActionRun, password: string): void {
  expectNoLeaks(run, [password, written(password)]);
  const seen = [visible(run.stdout), run.stderr, run.summary, ...Object.values(run.outputs)].join('\n');
  const pieces = new Set<string>();
  for (let i = 0; i + 4 <= password.length; i++) pieces.add(password.slice(i, i + 4));
  expect([...pieces].filter((p) => seen.includes(p))).toEqual([]);
}

async function restoredCount(engine: keyof typeof PASSWORDS, database: string): Promise<number> {
  if (engine === 'postgres') return Number(pg.sql('SELECT count(*) FROM orders', database).trim());
  if (engine === 'mysql') return Number(maria.sql('SELECT COUNT(*) FROM orders', database).trim());
  const client = new MongoClient(mongo.uri());
  try {
    return await client.db(database).collection('users').countDocuments();
  } finally {
    await client.close();
  }
}

const SOURCE = { postgres: 'shop', mysql: 'shop', mongodb: 'app' } as const;
const ROWS = { postgres: 250, mysql: 3, mongodb: 120 } as const;

describe('dist/backup-db with hostile passwords in its URIs', () => {
  const cases = (Object.keys(PASSWORDS) as (keyof typeof PASSWORDS)[]).flatMap((engine) => PASSWORDS[engine].map((c, i) => ({ engine, ...c, n: i + 1 })));

  it.each(cases)('$engine, password $n: backup verified by a test restore, then restored; nothing of the password shown', async ({ engine, user, password, n }) => {
    const local = mkdtempSync(join(tmpdir(), 'slipway-uris-'));
    const target = `restored_${n}`;
    if (engine === 'postgres') pg.sql(`CREATE DATABASE ${target}`);
    const backup = await runAction('backup-db', { uri: uriOf(engine, user, password, SOURCE[engine]), storage: 'local', 'local-path': local, verify: 'restore', 'verify-uri': uriOf(engine, user, password, engine === 'mongodb' ? '' : SOURCE[engine]) }, RUN_ENV);
    expectNothingOf(backup, password);
    expect(backup.exitCode, visible(backup.stdout) + backup.stderr).toBe(0);
    expect(backup.outputs.verified).toBe('true');
    expect(visible(backup.stdout)).toMatch(new RegExp(`Backing up ${engine} ${SOURCE[engine]}\\b`));

    const restore = await runAction('backup-db', { mode: 'restore', 'target-uri': uriOf(engine, user, password, target), storage: 'local', 'local-path': local, backup: backup.outputs['backup-name'] ?? '' }, RUN_ENV);
    expectNothingOf(restore, password);
    expect(restore.exitCode, visible(restore.stdout) + restore.stderr).toBe(0);
    expect(await restoredCount(engine, target)).toBe(ROWS[engine]);
  });

  it('a wrong password that holds / and # (the issue’s example) fails on authentication, showing no piece of it', async () => {
    const password = 'pa/ss#Secret9';
    const run = await runAction('backup-db', { uri: `mongodb://admin:${password}@127.0.0.1:${mongo.port}/shop?authSource=admin`, storage: 'local', 'local-path': mkdtempSync(join(tmpdir(), 'slipway-uris-')) }, RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(visible(run.stdout)).toMatch(/Backing up mongodb shop\b/);
    expectNothingOf(run, password);
  });

  it.each([
    ['uri', 'postgres', 'postgres://u:100%zz-Fv9q@127.0.0.1:1/shop', /password written with valid percent-encoding/],
    ['uri', 'mysql', 'mysql://u:Pw9k@Qz@127.0.0.1:1/shop?comment=a@b', /more than one way/],
    ['verify-uri', 'mongodb', 'mongodb://u:Zp8w/Mq@127.0.0.1:1/app?appName=x@y', /more than one way/],
  ])('%s: an unreadable %s URI fails before anything runs, naming the input and showing none of it', async (input, engine, bad, message) => {
    const good = uriOf(engine as keyof typeof PASSWORDS, 'nobody', 'none', 'shop');
    const inputs: Record<string, string> = input === 'uri' ? { uri: bad } : { uri: good, verify: 'restore', 'verify-uri': bad };
    const run = await runAction('backup-db', { ...inputs, storage: 'local', 'local-path': mkdtempSync(join(tmpdir(), 'slipway-uris-')) }, RUN_ENV);
    expectInputError(run, input);
    expect(visible(run.stdout)).toMatch(message);
    expect(visible(run.stdout)).not.toMatch(/URI malformed|Invalid URL/);
    expect(visible(run.stdout)).not.toContain('Backing up');
    const password = /:\/\/u:(.*)@127\.0\.0\.1:1/.exec(bad)?.[1] ?? '';
    expectNothingOf(run, password);
  });
});
