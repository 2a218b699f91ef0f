// Which PostgreSQL client backup-db runs: found in injected search folders holding this machine's real
// client programs (linked into place), and refused when older than a server. The same choice against
// real servers of majors 13 to 18 is tested through the bundle in actions/backup-db/test/pg-clients.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../src/inputs';
import { checkPgClientReads, findPgClients, parsePgClientVersion, parsePgServerVersion, pgArchiveTooNew, pgClientAt, pgdgInstallCommands, pickPgClient, PgClientTooOld, type PgClient } from '../src/backup/postgres-client';

const root = mkdtempSync(join(tmpdir(), 'slipway-pg-client-'));

/** This machine's client folder (Debian's), whose programs the search folders below link to. */
function machineBin(): { bin: string; version: string; major: number } {
  const run = spawnSync('pg_dump', ['--version'], { encoding: 'utf8' });
  const m = /\(PostgreSQL\) ((\d+)\.\d+)/.exec(run.stdout ?? '');
  if (!m) throw new Error(`pg_dump is not installed (apt-get install postgresql-client; npm test's pretest installs postgresql): ${run.stderr ?? run.error}`);
  return { bin: `/usr/lib/postgresql/${m[2]}/bin`, version: m[1] as string, major: Number(m[2]) };
}
const MACHINE = machineBin();

/** A folder holding links to the machine's real `programs`. */
function clientFolder(path: string, programs = ['pg_dump', 'pg_restore', 'psql']): string {
  mkdirSync(path, { recursive: true });
  for (const p of programs) symlinkSync(join(MACHINE.bin, p), join(path, p));
  return path;
}

const client = (version: string, bin = `/opt/pg/${version}/bin`): PgClient => ({ bin, version, major: Number(version.split('.')[0]) });
const server = (version: string) => ({ version, major: Number(version.split('.')[0]), address: 'db.example.com:5432' });

describe('versions', () => {
  it("reads this machine's pg_dump --version, and the forms other builds print", () => {
    expect(parsePgClientVersion(spawnSync(join(MACHINE.bin, 'pg_dump'), ['--version'], { encoding: 'utf8' }).stdout)).toEqual({ version: MACHINE.version, major: MACHINE.major });
    expect(parsePgClientVersion('pg_dump (PostgreSQL) 18.4')).toEqual({ version: '18.4', major: 18 });
    expect(parsePgClientVersion('pg_dump (PostgreSQL) 18beta1')).toEqual({ version: '18beta1', major: 18 });
    expect(parsePgClientVersion('pg_dump (PostgreSQL) 9.6.24')).toEqual({ version: '9.6.24', major: 9.6 });
    expect(parsePgClientVersion('echo (GNU coreutils) 9.1')).toBeUndefined();
  });

  it('reads server_version_num, two-part majors before 10 included', () => {
    expect(parsePgServerVersion('180004', '18.4')).toEqual({ version: '18.4', major: 18 });
    expect(parsePgServerVersion('170000', '17beta2 (Debian)')).toEqual({ version: '17beta2', major: 17 });
    expect(parsePgServerVersion('90624', '9.6.24')).toEqual({ version: '9.6.24', major: 9.6 });
    expect(parsePgServerVersion('', '')).toBeUndefined();
  });
});

