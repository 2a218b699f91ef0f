// `mode: finish` through dist/canary-analyze/index.js: the end of a release, each way it can end. A
// real nginx routes stable and canary (two demo instances Prometheus scrapes); the GitHub stand-in
// (checked against GitHub's OpenAPI description) receives the incident issue; the canary release is
// removed from the local Kubernetes control plane with the real Helm and kubectl. Then the hostile
// review's cases, each a defect it found, reproduced through the bundle.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { exec } from '../../../packages/shared/src/exec';
import type { Weights } from '../../../packages/shared/src/routing/index';
import { useCluster } from '../../../test/cluster/use-cluster';
import { startGitHubApi, type GitHubApi } from '../../../test/fakes/github-api';
import { GITHUB_TOKEN } from '../../../test/fakes/saas';
import { runAction, visible, type ActionRun } from '../../../test/helpers/action';
import { startLoad, type LoadSample } from '../../../test/helpers/load';
import { runEnv } from '../../../test/helpers/run-env';
import { startCanaryPair, type CanaryPair } from '../../../test/services/canary-pair';
import type { DemoApp } from '../../../test/services/demo-app';
import type { Nginx } from '../../../test/services/nginx';

const ROOT = join(import.meta.dirname, '..', '..', '..');
let stable: DemoApp;
let canary: DemoApp;
let nginx: Nginx;
let github: GitHubApi;

let pair: CanaryPair;
const route = (weights: Weights) => pair.route(weights);
/** The colour nginx answers with now, over 20 requests. */
async function serving(): Promise<string[]> {
  const colors = new Set<string>();
  for (let i = 0; i < 20; i++) colors.add(((await (await fetch(nginx.url)).json()) as { color: string }).color);
  return [...colors].sort();
}

beforeAll(async () => {
  // A promoted canary: all traffic on it.
  pair = await startCanaryPair({ stable: 0, canary: 100 });
  ({ stable, canary, nginx } = pair);
  github = await startGitHubApi(GITHUB_TOKEN);
}, 60_000);
afterAll(async () => {
  await Promise.all([pair?.stop(), github?.stop()]);
});
beforeEach(async () => {
  await Promise.all([stable.fail(0), canary.fail(0)]);
  await route({ stable: 0, canary: 100 });
});

const env = (runId: string, attempt = '1') => ({ ...runEnv(runId), GITHUB_RUN_ATTEMPT: attempt, GITHUB_API_URL: github.url });
const finishInputs = (verdict: string) => ({
  ...pair.inputs(),
  mode: 'finish',
  verdict,
  'stable-health-url': `${stable.url}/healthz`,
  'verify-duration': '4s',
  interval: '1s',
  'query-window': '3s',
  'canary-removal': 'keep',
});
/** A rollback's finish with the incident issue, from the analysis' `results` (an object, or text as given). */
const incidentInputs = (results: unknown) => ({
  ...finishInputs('rollback'),
  router: '',
  'incident-issue': 'true',
  'github-token': GITHUB_TOKEN,
  'analysis-results': typeof results === 'string' ? results : JSON.stringify(results),
});
const log = (run: ActionRun) => run.stdout + run.stderr;
const upstreamFile = () => readFileSync(nginx.upstreamFile, 'utf8');

/** Runs the action with load through nginx (50 requests a second) from one second before to one after. */
async function underLoad(inputs: Record<string, string>, runEnvironment: Record<string, string>): Promise<{ run: ActionRun; samples: LoadSample[] }> {
  const load = startLoad(nginx.url, 50);
  await new Promise((r) => setTimeout(r, 1000));
  const run = await runAction('canary-analyze', inputs, runEnvironment);
  await new Promise((r) => setTimeout(r, 1000));
  return { run, samples: await load.stop() };
}

