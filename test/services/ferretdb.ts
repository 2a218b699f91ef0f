import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

export interface FerretDb extends Service {
  /** mongodb://slipway:<password>@127.0.0.1:<port>/<database> */
  uri(database?: string): string;
  password: string;
}

const HOW = 'build it from the Go module proxy with `node scripts/ensure-deps.mjs` (FerretDB v1.24.2)';

/**
 * A throwaway FerretDB v1 (MongoDB wire protocol) on a free loopback port with the SQLite backend and
 * SCRAM authentication, so the MongoDB driver talks to it exactly as to a password-protected mongod.
 */
export async function startFerretDb(): Promise<FerretDb> {
  requireCommand('ferretdb', HOW);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-ferretdb-'));
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const proc = await startService('FerretDB', 'ferretdb', [
    '--handler=sqlite',
    `--sqlite-url=file:${join(dir, 'data')}/`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    `--state-dir=${dir}`,
    '--log-level=warn',
    // v1 keeps real SCRAM users behind this flag; without it any client is let in.
    '--test-enable-new-auth',
    '--setup-database=admin',
    '--setup-username=slipway',
    `--setup-password=${password}`,
  ], port);
  return {
    url: `mongodb://127.0.0.1:${port}/`,
    port,
    password,
    uri: (database = '') => `mongodb://slipway:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}${database ? '?authSource=admin' : ''}`,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
