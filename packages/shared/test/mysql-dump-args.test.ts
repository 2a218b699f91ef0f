// The dump tool's argv for each client and server pair: Oracle's mysqldump 5.7, 8.0, 8.4 and 9.x and
// MariaDB's mariadb-dump 10.x and 11.x, against MySQL 5.7, 8.0, 8.4 and MariaDB 10.x, 11.x servers, read
// from the version lines these programs and servers print. Only MariaDB's client against a MariaDB
// server runs for real here (test/services/mariadb.ts; actions/backup-db/test/bundle.test.ts); the
// last test reads the real ones' versions.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlDumpArgs, mysqlVersionFlags, parseMysqlVersion, type MysqlVersion } from '../src/backup/mysql-client';
import { startMariaDb, type MariaDb } from '../../../test/services/mariadb';

/** What each prints: `<tool> --version`, and a server's `SELECT VERSION()`. */
const CLIENTS = {
  'mysqldump 5.7': 'mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)',
  'mysqldump 8.0': 'mysqldump  Ver 8.0.41-0ubuntu0.24.04.1 for Linux on x86_64 ((Ubuntu))',
  'mysqldump 8.4': 'mysqldump  Ver 8.4.5 for Linux on x86_64 (MySQL Community Server - GPL)',
  'mysqldump 9.x': 'mysqldump  Ver 9.3.0 for Linux on x86_64 (MySQL Community Server - GPL)',
  'mariadb-dump 10.11': 'mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
  'mariadb-dump 11.4': 'mariadb-dump from 11.4.5-MariaDB, client 10.19 for debian-linux-gnu (x86_64)',
} as const;
const SERVERS = {
  'MySQL 5.7': '5.7.44-log',
  'MySQL 8.0': '8.0.41',
  'MySQL 8.4': '8.4.5',
  'MariaDB 10.6': '10.6.21-MariaDB-log',
  'MariaDB 11.4': '11.4.5-MariaDB-ubu2404',
} as const;

const COMMON = ['--single-transaction', '--routines', '--triggers', '--events', '--hex-blob', '--skip-add-drop-table', '--default-character-set=utf8mb4', '--no-tablespaces'];
const ORACLE = ['--set-gtid-purged=OFF'];
const NO_HISTOGRAMS = ['--column-statistics=0'];

/** The flags after the common ones, for every pair. */
const EXPECTED: Record<keyof typeof CLIENTS, Record<keyof typeof SERVERS, string[]>> = {
  // 5.7's tool has no --column-statistics (it reads no histograms).
  'mysqldump 5.7': { 'MySQL 5.7': ORACLE, 'MySQL 8.0': ORACLE, 'MySQL 8.4': ORACLE, 'MariaDB 10.6': ORACLE, 'MariaDB 11.4': ORACLE },
  'mysqldump 8.0': { 'MySQL 5.7': [...ORACLE, ...NO_HISTOGRAMS], 'MySQL 8.0': ORACLE, 'MySQL 8.4': ORACLE, 'MariaDB 10.6': [...ORACLE, ...NO_HISTOGRAMS], 'MariaDB 11.4': [...ORACLE, ...NO_HISTOGRAMS] },
  'mysqldump 8.4': { 'MySQL 5.7': [...ORACLE, ...NO_HISTOGRAMS], 'MySQL 8.0': ORACLE, 'MySQL 8.4': ORACLE, 'MariaDB 10.6': [...ORACLE, ...NO_HISTOGRAMS], 'MariaDB 11.4': [...ORACLE, ...NO_HISTOGRAMS] },
  'mysqldump 9.x': { 'MySQL 5.7': [...ORACLE, ...NO_HISTOGRAMS], 'MySQL 8.0': ORACLE, 'MySQL 8.4': ORACLE, 'MariaDB 10.6': [...ORACLE, ...NO_HISTOGRAMS], 'MariaDB 11.4': [...ORACLE, ...NO_HISTOGRAMS] },
  // MariaDB's tool knows neither flag, and needs neither.
  'mariadb-dump 10.11': { 'MySQL 5.7': [], 'MySQL 8.0': [], 'MySQL 8.4': [], 'MariaDB 10.6': [], 'MariaDB 11.4': [] },
  'mariadb-dump 11.4': { 'MySQL 5.7': [], 'MySQL 8.0': [], 'MySQL 8.4': [], 'MariaDB 10.6': [], 'MariaDB 11.4': [] },
};

