import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { formatDuration } from '../duration';
import { exec, ExecError } from '../exec';
import { sleep } from '../retry';
import { RoutingMayDifferError, checkWeights, unreadyTargets, type ApplyOptions, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

export interface NginxRouterOptions {
  /** The include file Slipway owns; nginx's own config includes it inside `http { }`. */
  configPath: string;
  /** The upstream's name, as `proxy_pass http://<name>;` uses it. */
  upstream: string;
  backends: readonly [string, string];
  /** Servers (`host:port` or `unix:/path`) of each backend. */
  servers: Record<string, string[]>;
  testCommand: string[];
  reloadCommand: string[];
}

const STATE_PREFIX = '# slipway-state: ';

/**
 * Backend weights become server weights: with b servers behind one backend and g behind the other, each
 * of the first gets percent × g and each of the second percent × b, so the totals keep the percents.
 * A backend at 0 % is marked `down` (nginx has no weight 0).
 */
export function renderUpstream(options: Pick<NginxRouterOptions, 'upstream' | 'backends' | 'servers'>, weights: Weights, record: SwitchRecord): string {
  const [a, b] = options.backends;
  const count = (backend: string) => options.servers[backend]?.length ?? 0;
  const lines = [
    '# Managed by Slipway (blue-green-switch, canary-analyze): rewritten on every switch, do not edit.',
    `# ${record.reason} by ${record.by} at ${record.at}${record.runUrl ? ` in ${record.runUrl}` : ''}`,
    `${STATE_PREFIX}${JSON.stringify({ weights, record })}`,
    `upstream ${options.upstream} {`,
  ];
  for (const [backend, other] of [[a, b], [b, a]] as const) {
    const percent = weights[backend] ?? 0;
    for (const server of options.servers[backend] ?? []) {
      lines.push(`    server ${server} ${percent === 0 ? 'down' : `weight=${percent * Math.max(1, count(other))}`};  # ${backend}`);
    }
  }
  lines.push('}', '');
  return lines.join('\n');
}

function reachable(server: string, timeoutMs = 2000): Promise<boolean> {
  const target = server.startsWith('unix:') ? { path: server.slice(5) } : (() => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(server);
    return { host: m?.[1] ?? server, port: Number(m?.[2] ?? 80) };
  })();
  return new Promise((resolve) => {
    const socket = connect(target as { host: string; port: number });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

interface Master {
  /** Its command line, e.g. `nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf`. */
  args: string;
  /** Its children: workers and cache processes. */
  children: Set<number>;
}

/** Every nginx master process on this machine, by pid; from ps. */
async function nginxMasters(): Promise<Map<number, Master>> {
  const { stdout } = await exec('ps', ['-A', '-o', 'pid=', '-o', 'ppid=', '-o', 'args='], { silent: true });
  const rows = stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? '' }] : [];
  });
  const masters = new Map(rows.filter((r) => r.args.startsWith('nginx: master process')).map((r) => [r.pid, { args: r.args, children: new Set<number>() }]));
  for (const r of rows) masters.get(r.ppid)?.children.add(r.pid);
  return masters;
}

/** The `-c <file>` of a command line, which names the nginx it talks to. */
function configFile(command: readonly string[]): string | undefined {
  const at = command.indexOf('-c');
  return at >= 0 ? command[at + 1] : undefined;
}

const pids = (list: Iterable<number>) => [...list].join(', ');

