import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { exec, ExecError } from '../exec';
import { checkWeights, unreadyTargets, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

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

export class NginxRouter implements Router {
  readonly kind = 'nginx';
  readonly backends: readonly [string, string];

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

  /** Writes, checks, reloads; a failed check or reload puts the previous file back. */
  private async install(content: string | null, previous: string | null): Promise<void> {
    this.write(content);
    try {
      await this.run(this.options.testCommand, 'the nginx configuration test');
      await this.run(this.options.reloadCommand, 'the nginx reload');
    } catch (error) {
      this.write(previous);
      throw new Error(`${(error as Error).message}; ${this.options.configPath} was put back as it was`, { cause: error });
    }
  }

  async apply(weights: Weights, record: SwitchRecord): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const unready = await unreadyTargets(this, weights);
    if (unready.length) throw new Error(`not switching: no server of ${unready.join(', ')} accepts connections (${unready.flatMap((b) => this.options.servers[b] ?? []).join(', ')})`);
    await this.install(renderUpstream(this.options, weights, record), this.content() ?? null);
    return this.read();
  }

  async restore(snapshot: string, _record: SwitchRecord): Promise<void> {
    const { content } = JSON.parse(snapshot) as { content: string | null };
    await this.install(content, this.content() ?? null);
  }

  async readyEndpoints(backend: string): Promise<number> {
    const results = await Promise.all((this.options.servers[backend] ?? []).map((s) => reachable(s)));
    return results.filter(Boolean).length;
  }
}
