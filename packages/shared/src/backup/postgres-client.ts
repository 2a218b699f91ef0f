import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { InputError } from '../inputs';

/** The programs backup, verify and restore run; all three come from one client folder. */
export const PG_PROGRAMS = ['pg_dump', 'pg_restore', 'psql'] as const;
export type PgProgram = (typeof PG_PROGRAMS)[number];

export interface PgVersion {
  /** As the program or server prints it: `15.18`, `18beta1`, `9.6.24`. */
  version: string;
  /** 13, 18; 9.6 before PostgreSQL 10, whose majors had two parts. */
  major: number;
}

export interface PgClient extends PgVersion {
  /** The folder holding pg_dump, pg_restore and psql. */
  bin: string;
}

/** The path of one of the client's programs. */
export const pgProgram = (client: PgClient, program: PgProgram): string => join(client.bin, program);

/** `15.18`, `18beta1`, `9.6.24` → its major: 15, 18, 9.6 (two parts before PostgreSQL 10). */
export function parsePgVersion(version: string): PgVersion | undefined {
  const m = /^(\d+)(?:\.(\d+))?\S*$/.exec(version);
  if (!m) return undefined;
  const first = Number(m[1]);
  return { version, major: first >= 10 ? first : Number(`${first}.${m[2] ?? 0}`) };
}

/** A version that backup metadata can hold and a message can show as it is: `17.10`, `18beta1`. */
export const isPlainPgVersion = (version: string): boolean => /^[\w.]{1,20}$/.test(version);

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` → 15.18, major 15. */
export function parsePgClientVersion(text: string): PgVersion | undefined {
  const version = /\(PostgreSQL\) (\d\S*)/.exec(text)?.[1];
  return version === undefined ? undefined : parsePgVersion(version);
}

/** `server_version_num` (180004) and `server_version` (18.4) → 18.4, major 18. */
export function parsePgServerVersion(num: string, version: string): PgVersion | undefined {
  const n = Number(num);
  if (!Number.isInteger(n) || n <= 0) return undefined;
  return { version: version.split(' ')[0] || num, major: n >= 100_000 ? Math.floor(n / 10_000) : Number(`${Math.floor(n / 10_000)}.${Math.floor(n / 100) % 100}`) };
}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
};

/** Why a folder is not a PostgreSQL client, or the client it holds. */
function inspect(bin: string): PgClient | string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(bin) || bin.length > 4096) return 'a folder path without control characters, under 4,096 characters';
  let folder = false;
  try {
    folder = statSync(bin).isDirectory();
  } catch {
    // Missing or unreadable: said below.
  }
  if (!folder) return 'a folder that exists on the runner, holding pg_dump, pg_restore and psql';
  const missing = PG_PROGRAMS.filter((p) => !isExecutable(join(bin, p)));
  if (missing.length) return `a folder holding pg_dump, pg_restore and psql (it has no executable ${missing.join(', ')})`;
  const run = spawnSync(join(bin, 'pg_dump'), ['--version'], { encoding: 'utf8', timeout: 10_000 });
  const printed = JSON.stringify((run.stdout || run.stderr || String(run.error ?? '')).trim().slice(0, 100));
  // A program that prints a version and then fails is no client to trust with a backup.
  if (run.status !== 0) return `a folder whose pg_dump runs (\`pg_dump --version\` ${run.signal ? `was killed by ${run.signal}` : run.status === null ? 'did not run' : `exited with code ${run.status}`}, printing ${printed})`;
  const parsed = parsePgClientVersion(run.stdout ?? '');
  if (!parsed) return `a folder whose pg_dump is PostgreSQL's (\`pg_dump --version\` printed ${printed})`;
  return { ...parsed, bin };
}

/** The client in a folder; what is wrong with the folder is an InputError naming `input` when given. */
export function pgClientAt(bin: string, input?: string): PgClient {
  const found = inspect(bin);
  if (typeof found !== 'string') return found;
  if (input) throw new InputError(input, bin, found);
  throw new Error(`${bin} is no PostgreSQL client: expected ${found}`);
}

export interface PgClientSearch {
  /** Folders searched first: PATH. */
  path: readonly string[];
  /** Folders whose `<version>/bin` subfolders hold clients: Debian's and Ubuntu's `/usr/lib/postgresql`. */
  roots: readonly string[];
}

/** Where the runner's clients are: PATH, and every `/usr/lib/postgresql/<version>/bin`. */
export const runnerPgSearch = (): PgClientSearch => ({ path: (process.env.PATH ?? '').split(delimiter).filter(Boolean), roots: ['/usr/lib/postgresql'] });

/**
 * Every client found, newest first. Debian's and Ubuntu's /usr/bin/pg_dump is postgresql-common's
 * pg_wrapper, which runs whichever installed version it picks for each call (by local cluster, not by
 * the server connected to): it is passed over for the versioned folders it would pick from.
 */
export function findPgClients(search: PgClientSearch = runnerPgSearch()): PgClient[] {
  const folders = [...search.roots.flatMap((root) => (existsSync(root) ? readdirSync(root).map((v) => join(root, v, 'bin')) : [])), ...search.path];
  const seen = new Set<string>();
  const clients: PgClient[] = [];
  for (const bin of folders) {
    let real: string;
    try {
      real = realpathSync(join(bin, 'pg_dump'));
    } catch {
      continue;
    }
    if (seen.has(real) || basename(real) === 'pg_wrapper') continue;
    seen.add(real);
    const found = inspect(bin);
    if (typeof found !== 'string') clients.push(found);
  }
  // Stable: of equal versions, a versioned folder (searched first) wins over PATH.
  return clients.sort((a, b) => b.major - a.major || compareVersions(b.version, a.version));
}