describe('dist/canary-analyze/index.js, mode finish, after a promotion', () => {
  it('gives all traffic back to the upgraded stable under load without a failed request, verifies it, and records it', async () => {
    const { run, samples } = await underLoad(finishInputs('promote'), env('9101'));
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ verdict: 'promote', 'final-weight': '0', 'stable-verified': 'true', 'canary-removed': 'false', 'incident-url': '' });
    expect(upstreamFile()).toMatch(new RegExp(`server ${stable.address} weight=100;.*\\n\\s*server ${canary.address} down;`));
    expect(upstreamFile()).toContain('canary finished: all traffic to the upgraded stable');
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(samples[0]?.color).toBe('canary');
    expect(samples.at(-1)?.color).toBe('stable');
    expect(run.summary).toContain('canary-analyze finish: ✅ released: stable runs the new version and serves all traffic');
    expect(run.summary).toMatch(/Stable verified.*error rate 0\.0 %/s);
    expect(run.summary).toContain('the canary release is kept, as asked');
  }, 60_000);

  it('leaves everything as it was when stable does not answer its health URL', async () => {
    const before = upstreamFile();
    await stable.fail(1);
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'verify-duration': '2s' }, env('9102'));
    expect(run.exitCode).toBe(1);
    expect(upstreamFile()).toBe(before);
    expect(run.outputs).toMatchObject({ 'stable-verified': 'false', 'canary-removed': 'false', 'final-weight': '100' });
    expect(run.stdout).toMatch(/::error::canary finish: stable not given the traffic \(health-gate\)/);
    expect(run.summary).toContain('stable does not answer its health URL (last: 503 (expected 200))');
  }, 60_000);

  it('leaves routing as it was when nginx refuses the new configuration', async () => {
    const before = upstreamFile();
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'nginx-test-command': 'false' }, env('9103'));
    expect(run.exitCode).toBe(1);
    expect(upstreamFile()).toBe(before);
    expect(run.summary).toContain('stable not given the traffic (traffic-move)');
    expect(run.summary).toContain('moving traffic to stable failed, routing unchanged');
  }, 60_000);

  it('puts routing back exactly, the canary serving, when stable cannot be measured: no data is not a pass', async () => {
    const before = upstreamFile();
    const { run, samples } = await underLoad({ ...finishInputs('promote'), 'stable-selector': 'version="nobody"' }, env('9104'));
    expect(run.exitCode).toBe(1);
    expect(upstreamFile()).toBe(before);
    expect(run.outputs).toMatchObject({ 'stable-verified': 'false', 'final-weight': '100' });
    expect(run.summary).toMatch(/no data at the end of the watch.*no data is not a pass.*routing was put back as it was, the canary serving/s);
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(samples.at(-1)?.color).toBe('canary');
  }, 60_000);

  it('fails, saying so, when stable stops answering once the canary is removed', async () => {
    // kubectl stands in for the cluster here, to fail stable exactly when the canary is scaled to 0.
    const bin = mkdtempSync(join(tmpdir(), 'slipway-kubectl-'));
    const deployment = JSON.stringify({ metadata: { name: 'shop-canary', annotations: {} }, spec: { replicas: 2 } });
    writeFileSync(join(bin, 'kubectl'), `#!/bin/sh
case "$*" in
  *" -l "*) echo '{"items":[${deployment}]}' ;;
  *"get deployment"*) echo '${deployment}' ;;
  *scale*) curl -fsS -X POST '${stable.url}/admin/fail?rate=1' >/dev/null ;;
esac
`, { mode: 0o755 });
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'canary-removal': 'scale-to-zero', 'canary-release': 'shop-canary' }, { ...env('9109'), PATH: `${bin}:${process.env.PATH ?? ''}` });
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ 'canary-removed': 'true', 'stable-verified': 'false', 'final-weight': '0' });
    expect(run.stdout).toMatch(/::error::canary finish: stable stopped answering after the canary was removed/);
    expect(run.summary).toContain('the canary release shop-canary was scaled to 0: shop-canary (2 replicas before)');
    expect(upstreamFile()).toMatch(new RegExp(`server ${stable.address} weight=100;`));
  }, 90_000);

  it('puts routing back exactly when the job is cancelled while stable is verified', async () => {
    const before = upstreamFile();
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'verify-duration': '30s' }, env('9108'), { interrupt: { when: /All traffic is on stable; verifying it/, signal: 'SIGINT' } });
    expect(run.exitCode).toBe(1);
    expect(upstreamFile()).toBe(before);
    expect(run.summary).toContain('the job was cancelled before stable was verified; routing was put back as it was, the canary serving');
    expect(run.outputs).toMatchObject({ 'stable-verified': 'false', 'canary-removed': 'false' });
  }, 60_000);

  it('on a rerun of the job, does not analyse a canary an earlier attempt promoted, and finishes again without moving traffic twice', async () => {
    // Attempt 1: the analysis promotes (recording it on the router), then the job fails later on.
    await route({ stable: 100, canary: 0 });
    const analysis = { ...finishInputs('promote'), mode: 'progressive', steps: '50,100', 'step-duration': '4s', 'min-requests': '5', judge: 'thresholds' };
    const first = await underLoad(analysis, env('9105', '1'));
    expect(first.run.exitCode, log(first.run)).toBe(0);
    expect(upstreamFile()).toContain('canary promoted');
    // Attempt 2 of the same run: no analysis, no traffic step; the verdict is promote again.
    const before = upstreamFile();
    const again = await runAction('canary-analyze', analysis, env('9105', '2'));
    expect(again.exitCode, log(again)).toBe(0);
    expect(again.outputs).toMatchObject({ verdict: 'promote', 'final-weight': '100' });
    expect(again.stdout).toContain('an earlier attempt of this run promoted the canary (canary promoted');
    expect(upstreamFile()).toBe(before);
    // Another run is analysed as usual (its first step gives the canary 50 %).
    const other = await runAction('canary-analyze', { ...analysis, steps: '50', 'step-duration': '1s', 'min-requests': '0' }, env('9106', '2'));
    expect(other.stdout).toContain('Step: the canary gets 50 %');

    // Finishing in attempt 1 moved the traffic; attempt 2's finish verifies and goes on without moving it.
    await route({ stable: 0, canary: 100 });
    const finished = await runAction('canary-analyze', finishInputs('promote'), env('9107', '1'));
    expect(finished.exitCode, log(finished)).toBe(0);
    const moved = upstreamFile();
    const rerun = await underLoad(finishInputs('promote'), env('9107', '2'));
    expect(rerun.run.exitCode, log(rerun.run)).toBe(0);
    expect(rerun.run.summary).toContain('100 % on stable (moved by an earlier attempt)');
    expect(upstreamFile()).toBe(moved);
  }, 120_000);
});