describe('findPgClients: PATH and <root>/<version>/bin, newest first', () => {
  it('finds the client in a versioned folder of a root, passing over incomplete folders and Debian’s pg_wrapper on PATH', () => {
    const lib = join(root, 'search-1', 'postgresql');
    const found = clientFolder(join(lib, String(MACHINE.major), 'bin'));
    clientFolder(join(lib, '99', 'bin'), ['pg_dump', 'pg_restore']); // no psql: not a client
    mkdirSync(join(lib, 'notes'));
    writeFileSync(join(lib, 'README'), 'not a client');
    // /usr/bin/pg_dump is postgresql-common's pg_wrapper on Debian and Ubuntu.
    expect(findPgClients({ path: ['/usr/bin', join(root, 'nowhere')], roots: [lib] })).toEqual([{ bin: found, version: MACHINE.version, major: MACHINE.major }]);
  });

  it('counts one program once: a PATH folder linking to a root’s client gives the root’s folder', () => {
    const lib = join(root, 'search-2', 'postgresql');
    const versioned = clientFolder(join(lib, String(MACHINE.major), 'bin'));
    const onPath = join(root, 'search-2', 'bin');
    mkdirSync(onPath);
    for (const p of ['pg_dump', 'pg_restore', 'psql']) symlinkSync(join(versioned, p), join(onPath, p));
    expect(findPgClients({ path: [onPath], roots: [lib] }).map((c) => c.bin)).toEqual([versioned]);
  });

  it('finds a client on PATH when no root has one, and nothing where there is none', () => {
    const onPath = clientFolder(join(root, 'search-3', 'bin'));
    expect(findPgClients({ path: [onPath], roots: [join(root, 'search-3', 'missing-root')] }).map((c) => c.bin)).toEqual([onPath]);
    expect(findPgClients({ path: [join(root, 'search-3')], roots: [] })).toEqual([]);
  });

  it('the runner search (the action’s default) finds this machine’s client in /usr/lib/postgresql', () => {
    expect(findPgClients()[0]).toEqual({ bin: MACHINE.bin, version: MACHINE.version, major: MACHINE.major });
  });
});

describe('pickPgClient', () => {
  it('takes the newest, when no server is newer', () => {
    const clients = [client('17.2'), client('16.8'), client('14.1')];
    expect(pickPgClient(clients, [server('13.20'), server('17.0')])).toBe(clients[0]);
    expect(pickPgClient(clients, [])).toBe(clients[0]);
  });

  it('refuses a client older than the newest server, naming both and printing the PostgreSQL apt repository and the client to install', () => {
    const error = (() => {
      try {
        pickPgClient([client('15.18', '/usr/lib/postgresql/15/bin')], [server('16.1'), server('18.4')]);
      } catch (e) {
        return e as PgClientTooOld;
      }
    })();
    expect(error).toBeInstanceOf(PgClientTooOld);
    expect(error?.major).toBe(18);
    expect(error?.message).toContain('pg_dump 15.18 (/usr/lib/postgresql/15/bin) is older than the PostgreSQL 18.4 server at db.example.com:5432');
    expect(error?.message).toContain(pgdgInstallCommands(18).join('\n'));
    expect(pgdgInstallCommands(18)).toEqual([
      'sudo install -d /usr/share/postgresql-common/pgdg',
      'sudo curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc',
      'echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt $(lsb_release -cs)-pgdg main" | sudo tee /etc/apt/sources.list.d/pgdg.list',
      'sudo apt-get update',
      'sudo apt-get install -y postgresql-client-18',
    ]);
  });

  it('says what to install when there is no client at all', () => {
    expect(() => pickPgClient([], [])).toThrow(/no PostgreSQL client \(pg_dump, pg_restore and psql\) was found on PATH or in \/usr\/lib\/postgresql\/\*\/bin: install postgresql-client/);
  });
});

