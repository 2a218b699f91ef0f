// What the restore tests (restore-*.test.ts) share: backups made and hand-crafted in a local store,
// a blob store that changes a backup between two downloads, and killing a tool the bundle runs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { runAction, type ActionRun } from '../helpers/action';
import { listen, readBytes, type Listening } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite } from '../services/azurite';
import { expectNoLeaks } from './harness';

export const RUN_ENV = runEnv('7007');

/** A backup-db run, scanned for the given secrets. */
export async function backupDb(inputs: Record<string, string>, secrets: readonly string[]): Promise<ActionRun> {
  const run = await runAction('backup-db', inputs, RUN_ENV);
  expectNoLeaks(run, secrets);
  return run;
}

/** Makes a backup with the bundle (no verification) and returns its name. */
export async function makeBackup(inputs: Record<string, string>, secrets: readonly string[]): Promise<string> {
  const made = await backupDb({ verify: 'none', ...inputs }, secrets);
  expect(made.exitCode, made.stdout + made.stderr).toBe(0);
  return made.outputs['backup-name'] as string;
}

/**
 * Writes a backup by hand into a local store, as the bundle would: the file, its metadata (from
 * another backup, with this file's SHA-256 and compression `none`) and its manifest. Restored by name.
 */
export function craftBackup(local: string, like: string, name: string, data: Buffer, manifest?: unknown): string {
  const path = join(local, ...name.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  const meta = JSON.parse(readFileSync(join(local, ...`${like}.meta.json`.split('/')), 'utf8')) as Record<string, string>;
  writeFileSync(`${path}.meta.json`, JSON.stringify({ ...meta, compression: 'none', encryption: 'none', sha256: createHash('sha256').update(data).digest('hex') }));
  writeFileSync(`${path}.manifest.json`, JSON.stringify(manifest ?? JSON.parse(readFileSync(join(local, ...`${like}.manifest.json`.split('/')), 'utf8'))));
  return name;
}

export interface TamperingStore extends Listening {
  /** A connection string to Azurite through this proxy. */
  connectionString: string;
  /** Full downloads of each blob so far. */
  downloads: Map<string, number>;
}

/**
 * Azurite behind a proxy that answers a full download of `blob` with `replacement` (another valid
 * backup's bytes) from the `from`-th download on: the blob changes between two reads, as an overwrite,
 * a restored snapshot or a man in the middle would change it.
 */
export async function tamperingStore(azurite: Azurite, container: string, blob: string, replacement: Buffer, from: number): Promise<TamperingStore> {
  const target = new URL(azurite.url);
  const downloads = new Map<string, number>();
  const path = `/${AZURITE_ACCOUNT}/${container}/${blob.split('/').map(encodeURIComponent).join('/')}`;
  const proxy = await listen((req, res) => {
    void (async () => {
      const body = await readBytes(req);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const full = req.method === 'GET' && !url.searchParams.has('comp') && !req.headers['x-ms-range'] && !req.headers.range;
      if (full) downloads.set(url.pathname, (downloads.get(url.pathname) ?? 0) + 1);
      const swap = full && url.pathname === path && (downloads.get(path) ?? 0) >= from;
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } }, (answer) => {
        const headers = { ...answer.headers };
        if (!swap) {
          res.writeHead(answer.statusCode ?? 502, headers);
          answer.pipe(res);
          return;
        }
        answer.resume();
        delete headers['content-md5'];
        delete headers['x-ms-blob-content-md5'];
        res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': String(replacement.length) });
        res.end(replacement);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    })();
  });
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${proxy.url}/${AZURITE_ACCOUNT};`;
  return { ...proxy, connectionString, downloads };
}

/** Processes whose argv matches that this test process started, directly or through the bundle (its children and theirs). */
export function ourProcesses(match: (argv: string[]) => boolean): number[] {
  const parents = new Map<number, number>();
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (match(argv)) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  const ours = (pid: number): boolean => {
    for (let p = parents.get(pid), depth = 0; p !== undefined && depth < 8; p = parents.get(p), depth++) if (p === process.pid) return true;
    return false;
  };
  return found.filter(ours);
}

/** A program by name, with or without some argument. */
export const program =
  (name: string, { having, without }: { having?: string; without?: string } = {}) =>
  (argv: string[]) =>
    argv[0]?.split('/').pop() === name && (having === undefined || argv.includes(having)) && (without === undefined || !argv.includes(without));

/** Sends `signal` to the processes this test started that match, once `ready()` holds; resolves with the ones it signalled. */
export async function signalWhen(match: (argv: string[]) => boolean, ready: () => boolean | Promise<boolean>, signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 60_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const pids = ourProcesses(match);
    if (pids.length && (await ready())) {
      for (const pid of pids) process.kill(pid, signal);
      return pids;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return [];
}

/**
 * Stops (SIGSTOP) the processes this test started that match once `ready()` holds, runs `during`, and
 * lets them go on (SIGCONT) however it ends. A process of its own lets them go after a minute anyway:
 * should `during` wait on them inside a synchronous call, this one could not.
 */
export async function whileStopped(match: (argv: string[]) => boolean, ready: () => boolean | Promise<boolean>, during: () => unknown): Promise<void> {
  const stopped = await signalWhen(match, ready, 'SIGSTOP');
  expect(stopped.length, 'a process to stop').toBeGreaterThan(0);
  const letGo = spawn('sh', ['-c', `sleep 60; kill -CONT ${stopped.join(' ')}`], { stdio: 'ignore' });
  try {
    await during();
  } finally {
    letGo.kill();
    spawnSync('kill', ['-CONT', ...stopped.map(String)]);
  }
}

/** Waits until `done()` holds, failing after `timeoutMs`. */
export async function until(done: () => boolean, what = 'the condition', timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !done(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}