describe('dist/canary-analyze/index.js, mode finish, after a rollback', () => {
  const results = (secret: string) => JSON.stringify({
    verdict: 'rollback',
    outcome: 'failure',
    reason: `error-rate: error rate 30.0 % > 5.00 % | <b>bold</b> ${secret}`,
    score: null,
    rollback: { how: 'routing restored exactly as it was before the run', stableHealth: '1 ready endpoint' },
    steps: [{ weight: 10, status: 'failure', measurements: [{ at: '2026-12-04T10:00:00.000Z', metrics: { 'error-rate': { canary: 0.3, stable: 0, result: 'failure' }, 'p95-latency': { canary: 0.04, stable: 0.04, result: 'success' } } }] }],
  });
  const rollbackInputs = (secret: string) => ({
    ...finishInputs('rollback'),
    router: '',
    'incident-issue': 'true',
    'github-token': GITHUB_TOKEN,
    'analysis-results': results(secret),
    'prometheus-headers': `X-Scope-OrgID: ${secret}`,
  });

  it('verifies stable and opens exactly one incident issue per run, however often the job is rerun', async () => {
    await route({ stable: 100, canary: 0 });
    const secret = `org-${randomBytes(6).toString('hex')}`;
    const opened = github.issues.length;
    const { run } = await underLoad(rollbackInputs(secret), env('9201'));
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ verdict: 'rollback', 'stable-verified': 'true', 'incident-url': `https://github.com/acme/shop/issues/${opened + 1}` });
    expect(github.issues).toHaveLength(opened + 1);
    const issue = github.issues.at(-1);
    expect(issue?.labels).toEqual(['slipway-incident']);
    expect(issue?.title).toMatch(/^Canary rollback in Release: error-rate: error rate 30\.0 %/);
    expect(issue?.body).toContain('<!-- slipway-incident: acme/shop/actions/runs/9201 -->');
    expect(issue?.body).toContain('| `error-rate` | 0.3 | 0 | `failure` |');
    // The run's text is a code span: no HTML, link or mention renders, no pipe ends a cell.
    expect(issue?.body).toContain('\\| <b>bold</b>');
    expect(issue?.body).toMatch(/Stable after the rollback: verified: `error rate 0\.0 %/);
    expect(issue?.body).toContain('Run: https://github.com/acme/shop/actions/runs/9201');
    // A secret the step was given never reaches the issue, nor the log.
    expect(issue?.body).not.toContain(secret);
    expect(issue?.title).not.toContain(secret);
    expect(visible(log(run))).not.toContain(secret);
    expect(github.requests.filter((r) => r.problems.length)).toEqual([]);

    const rerun = await runAction('canary-analyze', rollbackInputs(secret), env('9201', '2'));
    expect(rerun.exitCode, log(rerun)).toBe(0);
    expect(rerun.outputs['incident-url']).toBe(run.outputs['incident-url']);
    expect(rerun.summary).toContain('already opened by an earlier attempt of this run');
    expect(github.issues).toHaveLength(opened + 1);
  }, 60_000);

  it('fails when stable fails its verification, and says so in the incident', async () => {
    await route({ stable: 100, canary: 0 });
    const before = upstreamFile();
    await stable.fail(1);
    const run = await runAction('canary-analyze', rollbackInputs('org-fixed-value'), env('9202'));
    expect(run.exitCode).toBe(1);
    expect(run.outputs['stable-verified']).toBe('false');
    expect(run.stdout).toMatch(/::error::canary finish: stable failed its verification after the rollback/);
    expect(github.issues.at(-1)?.body).toMatch(/Stable after the rollback: \*\*not verified\*\*/);
    expect(upstreamFile()).toBe(before);
  }, 60_000);

  it('refuses bad inputs before touching routing or GitHub, naming the input and never echoing the token', async () => {
    const before = upstreamFile();
    const requests = github.requests.length;
    const cases: [Record<string, string>, RegExp][] = [
      [{ verdict: '' }, /Input 'verdict' is invalid: got an empty value; expected the analysis step's verdict in `finish` mode/],
      [{ verdict: 'ship-it' }, /Input 'verdict' is invalid: got "ship-it"/],
      [{ 'stable-health-url': '' }, /Input 'stable-health-url' is invalid: got an empty value; expected stable's health URL/],
      [{ 'stable-health-url': 'ftp://stable/healthz' }, /Input 'stable-health-url' is invalid/],
      [{ 'verify-duration': '0s' }, /Input 'verify-duration' is invalid/],
      [{ 'canary-removal': 'delete' }, /Input 'canary-removal' is invalid: got "delete"/],
      [{ 'canary-removal': 'uninstall' }, /Input 'canary-release' is invalid: got an empty value; expected the canary's Helm release/],
      [{ 'canary-removal': 'uninstall', 'canary-release': '../kube-system' }, /Input 'canary-release' is invalid: got "..\/kube-system"/],
      [{ router: 'none' }, /Input 'router' is invalid: got "none"/],
      [{ verdict: 'rollback', 'incident-issue': 'true' }, /Input 'github-token' is invalid: got an empty value; expected a token with `issues: write`/],
      [{ verdict: 'rollback', 'incident-issue': 'true', 'github-token': GITHUB_TOKEN, 'analysis-results': '{"verdict": ' }, /Input 'analysis-results' is invalid/],
      [{ verdict: 'rollback', 'incident-issue': 'true', 'github-token': GITHUB_TOKEN, 'incident-label': 'a,b' }, /Input 'incident-label' is invalid: got "a,b"/],
    ];
    for (const [inputs, message] of cases) {
      const run = await runAction('canary-analyze', { ...finishInputs('promote'), ...inputs }, env('9203'));
      expect(run.exitCode, JSON.stringify(inputs)).toBe(1);
      expect(run.stdout, JSON.stringify(inputs)).toMatch(message);
      expect(visible(log(run))).not.toContain(GITHUB_TOKEN);
    }
    expect(upstreamFile()).toBe(before);
    expect(github.requests).toHaveLength(requests);
  }, 120_000);
});

describe('dist/canary-analyze/index.js, mode finish, removing the canary release from Kubernetes', () => {
  it('uninstalls it, or scales it to 0; a removal that fails leaves stable serving and a rerun completes it', async () => {
    const cluster = useCluster();
    const ns = `finish-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
    const helm = (args: string[]) => exec('helm', [...args, '--kubeconfig', cluster.kubeconfig, '--namespace', ns], { env: cluster.env, silent: true });
    const install = () => helm(['install', 'shop-canary', join(ROOT, 'examples', 'demo-app', 'chart'), '--set', 'color=canary']);
    const releases = async () => (JSON.parse((await helm(['list', '-o', 'json'])).stdout) as { name: string }[]).map((r) => r.name);
    const inputs = { ...finishInputs('promote'), 'canary-release': 'shop-canary', namespace: ns, kubeconfig: cluster.kubeconfigContent };
    const runEnvironment = { ...env('9301'), PATH: cluster.env.PATH ?? '' };
    try {
      await install();
      expect(await releases()).toEqual(['shop-canary']);
      const uninstalled = await runAction('canary-analyze', { ...inputs, 'canary-removal': 'uninstall' }, runEnvironment);
      expect(uninstalled.exitCode, log(uninstalled)).toBe(0);
      expect(uninstalled.outputs).toMatchObject({ 'canary-removed': 'true', 'stable-verified': 'true' });
      expect(await releases()).toEqual([]);
      expect(uninstalled.summary).toContain('the canary release shop-canary was uninstalled');
      expect(visible(log(uninstalled))).not.toContain(cluster.token);

      // A cluster that cannot be reached: stable keeps all traffic, the canary stays installed.
      await install();
      await route({ stable: 0, canary: 100 });
      const unreachable = cluster.kubeconfigContent.replace(/"server":\s*"[^"]+"/, '"server": "https://127.0.0.1:1"');
      const failed = await runAction('canary-analyze', { ...inputs, 'canary-removal': 'scale-to-zero', kubeconfig: unreachable }, { ...env('9302'), PATH: cluster.env.PATH ?? '' });
      expect(failed.exitCode).toBe(1);
      expect(failed.outputs).toMatchObject({ 'canary-removed': 'false', 'final-weight': '0' });
      expect(failed.summary).toContain('stable serves everything, but the canary was not removed');
      expect(upstreamFile()).toMatch(new RegExp(`server ${stable.address} weight=100;`));
      expect(await releases()).toEqual(['shop-canary']);
      // The rerun finds the traffic on stable and scales the canary to 0, recording its replicas.
      const rerun = await runAction('canary-analyze', { ...inputs, 'canary-removal': 'scale-to-zero' }, { ...env('9302', '2'), PATH: cluster.env.PATH ?? '' });
      expect(rerun.exitCode, log(rerun)).toBe(0);
      expect(rerun.summary).toContain('100 % on stable (moved by an earlier attempt)');
      const deployment = JSON.parse(await cluster.kubectl(['--kubeconfig', cluster.kubeconfig, '-n', ns, 'get', 'deployment', '-l', 'app.kubernetes.io/instance=shop-canary', '-o', 'json'])) as { items: { spec: { replicas: number }; metadata: { annotations: Record<string, string> } }[] };
      expect(deployment.items.map((d) => d.spec.replicas)).toEqual([0]);
      expect(deployment.items[0]?.metadata.annotations['slipway.dev/replicas-before-scale-down']).toMatch(/^\d+$/);
    } finally {
      await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  }, 180_000);
});

