import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

export interface Nginx extends Service {
  /** The file nginx includes inside `http { }`: the one a router owns. */
  upstreamFile: string;
  /** `nginx -t` and `nginx -s reload` for this instance, as the router inputs take them. */
  testCommand: string[];
  reloadCommand: string[];
}

const HOW = 'apt-get install nginx';

/**
 * A throwaway nginx from Debian on a free loopback port, proxying `/` to the upstream `upstream`
 * defined in `upstreamFile`. That file must exist before start: write it first (e.g. with
 * renderUpstream), as a host would have it before its first switch.
 */
export async function startNginx(options: { upstream: string; writeUpstream: (file: string) => void }): Promise<Nginx> {
  requireCommand('nginx', HOW);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-nginx-'));
  chmodSync(dir, 0o755);
  for (const temp of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
    mkdirSync(join(dir, temp));
    chmodSync(join(dir, temp), 0o777);
  }
  const port = await freePort();
  const upstreamFile = join(dir, 'slipway-upstream.conf');
  options.writeUpstream(upstreamFile);
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, `daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  include ${upstreamFile};
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://${options.upstream};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_next_upstream error timeout;
    }
  }
}
`);
  const base = ['-c', conf, '-p', dir];
  const proc = await startService('nginx', 'nginx', base, port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    upstreamFile,
    testCommand: ['nginx', '-t', '-q', ...base],
    reloadCommand: ['nginx', '-s', 'reload', ...base],
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
