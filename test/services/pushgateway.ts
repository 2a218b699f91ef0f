import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

/** A user the gateway lets in: the password's bcrypt hash goes into its web config (exporter-toolkit). */
export interface BasicAuthUser {
  user: string;
  bcrypt: string;
}

/**
 * A real Prometheus Pushgateway (Debian package prometheus-pushgateway) on a free loopback port; with
 * `basicAuth`, it answers 401 to every request without that user's credentials.
 */
export async function startPushgateway(options: { basicAuth?: BasicAuthUser } = {}): Promise<Service> {
  requireCommand('prometheus-pushgateway', 'apt-get install prometheus-pushgateway');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'slipway-pushgateway-'));
  const args = [`--web.listen-address=127.0.0.1:${port}`];
  if (options.basicAuth) {
    writeFileSync(join(dir, 'web.yml'), `basic_auth_users:\n  ${JSON.stringify(options.basicAuth.user)}: ${JSON.stringify(options.basicAuth.bcrypt)}\n`);
    args.push(`--web.config.file=${join(dir, 'web.yml')}`);
  }
  const proc = await startService('prometheus-pushgateway', 'prometheus-pushgateway', args, port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
