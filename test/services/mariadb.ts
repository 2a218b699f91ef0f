import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { giveToUser, requireCommand, startService, type Service } from './process';

export interface MariaDb extends Service {
  /** mysql://slipway:<password>@127.0.0.1:<port>/<database> */
  uri(database?: string): string;
  password: string;
  /** Runs SQL with the mariadb client as the admin user; returns its stdout (tab-separated, no headers). */
  sql(query: string, database?: string): string;
}

const HOW = 'apt-get install mariadb-server mariadb-client';

/**
 * A throwaway MariaDB server (Debian) on a free loopback port with a password-only admin user. As root
 * the server runs as the `mysql` user the Debian package creates, as mariadbd refuses root.
 */
export async function startMariaDb(): Promise<MariaDb> {
  requireCommand('mariadbd', HOW);
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'slipway-mariadb-'));
  const data = join(dir, 'data');
  giveToUser('mysql', dir, HOW);
  const user = asRoot ? ['--user=mysql'] : [];
  const init = spawnSync('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed (${HOW}):\n${init.stderr}${init.stdout}`);
  const port = await freePort();
  const socket = join(dir, 'mysqld.sock');
  const proc = await startService('MariaDB', 'mariadbd', ['--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${socket}`, `--pid-file=${join(dir, 'pid')}`, '--skip-log-bin', '--character-set-server=utf8mb4', '--collation-server=utf8mb4_unicode_ci', ...user], port);
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  // The fresh server's root logs in through its socket without a password; create a TCP user with one.
  const setup = spawnSync('mariadb', ['--no-defaults', `--socket=${socket}`, '-uroot', '-e', `CREATE USER 'slipway'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO 'slipway'@'127.0.0.1' WITH GRANT OPTION;`], { encoding: 'utf8' });
  if (setup.status !== 0) {
    await proc.stop();
    throw new Error(`could not create the test user: ${setup.stderr}`);
  }
  const optionFile = join(dir, 'client.cnf');
  writeFileSync(optionFile, `[client]\nuser=slipway\npassword=${password}\nhost=127.0.0.1\nport=${port}\nprotocol=tcp\ndefault-character-set=utf8mb4\n`, { mode: 0o600 });
  return {
    url: `mysql://slipway:${password}@127.0.0.1:${port}/`,
    port,
    password,
    uri: (database = '') => `mysql://slipway:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`,
    sql(query, database) {
      const run = spawnSync('mariadb', [`--defaults-extra-file=${optionFile}`, '-N', '-B', ...(database ? [database] : []), '-e', query], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`mariadb client failed: ${run.stderr}`);
      return run.stdout;
    },
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
