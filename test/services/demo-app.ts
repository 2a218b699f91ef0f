import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { node24 } from '../helpers/node24';
import { startService, type Service } from './process';

const SERVER = join(import.meta.dirname, '..', '..', 'examples', 'demo-app', 'server.mjs');

export interface DemoApp extends Service {
  /** host:port, as an nginx upstream server. */
  address: string;
  /** Answer 500 to this share of requests (and 503 on /healthz); 0 stops it. */
  fail(rate: number): Promise<void>;
  slow(ms: number): Promise<void>;
}

/** One instance of examples/demo-app on a free loopback port. */
export async function startDemoApp(options: { color: string; version?: string }): Promise<DemoApp> {
  const port = await freePort();
  const proc = await startService('demo-app', node24(), [SERVER, '--port', String(port), '--color', options.color, '--version', options.version ?? '1.0.0'], port);
  const url = `http://127.0.0.1:${port}`;
  const admin = async (path: string) => {
    const response = await fetch(`${url}${path}`, { method: 'POST' });
    if (!response.ok) throw new Error(`demo-app ${path}: ${response.status}`);
  };
  return { url, port, address: `127.0.0.1:${port}`, fail: (rate) => admin(`/admin/fail?rate=${rate}`), slow: (ms) => admin(`/admin/slow?ms=${ms}`), stop: () => proc.stop() };
}
