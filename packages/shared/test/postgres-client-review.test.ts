// Version strings at their edges (regressions of a hostile review): those PostgreSQL-compatible servers
// and clients report, pre-releases ranked below releases, and the MySQL family's strings and flags.
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPgClients, parsePgClientVersion, parsePgServerVersion } from '../src/backup/postgres-client';
import { mysqlVersionFlags, parseMysqlVersion } from '../src/backup/mysql-client';

const root = mkdtempSync(join(tmpdir(), 'slipway-pg-hostile-'));
/** A folder whose programs print `version` as PostgreSQL's do. */
function fakeClient(folder: string, version: string): string {
  mkdirSync(folder, { recursive: true });
  for (const p of ['pg_dump', 'pg_restore', 'psql']) {
    writeFileSync(join(folder, p), `#!/bin/sh\necho "${p} (PostgreSQL) ${version}"\n`);
    chmodSync(join(folder, p), 0o755);
  }
  return folder;
}

describe('server versions of PostgreSQL and compatible servers', () => {
  it.each([
    ['160000', '16beta1', '16beta1', 16],
    ['180004', '18.4', '18.4', 18],
    ['90624', '9.6.24', '9.6.24', 9.6],
    ['100023', '10.23', '10.23', 10],
    ['110002', '11.2-YB-2.18.0.0-b0', '11.2-YB-2.18.0.0-b0', 11], // YugabyteDB
    ['130000', '13.0.0', '13.0.0', 13], // CockroachDB
    ['150004', '15.4', '15.4', 15], // Aurora
  ])('%s / %s', (num, version, shown, major) => {
    expect(parsePgServerVersion(num, version)).toEqual({ version: shown, major });
  });
  it.each([['', '8.0.2'], ['abc', '16.1'], ['0', ''], ['-160000', '16'], ['1.5', '']])('refused: %j %j', (num, version) => {
    expect(parsePgServerVersion(num, version)).toBeUndefined();
  });
});

describe('client versions, and which of several clients is newest', () => {
  it.each([
    ['pg_dump (PostgreSQL) 18beta1', 18],
    ['pg_dump (PostgreSQL) 17devel', 17],
    ['pg_dump (PostgreSQL) 9.6.24', 9.6],
    ['pg_dump (PostgreSQL) 10.23 (Ubuntu 10.23-1.pgdg22.04+1)', 10],
  ])('%s', (text, major) => expect(parsePgClientVersion(text)?.major).toBe(major));

  it('a released 18.1 is preferred over 18beta1 whichever folder is searched first', () => {
    const beta = fakeClient(join(root, 'lib1', '18', 'bin'), '18beta1');
    const release = fakeClient(join(root, 'path1'), '18.1');
    expect(findPgClients({ roots: [join(root, 'lib1')], path: [release] }).map((c) => c.bin)).toEqual([release, beta]);
    const lib = join(root, 'lib1b');
    fakeClient(join(lib, '18', 'bin'), '18.1');
    expect(findPgClients({ roots: [lib], path: [beta] }).map((c) => c.version)).toEqual(['18.1', '18beta1']);
  });

  it('ranks a major\'s pre-releases in order, below its first release', () => {
    const order = ['18devel', '18alpha1', '18beta1', '18beta2', '18rc1', '18.0', '18.1', '18.10'];
    const lib = join(root, 'lib3');
    [...order].reverse().forEach((v, i) => fakeClient(join(lib, `v${i}`, 'bin'), v));
    expect(findPgClients({ roots: [lib], path: [] }).map((c) => c.version)).toEqual([...order].reverse());
  });

  it('16.10 is newer than 16.9', () => {
    fakeClient(join(root, 'lib2', '16', 'bin'), '16.9');
    const p = fakeClient(join(root, 'path2'), '16.10');
    expect(findPgClients({ roots: [join(root, 'lib2')], path: [p] })[0]?.version).toBe('16.10');
  });
});

describe('MySQL-family versions and flags', () => {
  it("this machine's mariadb-dump", () => {
    const out = spawnSync('mariadb-dump', ['--version'], { encoding: 'utf8' }).stdout;
    expect(parseMysqlVersion(out)).toMatchObject({ flavor: 'mariadb', major: 10 });
  });
  it.each([
    ['mysqldump  Ver 8.0.36-28 for Linux on x86_64 (Percona Server (GPL), Release 28, Revision 47601f19)', { flavor: 'mysql', major: 8, minor: 0 }],
    ['mysqldump  Ver 10.13 Distrib 5.7.44, for Linux (x86_64)', { flavor: 'mysql', major: 5, minor: 7 }],
    ['mariadb-dump from 11.4.2-MariaDB, client 10.19 for Linux (x86_64)', { flavor: 'mariadb', major: 11, minor: 4 }],
    ['8.0.mysql_aurora.3.04.0', { flavor: 'mysql', major: 8, minor: 0 }],
    ['5.7.mysql_aurora.2.11.2', { flavor: 'mysql', major: 5, minor: 7 }],
    ['10.6.14-MariaDB-log', { flavor: 'mariadb', major: 10, minor: 6 }],
  ])('%s', (text, expected) => expect(parseMysqlVersion(text)).toEqual(expected));
  it('no duplicate flags for any pair', () => {
    const v = (flavor: 'mysql' | 'mariadb', major: number, minor: number) => ({ flavor, major, minor });
    for (const c of [v('mysql', 5, 7), v('mysql', 8, 0), v('mysql', 8, 4), v('mysql', 9, 1), v('mariadb', 10, 11), v('mariadb', 11, 4)])
      for (const s of [v('mysql', 5, 7), v('mysql', 8, 0), v('mysql', 8, 4), v('mariadb', 10, 11), v('mariadb', 11, 4)]) {
        const flags = mysqlVersionFlags(c, s);
        expect(new Set(flags).size).toBe(flags.length);
      }
  });
});
