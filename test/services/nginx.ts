import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/net';
import { requireCommand, startService, type Service } from './process';

export interface Nginx extends Service {
  /** nginx's prefix folder (config, pid file, logs), removed by stop(). */
  dir: string;
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
    dir,
    upstreamFile,
    testCommand: ['nginx', '-t', '-q', ...base],
    reloadCommand: ['nginx', '-s', 'reload', ...base],
    stop: async () => {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let wrappers = 0;

/**
 * A reload command as the wrappers users have (`systemctl reload nginx`, `docker exec proxy nginx -s
 * reload`): a script that reloads this nginx and then reports failure on the given calls (1 = the
 * first), or, with `delayMs`, reloads it that much later in the background and returns at once, as
 * `systemctl reload --no-block` or a signal sent to a container does. calls() counts its runs.
 */
export function reloadWrapper(nginx: Nginx, options: { failOnCalls?: number[]; failFromCall?: number; delayMs?: number }): { command: string; calls(): number } {
  const name = `reload-wrapper-${++wrappers}`;
  const script = join(nginx.dir, `${name}.sh`);
  const counter = join(nginx.dir, `${name}.count`);
  const reload = nginx.reloadCommand.map((a) => `'${a}'`).join(' ');
  writeFileSync(script, [
    '#!/bin/sh',
    `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > '${counter}'`,
    options.delayMs ? `( sleep ${options.delayMs / 1000}; ${reload} ) >/dev/null 2>&1 &` : `${reload} || exit 2`,
    `case " ${(options.failOnCalls ?? []).join(' ')} " in *" $n "*) echo "reload wrapper: call $n reports failure" >&2; exit 1;; esac`,
    options.failFromCall ? `[ "$n" -ge ${options.failFromCall} ] && { echo "reload wrapper: call $n reports failure" >&2; exit 1; }` : '',
    'exit 0',
    '',
  ].join('\n'));
  chmodSync(script, 0o755);
  return { command: script, calls: () => (existsSync(counter) ? Number(readFileSync(counter, 'utf8')) : 0) };
}
