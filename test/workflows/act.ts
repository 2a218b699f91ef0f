import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { node24 } from '../helpers/node24';
import { requireCommand } from '../services/process';

const ROOT = join(import.meta.dirname, '..', '..');
/** How the templates and callers name Slipway; act maps it to the staged release below. */
export const SLIPWAY = 'slipway-dev/slipway';
export const VERSION = 'v1';
const STAND_INS = join(import.meta.dirname, 'stand-ins');
/**
 * build-scan's pinned actions, which act cannot fetch here: github-script, which hosts its bundle, by a
 * stand-in that runs the script; the Docker setup actions, skipped with `builder: buildah`, by one that
 * fails if it runs.
 */
export const BUILD_SCAN_STAND_INS = {
  'actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd': join(STAND_INS, 'github-script'),
  'docker/setup-buildx-action@e468171a9de216ec08956ac3ada2f0791b6bd435': join(STAND_INS, 'must-not-run'),
  'docker/setup-qemu-action@29109295f81e9208d7d86ff1c6c12d2833863392': join(STAND_INS, 'must-not-run'),
};

/**
 * What a `@v1` tag of Slipway holds for its users: every action.yml, the bundles they run and the
 * reusable workflows. Staged as a folder act serves for `slipway-dev/slipway@v1` (--local-repository)
 * instead of cloning github.com, which this machine cannot reach; node_modules and sources stay out.
 */
export function stageRelease(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-release-'));
  for (const action of readdirSync(join(ROOT, 'actions'))) {
    mkdirSync(join(dir, 'actions', action), { recursive: true });
    cpSync(join(ROOT, 'actions', action, 'action.yml'), join(dir, 'actions', action, 'action.yml'));
  }
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, '.github', 'workflows'), join(dir, '.github', 'workflows'), { recursive: true });
  return dir;
}

/** A user's repository: a git repository with the given files (e.g. `.github/workflows/release.yml`). */
export function userRepository(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-user-repo-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const git = (...args: string[]) => {
    const run = spawnSync('git', ['-c', 'user.name=Slipway Test', '-c', 'user.email=test@slipway.invalid', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
  };
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'release');
  git('remote', 'add', 'origin', 'https://github.com/acme/shop.git');
  return dir;
}

function eventFile(dir: string, payload: unknown): string {
  const file = join(dir, 'event.json');
  writeFileSync(file, JSON.stringify(payload));
  return file;
}

export interface ActRun {
  exitCode: number;
  log: string;
}

/**
 * Runs a workflow of `repo` with act on this machine (`-P ubuntu-latest=-self-hosted`), with Slipway
 * served from `release` and Node 24 first on PATH, as `runs: using: node24` gets it on a runner.
 * `localRepositories` maps further `owner/repo@ref` to local folders.
 */
export async function runAct(options: {
  repo: string;
  release: string;
  event?: string;
  /** The event's payload (github.event), e.g. `{ schedule: '30 3 * * 0' }`. */
  payload?: unknown;
  secrets?: Record<string, string>;
  env?: Record<string, string>;
  /** Variables act sets in the job (`--env`), e.g. GITHUB_API_URL, which act otherwise fixes itself. */
  jobEnv?: Record<string, string>;
  localRepositories?: Record<string, string>;
  timeoutMs?: number;
}): Promise<ActRun> {
  const act = requireCommand('act', 'the pretest builds act v0.2.87 from the Go module proxy into $(go env GOPATH)/bin');
  const home = mkdtempSync(join(tmpdir(), 'slipway-act-home-'));
  const secretFile = join(home, 'secrets.env');
  // One per line, KEY=value with JSON-quoted values so newlines survive (act reads it as a dotenv file).
  writeFileSync(secretFile, Object.entries(options.secrets ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join('\n'), { mode: 0o600 });
  const locals = { [`${SLIPWAY}@${VERSION}`]: options.release, ...options.localRepositories };
  const args = [
    options.event ?? 'workflow_dispatch',
    '-P', 'ubuntu-latest=-self-hosted',
    '--secret-file', secretFile,
    ...(options.payload === undefined ? [] : ['--eventpath', eventFile(home, options.payload)]),
    ...Object.entries(options.jobEnv ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    '--no-cache-server',
    '--action-offline-mode',
    ...Object.entries(locals).flatMap(([from, to]) => ['--local-repository', `${from}=${to}`]),
  ];
  const child = spawn(act, args, {
    cwd: options.repo,
    env: {
      ...process.env,
      HOME: home,
      XDG_CACHE_HOME: join(home, 'cache'),
      PATH: [dirname(node24()), process.env.PATH].join(delimiter),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (log += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 600_000);
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  clearTimeout(timer);
  // The secrets file and act's caches go with the run.
  rmSync(home, { recursive: true, force: true });
  return { exitCode, log };
}

/**
 * A caller's secrets from one list: `mapping` for the workflow's `secrets:` (each input as
 * `${{ secrets.NAME }}`, NAME its name in upper snake case) and `values`, what act is given for NAME.
 */
export function callerSecrets(secrets: Record<string, string>): { mapping: Record<string, string>; values: Record<string, string> } {
  const names = Object.keys(secrets).map((input) => [input, input.toUpperCase().replace(/-/g, '_')] as const);
  return {
    mapping: Object.fromEntries(names.map(([input, name]) => [input, `\${{ secrets.${name} }}`])),
    values: Object.fromEntries(names.map(([input, name]) => [name, secrets[input] ?? ''])),
  };
}

/**
 * A caller workflow in a user's repository: one job calling Slipway's reusable `workflow` with the
 * given inputs and secrets (secrets as expressions, e.g. `${{ secrets.WEBHOOK_URL }}`).
 */
export function callerJob(workflow: string, inputs: Record<string, string>, secrets: Record<string, string>): string {
  return stringify({ name: 'Release', on: 'workflow_dispatch', jobs: { release: { uses: `${SLIPWAY}/.github/workflows/${workflow}@${VERSION}`, with: inputs, secrets } } });
}
