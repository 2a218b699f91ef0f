import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { giveToUser, startService, type Service } from './process';

export interface Postgres extends Service {
  /** postgres://slipway:<password>@127.0.0.1:<port>/postgres */
  uri(database?: string): string;
  password: string;
  /** Runs SQL with psql as the superuser; returns its stdout. */
  sql(query: string, database?: string): string;
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
 * A throwaway PostgreSQL cluster on a free loopback port, password (SCRAM) auth only, with any server
 * `settings` given (`-c name=value`). PostgreSQL refuses to run as root, so as root the server runs as
 * the `postgres` user the Debian package creates.
 */
export async function startPostgres(settings: Record<string, string> = {}): Promise<Postgres> {
  const bin = serverBin();
  const asRoot = process.getuid?.() === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pg-'));
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
  return {
    url: uri(),
    port,
    password,
    uri,
    sql(query, database = 'postgres') {
      const run = spawnSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', uri(database), '-c', query], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`psql failed: ${run.stderr}`);
      return run.stdout;
    },
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
