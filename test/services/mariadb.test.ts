import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMariaDb, type MariaDb } from './mariadb';

let db: MariaDb;
beforeAll(async () => {
  db = await startMariaDb();
}, 120_000);
afterAll(() => db?.stop());

describe('MariaDB test service', () => {
  it('runs a real server with a password user on loopback, utf8mb4 included', () => {
    db.sql("CREATE DATABASE shop CHARACTER SET utf8mb4; CREATE TABLE shop.t (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO shop.t VALUES (1, 'pão 🍞')");
    expect(db.sql('SELECT name FROM t', 'shop')).toBe('pão 🍞\n');
  });

  it('refuses a wrong password', () => {
    const run = spawnSync('mariadb', ['--no-defaults', '-h127.0.0.1', `-P${db.port}`, '-uslipway', '-pnope', '-e', 'SELECT 1'], { encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/Access denied for user 'slipway'/);
  });
});