/** `18.1` > `18.0` > `18rc1` > `18beta2` > `18beta1` > `18devel`: a release ranks above its pre-releases. */
function compareVersions(a: string, b: string): number {
  const PRE = ['devel', 'alpha', 'beta', 'rc'];
  const key = (v: string) => {
    const m = /^([\d.]*)(devel|alpha|beta|rc)?(\d*)/.exec(v) as RegExpExecArray;
    // A release (no pre-release tag) ranks past every tag.
    return { parts: (m[1] as string).split('.').filter(Boolean).map(Number), stage: m[2] ? PRE.indexOf(m[2]) : PRE.length, n: Number(m[3] || 0) };
  };
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < Math.max(x.parts.length, y.parts.length); i++) if ((x.parts[i] ?? 0) !== (y.parts[i] ?? 0)) return (x.parts[i] ?? 0) - (y.parts[i] ?? 0);
  return x.stage - y.stage || x.n - y.n;
}

/** The PostgreSQL project's apt repository and its client for a major: Ubuntu's own archive carries one older major only. */
export function pgdgInstallCommands(major: number): string[] {
  const key = '/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc';
  return [
    'sudo install -d /usr/share/postgresql-common/pgdg',
    `sudo curl -fsSL -o ${key} https://www.postgresql.org/media/keys/ACCC4CF8.asc`,
    `echo "deb [signed-by=${key}] https://apt.postgresql.org/pub/repos/apt $(lsb_release -cs)-pgdg main" | sudo tee /etc/apt/sources.list.d/pgdg.list`,
    'sudo apt-get update',
    `sudo apt-get install -y postgresql-client-${major}`,
  ];
}

/**
 * The client is older than what it must work with: a server to dump or restore into (pg_dump refuses
 * a newer server, and pg_restore and psql may not know its catalogs), or a backup a newer pg_dump wrote
 * (pg_restore reads the archive formats of its own major and older only). `major` is the client to install.
 */
export class PgClientTooOld extends Error {
  override name = 'PgClientTooOld';
  constructor(
    readonly client: PgClient,
    readonly major: number,
    /** What is newer than the client, and what the client cannot do with it. */
    newer: string,
  ) {
    super(
      `pg_dump ${client.version} (${client.bin}) is older than ${newer}; nothing was done. ` +
        `Install postgresql-client-${major} from the PostgreSQL project's apt repository (Ubuntu's own archive has no newer client):\n${pgdgInstallCommands(major).join('\n')}`,
    );
  }
}

/** The newest client, when no server is newer than it. */
export function pickPgClient(clients: readonly PgClient[], servers: readonly (PgVersion & { address: string })[]): PgClient {
  const [newest] = clients;
  if (!newest) throw new Error('no PostgreSQL client (pg_dump, pg_restore and psql) was found on PATH or in /usr/lib/postgresql/*/bin: install postgresql-client');
  const [newestServer] = [...servers].sort((a, b) => b.major - a.major);
  if (newestServer && newestServer.major > newest.major) {
    throw new PgClientTooOld(newest, newestServer.major, `the PostgreSQL ${newestServer.version} server at ${newestServer.address}, which it cannot dump or restore into`);
  }
  return newest;
}

/**
 * Checks, before any of it is read, that the client can read a backup that records the version of the
 * pg_dump that wrote it. A backup made before that was recorded, or whose record is no plain version
 * (it is read from storage), is left to pg_restore, whose refusal pgArchiveTooNew reads.
 */
export function checkPgClientReads(client: PgClient, pgDumpVersion: string | undefined): void {
  const dump = pgDumpVersion && isPlainPgVersion(pgDumpVersion) ? parsePgVersion(pgDumpVersion) : undefined;
  if (dump && dump.major > client.major) throw new PgClientTooOld(client, dump.major, `the pg_dump ${dump.version} that wrote the backup, whose archive its pg_restore cannot read`);
}

/**
 * The first major whose pg_dump writes each custom-archive format (K_VERS_* in PostgreSQL's
 * src/bin/pg_dump/pg_backup_archiver.h); older formats are read by every client since 12.
 */
const ARCHIVE_FORMATS: Record<string, number> = { '1.14': 12, '1.15': 16, '1.16': 17 };

/**
 * pg_restore's refusal of an archive a newer pg_dump wrote (`unsupported version (1.16) in file
 * header`) as PgClientTooOld, for a backup that does not record its pg_dump; undefined for any other error.
 */
export function pgArchiveTooNew(client: PgClient, stderr: string): PgClientTooOld | undefined {
  const format = /unsupported version \((\d+\.\d+)\) in file header/.exec(stderr)?.[1];
  if (!format) return undefined;
  // A format newer than this table: at least the next major.
  const major = Math.max(ARCHIVE_FORMATS[format] ?? 0, Math.floor(client.major) + 1);
  return new PgClientTooOld(client, major, `the pg_dump that wrote the backup, whose archive format ${format} its pg_restore cannot read (a PostgreSQL ${major} client or newer can)`);
}