describe('dist/canary-analyze/index.js, mode finish: the hostile review\'s cases, after a promotion', () => {
  it('H1 a reload that fails after reloading, then fails again, is not reported as "routing unchanged"', async () => {
    // Call 1 reloads nginx with the new file (stable 100; the signal's reload is asynchronous, so it
    // waits for nginx to read it) and reports failure; call 2 (reloading the
    // put-back file) fails without reloading: nginx serves stable, the file says canary.
    const script = join(nginx.dir, 'hostile-reload.sh');
    const counter = join(nginx.dir, 'hostile-reload.count');
    writeFileSync(counter, '0');
    writeFileSync(script, `#!/bin/sh\nn=$(($(cat '${counter}') + 1)); echo $n > '${counter}'\n[ $n -eq 1 ] && ${nginx.reloadCommand.map((a) => `'${a}'`).join(' ')} && sleep 1\nexit 1\n`);
    chmodSync(script, 0o755);
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'nginx-reload-command': script }, env('9401'));
    expect(run.exitCode).toBe(1);
    // nginx's old workers finish their keep-alive connections first.
    await vi.waitFor(async () => expect(await serving()).toEqual(['stable']), { timeout: 10_000, interval: 500 });
    expect(run.outputs['final-weight']).not.toBe('100'); // actual: 100, the canary's share before
    // Actual: summary says "routing unchanged", "kept: it serves the traffic", final-weight 100, no ⚠️ heading.
    expect(run.summary).not.toContain('routing unchanged');
    expect(run.summary).toContain('routing may differ');
  }, 60_000);

  it('H2 a cancel during the health gate stops the finish: traffic is not moved after it', async () => {
    await stable.fail(1);
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    setTimeout(() => void stable.fail(0), 2500);
    const started = Date.now();
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'verify-duration': '10s' }, env('9402'), { interrupt: { when: /stable health: 503/, signal: 'SIGINT' } });
    const took = Date.now() - started;
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    // Actual: after the SIGINT the gate goes on, passes once stable heals, and nginx is switched to stable, then back.
    expect(run.stdout).not.toContain('All traffic is on stable; verifying it.');
    expect(took, log(run)).toBeLessThan(7500); // the runner's SIGTERM/SIGKILL come after 7.5 s
  }, 60_000);
});

