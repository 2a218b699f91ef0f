import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

/**
 * A throwaway Prometheus from Debian on a free loopback port, scraping the given `host:port` targets
 * every second, with the labels given per target (e.g. `color`). `basicAuth` (user → bcrypt hash)
 * puts its API behind HTTP basic authentication, as `--web.config.file` does.
 */
export async function startPrometheus(targets: { address: string; labels?: Record<string, string> }[], options: { basicAuth?: Record<string, string> } = {}): Promise<Service> {
  requireCommand('prometheus', 'apt-get install prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'slipway-prometheus-'));
  const port = await freePort();
  const web: string[] = [];
  if (options.basicAuth) {
    writeFileSync(join(dir, 'web.yml'), JSON.stringify({ basic_auth_users: options.basicAuth }));
    web.push(`--web.config.file=${join(dir, 'web.yml')}`);
  }
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'demo', static_configs: targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })) }],
  }));
  const proc = await startService('Prometheus', 'prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn', '--storage.tsdb.retention.time=1h', ...web,
  ], port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