const parsed = (text: string): MysqlVersion => {
  const version = parseMysqlVersion(text);
  if (!version) throw new Error(`unread: ${text}`);
  return version;
};

describe('mysqlDumpArgs: each client and server pair', () => {
  const pairs = Object.keys(CLIENTS).flatMap((c) => Object.keys(SERVERS).map((s) => [c, s] as [keyof typeof CLIENTS, keyof typeof SERVERS]));
  it.each(pairs)('%s dumping %s', (clientName, serverName) => {
    const args = mysqlDumpArgs('--defaults-extra-file=/tmp/x/client.cnf', 'shop', ['orders', 'people'], parsed(CLIENTS[clientName]), parsed(SERVERS[serverName]));
    // The option file must stay first (the tools read it only there); names come after `--`.
    expect(args).toEqual(['--defaults-extra-file=/tmp/x/client.cnf', ...COMMON, ...EXPECTED[clientName][serverName], '--', 'shop', 'orders', 'people']);
  });
});

describe('parseMysqlVersion', () => {
  it('reads the line, not the tools’ protocol version (Ver 10.x)', () => {
    expect(parsed(CLIENTS['mysqldump 5.7'])).toEqual({ flavor: 'mysql', major: 5, minor: 7 });
    expect(parsed(CLIENTS['mysqldump 8.0'])).toEqual({ flavor: 'mysql', major: 8, minor: 0 });
    expect(parsed(CLIENTS['mariadb-dump 10.11'])).toEqual({ flavor: 'mariadb', major: 10, minor: 11 });
    expect(parsed(CLIENTS['mariadb-dump 11.4'])).toEqual({ flavor: 'mariadb', major: 11, minor: 4 });
    expect(parsed('mysqldump  Ver 10.19 Distrib 10.5.23-MariaDB, for debian-linux-gnu (x86_64)')).toEqual({ flavor: 'mariadb', major: 10, minor: 5 });
    expect(parsed('mysqldump  Ver 8.0.35-27 for Linux on x86_64 (Percona Server (GPL), Release 27)')).toEqual({ flavor: 'mysql', major: 8, minor: 0 });
    expect(parsed(SERVERS['MySQL 5.7'])).toEqual({ flavor: 'mysql', major: 5, minor: 7 });
    expect(parsed(SERVERS['MariaDB 11.4'])).toEqual({ flavor: 'mariadb', major: 11, minor: 4 });
    expect(parseMysqlVersion('')).toBeUndefined();
  });

  it('Oracle’s 8.0 tool against a MariaDB server reads no histograms, whatever the flags say of GTIDs', () => {
    expect(mysqlVersionFlags(parsed(CLIENTS['mysqldump 8.0']), parsed(SERVERS['MariaDB 10.6']))).toEqual(['--no-tablespaces', '--set-gtid-purged=OFF', '--column-statistics=0']);
  });
});

describe('the real pair here: MariaDB’s client and server', () => {
  let maria: MariaDb;
  beforeAll(async () => {
    maria = await startMariaDb();
  });
  afterAll(() => maria?.stop());

  it('reads their versions, and gives the argv the backup tests run (no Oracle-only flag, which mariadb-dump refuses)', () => {
    const tool = spawnSync('mariadb-dump', ['--version'], { encoding: 'utf8' });
    expect(tool.status, `mariadb-dump is not installed: apt-get install mariadb-client (${tool.error})`).toBe(0);
    const client = parsed(tool.stdout);
    const server = parsed(maria.sql('SELECT VERSION()'));
    expect(client.flavor).toBe('mariadb');
    expect(server.flavor).toBe('mariadb');
    const args = mysqlDumpArgs('--no-defaults', 'mysql', [], client, server);
    expect(args.slice(1, -2)).toEqual(COMMON);
    // mariadb-dump takes every flag it is given (an unknown one would fail before connecting).
    const help = spawnSync('mariadb-dump', [...args.slice(0, -2), '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
  });
});