describe('dist/canary-analyze/index.js, mode finish: the hostile review\'s cases, after a rollback (incident issue)', () => {
  const base = { verdict: 'rollback', outcome: 'failure', score: null, rollback: null };

  it('H3 @mentions, cross-references and markdown links/images from the results do not ping or render in the issue', async () => {
    const opened = github.issues.length;
    const reason = 'error-rate failed @acme/security-team @octocat acme/other#1 ![x](https://evil.example/p.png) [login](https://evil.example/)';
    const run = await runAction('canary-analyze', incidentInputs({ ...base, reason, steps: [] }), env('9403'));
    expect(run.exitCode, log(run)).toBe(0);
    expect(github.issues).toHaveLength(opened + 1);
    const issue = github.issues.at(-1);
    // GitHub renders nothing inside a code span: no mention, reference, link or image outside one.
    const rendered = (issue?.body ?? '').replace(/`[^`]*`/g, '');
    expect(issue?.body).toContain('`error-rate failed @acme/security-team @octocat acme/other#1');
    expect(rendered).not.toMatch(/@acme|@octocat|other#1|evil\.example/);
  }, 60_000);

  it('H4 wrong-typed analysis-results is an InputError naming the input (or opens the incident anyway), never a TypeError', async () => {
    for (const [i, results] of [{ steps: 'x' }, { steps: [null] }, { steps: [{ weight: 10, status: 'failure', measurements: [{ at: 'x', metrics: null }] }] }, { reason: { nested: true }, verdict: ['rollback'] }].entries()) {
      const opened = github.issues.length;
      const run = await runAction('canary-analyze', incidentInputs({ ...base, ...results }), env(`941${i}`));
      const text = log(run);
      expect(text, JSON.stringify(results)).not.toMatch(/is not a function|Cannot read properties|Cannot convert undefined or null/);
      if (run.exitCode === 0) {
        expect(github.issues, JSON.stringify(results)).toHaveLength(opened + 1);
        expect(github.issues.at(-1)?.title, JSON.stringify(results)).not.toContain('[object Object]');
      } else {
        expect(text, JSON.stringify(results)).toMatch(/Input 'analysis-results' is invalid/);
      }
    }
  }, 120_000);

  it('H5 two canary jobs of one run (a matrix, two services) each get their incident', async () => {
    const opened = github.issues.length;
    const one = await runAction('canary-analyze', incidentInputs({ ...base, reason: 'service A failed', steps: [] }), { ...env('9420'), GITHUB_JOB: 'canary-a' });
    const two = await runAction('canary-analyze', incidentInputs({ ...base, reason: 'service B failed', steps: [] }), { ...env('9420'), GITHUB_JOB: 'canary-b' });
    expect(one.exitCode, log(one)).toBe(0);
    expect(two.exitCode, log(two)).toBe(0);
    // Actual: the second says "already opened by an earlier attempt of this run" and points at A's issue.
    expect(two.summary).not.toContain('already opened by an earlier attempt');
    expect(github.issues).toHaveLength(opened + 2);
  }, 60_000);

  it('H7 a cancel while stable is verified after a rollback still writes the outputs (and records the incident)', async () => {
    const opened = github.issues.length;
    const run = await runAction('canary-analyze', { ...incidentInputs({ ...base, reason: 'cancelled', steps: [] }), 'verify-duration': '20s' }, env('9440'), { interrupt: { when: /verify: /, signal: 'SIGINT' } });
    // Actual: no SIGINT handler in this path: node dies at once, exit code null, no outputs, no summary, no issue.
    expect(run.outputs.verdict, log(run)).toBe('rollback');
    expect(run.outputs['stable-verified']).toBe('false');
    expect(github.issues.length).toBe(opened + 1);
  }, 60_000);

  it('H8 (held) credentials of prometheus-url, stable-health-url and prometheus-headers reach no channel, and Prometheus down is not a pass', async () => {
    const opened = github.issues.length;
    const [user, pass, token, header] = ['hostileuser7', 'hostilepass9', 'qtoken1234567890abcdef', 'hdrsecret-5551234'];
    const promUrl = `http://${user}:${pass}@127.0.0.1:1/`;
    const run = await runAction('canary-analyze', {
      ...incidentInputs({ ...base, reason: `Prometheus http://${user}:${pass}@127.0.0.1:1 failed ${header} ${token}`, steps: [] }),
      'prometheus-url': promUrl,
      'prometheus-headers': `X-Scope-OrgID: ${header}`,
      'stable-health-url': `http://${user}:${pass}@${stable.address}/healthz?token=${token}`,
    }, env('9450'));
    expect(run.exitCode).toBe(1);
    expect(run.outputs['stable-verified']).toBe('false');
    const issue = github.issues.at(-1);
    expect(github.issues.length).toBe(opened + 1);
    const channels = [log(run).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n'), run.summary, JSON.stringify(run.outputs), issue?.title ?? '', issue?.body ?? ''];
    for (const secret of [pass, header, Buffer.from(`${user}:${pass}`).toString('base64')]) for (const text of channels) expect(text).not.toContain(secret);
  }, 60_000);
});