/** Whether a process of this machine runs (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class NginxRouter implements Router {
  readonly kind = 'nginx';
  readonly backends: readonly [string, string];
  /** nginx's processes just before the last reload, to tell when its old workers are gone. */
  private beforeReload?: { master?: [number, Master]; why?: string; at: number };

  constructor(private readonly options: NginxRouterOptions) {
    this.backends = options.backends;
  }

  private content(): string | undefined {
    return existsSync(this.options.configPath) ? readFileSync(this.options.configPath, 'utf8') : undefined;
  }

  async read(): Promise<RoutingState> {
    const content = this.content();
    const line = content?.split('\n').find((l) => l.startsWith(STATE_PREFIX));
    const state = line ? (JSON.parse(line.slice(STATE_PREFIX.length)) as { weights: Weights; record?: SwitchRecord }) : undefined;
    return { weights: state?.weights ?? {}, record: state?.record, snapshot: JSON.stringify({ content: content ?? null }) };
  }

  /** Written beside the target and renamed over it, so nginx never reads half a file. */
  private write(content: string | null): void {
    const path = this.options.configPath;
    if (content === null) {
      rmSync(path, { force: true });
      return;
    }
    const temp = join(dirname(path), `.${Date.now()}-${process.pid}.slipway.tmp`);
    writeFileSync(temp, content);
    renameSync(temp, path);
  }

  private async run(command: string[], what: string): Promise<void> {
    try {
      await exec(command[0] as string, command.slice(1), { silent: true });
    } catch (error) {
      const detail = error instanceof ExecError ? error.result.stderr.trim() || error.message : (error as Error).message;
      throw new Error(`${what} failed (\`${command.join(' ')}\`): ${detail}`, { cause: error });
    }
  }

  private async reload(): Promise<void> {
    const found = await this.master();
    this.beforeReload = { ...(typeof found === 'string' ? { why: found } : { master: found }), at: Date.now() };
    await this.run(this.options.reloadCommand, 'the nginx reload');
  }

  /**
   * Writes, checks, reloads. A failed check puts `previous` back (nginx never read the new file). A
   * failed reload may still have reloaded nginx (a wrapper can fail after it), so the file nginx must
   * serve is checked and reloaded again: `previous` for a switch (what served before), the file itself
   * for a rollback (putting the failing state back would undo the rollback). When that fails too,
   * nginx may serve either file, and the error says so.
   */
  private async install(content: string | null, previous: string | null, onFailedReload: 'put back' | 'keep'): Promise<void> {
    const path = this.options.configPath;
    this.write(content);
    try {
      await this.run(this.options.testCommand, 'the nginx configuration test');
    } catch (error) {
      this.write(previous);
      const kept = onFailedReload === 'keep' ? ' before this restore: nginx serves what it served, and nothing was restored' : '';
      throw new Error(`${(error as Error).message}; ${path} was put back as it was${kept}`, { cause: error });
    }
    try {
      await this.reload();
    } catch (error) {
      const failed = (error as Error).message;
      const done = onFailedReload === 'put back' ? `${path} was put back as it was` : `${path} was kept as restored`;
      try {
        if (onFailedReload === 'put back') this.write(previous);
        await this.run(this.options.testCommand, 'the nginx configuration test');
        await this.reload();
      } catch (again) {
        throw new RoutingMayDifferError(
          `${failed}; ${done}, but reloading nginx with it failed too (${(again as Error).message}): nginx may be serving either version of the file, so routing and ${path} may differ — check nginx before anything else`,
          { cause: again },
        );
      }
      if (onFailedReload === 'keep') return;
      throw new Error(`${failed}; ${done} and nginx reloaded with it`, { cause: error });
    }
  }

  async apply(weights: Weights, record: SwitchRecord, options: ApplyOptions = {}): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const unready = await unreadyTargets(this, weights, options);
    if (unready.length) throw new Error(`not switching: no server of ${unready.join(', ')} accepts connections (${unready.flatMap((b) => this.options.servers[b] ?? []).join(', ')})`);
    await this.install(renderUpstream(this.options, weights, record), this.content() ?? null, 'put back');
    return this.read();
  }

  async restore(snapshot: string, _record: SwitchRecord): Promise<void> {
    const { content } = JSON.parse(snapshot) as { content: string | null };
    await this.install(content, this.content() ?? null, 'keep');
  }

  async readyEndpoints(backend: string): Promise<number> {
    const results = await Promise.all((this.options.servers[backend] ?? []).map((s) => reachable(s)));
    return results.filter(Boolean).length;
  }

  /**
   * The master this router's commands reload: the only one on the runner, or the one started with the
   * same `-c` file. Anything else (none, several) is why the new file's serving cannot be seen here.
   */
  private async master(): Promise<[number, Master] | string> {
    let masters: Map<number, Master>;
    try {
      masters = await nginxMasters();
    } catch (error) {
      return `ps could not list this runner's processes to find nginx's workers (${(error as Error).message})`;
    }
    const config = configFile(this.options.reloadCommand) ?? configFile(this.options.testCommand);
    const ours = [...masters].filter(([, m]) => !config || m.args.includes(` -c ${config}`));
    if (ours.length === 1) return ours[0] as [number, Master];
    if (ours.length === 0) return `no nginx master process${config ? ` started with -c ${config}` : ''} runs on this runner (nginx runs elsewhere, e.g. in a container or behind \`ssh\`), so Slipway cannot see its old workers exit`;
    return `${ours.length} nginx masters run on this runner (${pids(ours.map(([pid]) => pid))}) and the reload command does not say which is this one (with \`-c <file>\`), so Slipway cannot tell which one's old workers must exit`;
  }

  /**
   * A lock file beside the config (`<file>.slipway-lock`), created exclusively. One left by a run that
   * died on this machine (its pid is gone) is taken over; one from another machine is never guessed at.
   */
  claim(record: SwitchRecord): () => void {
    const lock = `${this.options.configPath}.slipway-lock`;
    const mine = JSON.stringify({ pid: process.pid, host: hostname(), ...record });
    for (let tries = 0; ; tries++) {
      try {
        writeFileSync(lock, mine, { flag: 'wx', mode: 0o644 });
        return () => {
          if (existsSync(lock) && readFileSync(lock, 'utf8') === mine) rmSync(lock, { force: true });
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock file ${lock} (${(error as Error).message})`, { cause: error });
      }
      const seen = existsSync(lock) ? readFileSync(lock, 'utf8') : '';
      let holder: Partial<SwitchRecord & { pid: number; host: string }> = {};
      try {
        holder = JSON.parse(seen) as typeof holder;
      } catch {
        // Being written by a run that created it this instant: held.
      }
      const dead = holder.host === hostname() && typeof holder.pid === 'number' && !alive(holder.pid);
      if ((dead || !seen) && tries < 3) {
        if (dead && existsSync(lock) && readFileSync(lock, 'utf8') === seen) rmSync(lock, { force: true });
        continue;
      }
      throw new Error(`another run is changing this nginx's routing: ${lock} is held by the ${holder.reason ?? 'run'} of ${holder.by ?? 'someone'} since ${holder.at ?? 'an unknown time'}${holder.runUrl ? ` (${holder.runUrl})` : ''}, pid ${holder.pid ?? '?'} on ${holder.host ?? 'an unknown host'}. Runs that change one router must not overlap (a workflow \`concurrency:\` group keeps them apart); remove the file only if that run is gone`);
    }
  }

  async cannotConfirm(): Promise<string | undefined> {
    const found = await this.master();
    return typeof found === 'string' ? found : undefined;
  }

  /**
   * `nginx -s reload` (and any wrapper around it) returns before nginx has taken the new file up, and
   * the old workers keep serving their connections until they finish. The new file alone serves once
   * its master has new workers and none of those it had before the reload.
   */
  async confirmServing(timeoutMs: number): Promise<string> {
    const before = this.beforeReload;
    if (!before) throw new Error('nginx was not reloaded in this run');
    if (!before.master) throw new Error(before.why);
    const [pid, { children: old }] = before.master;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = (await nginxMasters()).get(pid);
      const took = formatDuration(Date.now() - before.at);
      // Gone: nginx was restarted or stopped; what runs now (if anything) read the file when it started.
      if (!now) throw new Error(`nginx's master ${pid} exited ${took} after the reload command (a restart or a crash): Slipway cannot tell which file serves now`);
      const fresh = [...now.children].some((child) => !old.has(child));
      const lingering = [...old].filter((child) => now.children.has(child));
      if (fresh && !lingering.length) return `nginx's old workers (${pids(old)}) have exited ${took} after the reload: only the new file serves`;
      if (Date.now() >= deadline) {
        throw new Error(fresh
          ? `nginx's old workers (${pids(lingering)}) still run ${took} after the reload: they keep serving connections opened before it (long requests or websockets; nginx's worker_shutdown_timeout ends them)`
          : `nginx (master ${pid}) started no new workers within ${took} of the reload: it did not take the new file up (see its error log)`);
      }
      await sleep(100);
    }
  }
}
