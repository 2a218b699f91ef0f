import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
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

/** Every nginx master process on this machine, with its children (workers, cache processes); from ps. */
async function nginxMasters(): Promise<Map<number, Set<number>>> {
  const { stdout } = await exec('ps', ['-A', '-o', 'pid=', '-o', 'ppid=', '-o', 'args='], { silent: true });
  const rows = stdout.split('\n').flatMap((line) => {
    const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line);
    return m ? [{ pid: Number(m[1]), ppid: Number(m[2]), args: m[3] ?? '' }] : [];
  });
  const masters = new Map(rows.filter((r) => r.args.startsWith('nginx: master process')).map((r) => [r.pid, new Set<number>()]));
  for (const r of rows) masters.get(r.ppid)?.add(r.pid);
  return masters;
}

const pids = (list: Iterable<number>) => [...list].join(', ');

export class NginxRouter implements Router {
  readonly kind = 'nginx';
  readonly backends: readonly [string, string];
  /** nginx's processes just before the last reload, to tell when its old workers are gone. */
  private beforeReload?: { masters: Map<number, Set<number>>; at: number };

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
    this.beforeReload = { masters: await nginxMasters().catch(() => new Map()), at: Date.now() };
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
      throw new Error(`${(error as Error).message}; ${path} was put back as it was`, { cause: error });
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

  async cannotConfirm(): Promise<string | undefined> {
    const masters = await nginxMasters().catch((error: unknown) => (error as Error).message);
    if (typeof masters === 'string') return `ps could not list this runner's processes to find nginx's workers (${masters})`;
    return masters.size ? undefined : 'no nginx master process runs on this runner (nginx runs elsewhere, e.g. behind `ssh`), so Slipway cannot see its old workers exit';
  }

  /**
   * `nginx -s reload` (and any wrapper around it) returns before nginx has taken the new file up, and
   * the old workers keep serving their connections until they finish. The new file alone serves once
   * the master that took the reload up has new workers and none of those it had before.
   */
  async confirmServing(timeoutMs: number): Promise<string> {
    const before = this.beforeReload;
    if (!before) throw new Error('nginx was not reloaded in this run');
    if (before.masters.size === 0) throw new Error((await this.cannotConfirm()) ?? 'no nginx master process ran at the reload');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await nginxMasters();
      const reloaded = [...before.masters].filter(([pid, old]) => [...(now.get(pid) ?? [])].some((child) => !old.has(child)));
      // A restart instead of a reload: the old master is gone and another runs.
      const restarted = [...before.masters.keys()].some((pid) => !now.has(pid)) && [...now.keys()].some((pid) => !before.masters.has(pid));
      const lingering = reloaded.flatMap(([pid, old]) => [...old].filter((child) => now.get(pid)?.has(child)));
      const took = formatDuration(Date.now() - before.at);
      if ((reloaded.length && !lingering.length) || (restarted && !reloaded.length)) {
        return restarted && !reloaded.length ? `nginx was restarted (master ${pids(now.keys())}) ${took} after the reload command` : `nginx's old workers (${pids(reloaded.flatMap(([, old]) => [...old]))}) have exited ${took} after the reload: only the new file serves`;
      }
      if (Date.now() >= deadline) {
        throw new Error(reloaded.length
          ? `nginx's old workers (${pids(lingering)}) still run ${took} after the reload: they keep serving connections opened before it (long requests or websockets; nginx's worker_shutdown_timeout ends them)`
          : `no nginx master started new workers within ${took} of the reload: nginx did not take the new file up (see its error log)`);
      }
      await sleep(100);
    }
  }
}