describe('a backup written by a newer pg_dump', () => {
  const old = client('15.18', '/usr/lib/postgresql/15/bin');
  const caught = (f: () => unknown): PgClientTooOld | undefined => {
    try {
      f();
    } catch (e) {
      return e as PgClientTooOld;
    }
    return undefined;
  };

  it('checkPgClientReads refuses a client older than the pg_dump the backup records, and takes one as new or newer', () => {
    const error = caught(() => checkPgClientReads(old, '17.10'));
    expect(error).toBeInstanceOf(PgClientTooOld);
    expect(error?.major).toBe(17);
    expect(error?.message).toContain('pg_dump 15.18 (/usr/lib/postgresql/15/bin) is older than the pg_dump 17.10 that wrote the backup, whose archive its pg_restore cannot read; nothing was done.');
    expect(error?.message).toContain(pgdgInstallCommands(17).join('\n'));
    expect(caught(() => checkPgClientReads(old, '18beta1'))?.major).toBe(18);
    for (const version of ['15.2', '15.18', '13.23', '9.6.24']) expect(() => checkPgClientReads(old, version)).not.toThrow();
  });

  it('checkPgClientReads leaves a backup without a plain recorded version to pg_restore (the record is read from storage)', () => {
    for (const version of [undefined, '', '17.10\n::error::x', `17${'0'.repeat(30)}`, 'seventeen', '17.10 (Debian)']) expect(() => checkPgClientReads(old, version)).not.toThrow();
  });

  it("pgArchiveTooNew reads pg_restore's refusal of a newer archive format as the client to install", () => {
    const error = pgArchiveTooNew(old, 'pg_restore: error: unsupported version (1.16) in file header\n');
    expect(error).toBeInstanceOf(PgClientTooOld);
    expect(error?.major).toBe(17);
    expect(error?.message).toContain('is older than the pg_dump that wrote the backup, whose archive format 1.16 its pg_restore cannot read (a PostgreSQL 17 client or newer can); nothing was done.');
    expect(error?.message).toContain('sudo apt-get install -y postgresql-client-17');
    expect(pgArchiveTooNew(client('14.1'), 'pg_restore: error: unsupported version (1.15) in file header')?.major).toBe(16);
    // A format newer than those known: at least the next major.
    expect(pgArchiveTooNew(client('18.4'), 'pg_restore: error: unsupported version (1.17) in file header')?.major).toBe(19);
    expect(pgArchiveTooNew(old, 'pg_restore: error: could not read input file: end of file')).toBeUndefined();
  });
});

describe('pgClientAt: a given folder', () => {
  it('reads the client of a folder holding the three programs', () => {
    expect(pgClientAt(MACHINE.bin, 'postgres-bin')).toEqual({ bin: MACHINE.bin, version: MACHINE.version, major: MACHINE.major });
  });

  it('refuses what is no client folder, as an InputError naming the input it was given', () => {
    const partial = clientFolder(join(root, 'partial'), ['pg_dump']);
    const echo = join(root, 'echo');
    mkdirSync(echo);
    for (const p of ['pg_dump', 'pg_restore', 'psql']) symlinkSync('/bin/echo', join(echo, p));
    const failing = join(root, 'failing');
    mkdirSync(failing);
    for (const p of ['pg_dump', 'pg_restore', 'psql']) writeFileSync(join(failing, p), `#!/bin/sh\necho "${p} (PostgreSQL) 99.0"\nexit 3\n`, { mode: 0o755 });
    const cases: [string, RegExp][] = [
      [join(root, 'missing'), /expected a folder that exists on the runner/],
      [join(partial, 'pg_dump'), /expected a folder that exists on the runner/],
      [partial, /it has no executable pg_restore, psql/],
      [echo, /expected a folder whose pg_dump is PostgreSQL's \(`pg_dump --version` printed "echo \(GNU coreutils\)/],
      // A version printed by a program that then fails is not taken.
      [failing, /expected a folder whose pg_dump runs \(`pg_dump --version` exited with code 3, printing "pg_dump \(PostgreSQL\) 99\.0"\)/],
      [`${MACHINE.bin}\n`, /expected a folder path without control characters/],
      [`/${'x'.repeat(5000)}`, /under 4,096 characters/],
    ];
    for (const [bin, expected] of cases) {
      expect(() => pgClientAt(bin, 'postgres-bin')).toThrow(InputError);
      expect(() => pgClientAt(bin, 'postgres-bin')).toThrow(expected);
      expect(() => pgClientAt(bin, 'postgres-bin')).toThrow(/^Input 'postgres-bin' is invalid/);
    }
    expect(() => pgClientAt(partial)).toThrow(/is no PostgreSQL client: expected a folder holding/);
  });
});
