// dist/canary-analyze/index.js as the runner runs it: Prometheus (Debian) scrapes a stable and a canary
// instance of the demo service (label `version`), and traffic goes through a real nginx at the weights
// the action sets. Then the Kubernetes routers on the local control plane.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { exec } from '../../../packages/shared/src/exec';
import { queryValue } from '../../../packages/shared/src/prometheus';
import type { Weights } from '../../../packages/shared/src/routing/index';
import { runAction, type ActionRun } from '../../../test/helpers/action';
import { startLoad, type LoadSample } from '../../../test/helpers/load';
import { freePort } from '../../../test/helpers/net';
import { runEnv } from '../../../test/helpers/run-env';
import { deployment, ingress, list, service } from '../../../test/cluster/manifests';
import { useCluster } from '../../../test/cluster/use-cluster';
import { startDemoApp, type DemoApp } from '../../../test/services/demo-app';
import type { Nginx } from '../../../test/services/nginx';
import { startPrometheus } from '../../../test/services/prometheus';
import { startPushgateway } from '../../../test/services/pushgateway';
import type { Service } from '../../../test/services/process';
import { startCanaryPair, type CanaryPair } from '../../../test/services/canary-pair';

let stable: DemoApp;
let canary: DemoApp;
let nginx: Nginx;
let prometheus: Service;
const RUN_ENV = runEnv('8001');
/** Both versions answer in about 30 ms, so their p95 sits mid-bucket (25–50 ms) and a little jitter does not move it. */
const BASE_MS = 30;

let pair: CanaryPair;
const route = (weights: Weights) => pair.route(weights);

beforeAll(async () => {
  pair = await startCanaryPair({ stable: 100, canary: 0 });
  ({ stable, canary, nginx, prometheus } = pair);
}, 60_000);
afterAll(async () => {
  await pair?.stop();
});
beforeEach(async () => {
  await Promise.all([stable.fail(0), canary.fail(0), stable.slow(BASE_MS), canary.slow(BASE_MS)]);
  await route({ stable: 100, canary: 0 });
});

const nginxInputs = () => ({
  ...pair.inputs(),
  steps: '10,25,50,100',
  'step-duration': '4s',
  interval: '1s',
  'query-window': '3s',
  'min-requests': '10',
});

interface Results {
  verdict: string;
  outcome: string;
  rollback?: { how: string; stableReady: number | null; stableHealth: string } | null;
  steps: { weight: number | null; status: string; reason: string | null; measurements: { metrics: Record<string, { result: string | null }> }[]; judgement: { verdict: string } | null }[];
}
const results = (run: ActionRun) => JSON.parse(run.outputs.results ?? '{}') as Results;
const log = (run: ActionRun) => run.stdout + run.stderr;

/** Runs the action with load through nginx (100 requests a second) from one second before to one after. */
async function underLoad(inputs: Record<string, string>, perSecond = 100): Promise<{ run: ActionRun; samples: LoadSample[] }> {
  const load = startLoad(nginx.url, perSecond);
  await new Promise((r) => setTimeout(r, 1000));
  const run = await runAction('canary-analyze', inputs, RUN_ENV);
  await new Promise((r) => setTimeout(r, 1000));
  return { run, samples: await load.stop() };
}

describe('dist/canary-analyze/index.js with nginx', () => {
  it('promotes a healthy canary through every step, its share of traffic following the weights', async () => {
    const { run, samples } = await underLoad(nginxInputs());
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ verdict: 'promote', outcome: 'success', 'final-weight': '100', 'rolled-back': 'false' });
    const r = results(run);
    expect(r.steps.map((s) => [s.weight, s.status])).toEqual([[10, 'passed'], [25, 'passed'], [50, 'passed'], [100, 'passed']]);
    // The statistical judge compares at every step where stable still has traffic.
    expect(r.steps.map((s) => s.judgement?.verdict ?? null)).toEqual(['pass', 'pass', 'pass', null]);
    expect(r.steps[0]?.measurements[0]?.metrics['error-rate']?.result).toBe('success');
    expect(Number(run.outputs.score)).toBeGreaterThanOrEqual(95);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stable.address} down;.*\\n.*server ${canary.address} weight=100;.*\\n`));
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    // Everything goes to the canary at the end.
    const end = samples.at(-1)?.at ?? 0;
    expect(samples.filter((s) => s.at > end - 800).every((s) => s.color === 'canary')).toBe(true);
    expect(run.summary).toContain('canary-analyze: promote (success)');
    expect(run.summary).toMatch(/Traffic steps.*10 %.*25 %.*50 %.*100 %/s);
    expect(run.summary).toMatch(/<td>error-rate<\/td><td>[\d.]+ %<\/td>/);
    expect(run.summary).toContain('```mermaid\n%%{init');
    expect(run.summary).toContain('title "error-rate (%): canary (red) vs stable (blue)"');
  }, 90_000);

  it('rolls a canary at 8 % errors back at the first step, restoring routing before anything else', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    await canary.fail(0.08);
    // At 10 %, ~20 canary requests a second over a 6 s step: the chance that none of them fails
    // (0.92^120) is negligible, where 10 a second over 4 s left it at a few percent.
    const { run } = await underLoad({ ...nginxInputs(), 'step-duration': '6s' }, 200);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'final-weight': '0', 'rolled-back': 'true' });
    const r = results(run);
    expect(r.steps).toHaveLength(1);
    expect(r.steps[0]).toMatchObject({ weight: 10, status: 'failure', reason: expect.stringMatching(/^error-rate: error rate [\d.]+ % (> 5\.00 %|is [\d.]+ % above stable's)/) });
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    expect(run.stdout).toMatch(/::error::canary rollback \(failure\): error-rate: .*; the canary's traffic was taken away/);
    expect(run.summary).toContain('canary-analyze: rollback (failure)');
  }, 60_000);

  it('takes the canary back to 0 when the job is cancelled mid-step, and pushes its verdict', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const pushgateway = await startPushgateway();
    const load = startLoad(nginx.url, 50);
    try {
      const run = await runAction('canary-analyze', { ...nginxInputs(), 'step-duration': '60s', 'metrics-pushgateway-url': pushgateway.url }, RUN_ENV, { interrupt: { when: /\+3s: error-rate/, signal: 'SIGTERM' } });
      expect(run.exitCode).toBe(1);
      expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'error', 'final-weight': '0', 'rolled-back': 'true' });
      expect(run.stdout).toMatch(/::error::canary inconclusive \(error\): cancelled; the canary's traffic was taken away/);
      expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
      const pushed = await (await fetch(`${pushgateway.url}/metrics`)).text();
      expect(pushed).toMatch(/slipway_canary_analyze_verdict\{[^}]*outcome="error"[^}]*verdict="inconclusive"[^}]*\} 1/);
      expect(pushed).toMatch(/slipway_canary_analyze_final_weight\{[^}]*\} 0/);
    } finally {
      await Promise.all([load.stop(), pushgateway.stop()]);
    }
  }, 60_000);

  it('rolls back a canary twice as slow as stable on the latency ratio', async () => {
    await canary.slow(2 * BASE_MS);
    const { run } = await underLoad(nginxInputs());
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'final-weight': '0' });
    expect(results(run).steps.at(-1)?.reason).toMatch(/^p95-latency: p95 [\d.]+ ms is [\d.]+× stable's [\d.]+ ms \(limit 1\.5×\)$/);
  }, 60_000);

  it('is inconclusive without traffic, never a promotion, and takes the canary back to 0', async () => {
    // Rate windows hold no request of the previous tests any more.
    await new Promise((r) => setTimeout(r, 3500));
    const run = await runAction('canary-analyze', nginxInputs(), RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'inconclusive', 'final-weight': '0', 'rolled-back': 'true' });
    expect(results(run).steps[0]?.reason).toMatch(/^error-rate: 0 canary requests in 3s, fewer than min-requests 10$/);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toContain(`server ${canary.address} down;`);
  }, 60_000);

  it('passes an A/A comparison of two identical instances in analyze mode, leaving traffic as it is', async () => {
    await route({ stable: 50, canary: 50 });
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const { run } = await underLoad({ 'prometheus-url': prometheus.url, mode: 'analyze', 'step-duration': '12s', interval: '1s', 'query-window': '3s', 'min-requests': '10' });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ verdict: 'promote', outcome: 'success', 'final-weight': '', 'rolled-back': 'false' });
    expect(Number(run.outputs.score)).toBeGreaterThanOrEqual(95);
    expect(results(run).steps[0]?.judgement?.verdict).toBe('pass');
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);

  it('ends in error once Prometheus has been unreachable more times in a row than allowed', async () => {
    const own = await startPrometheus([{ address: stable.address }, { address: canary.address }]);
    const load = startLoad(nginx.url, 50);
    try {
      await vi.waitFor(async () => expect(await queryValue({ url: own.url }, 'sum(up)')).toBe(2), { timeout: 30_000, interval: 250 });
      await route({ stable: 50, canary: 50 });
      await new Promise((r) => setTimeout(r, 3000));
      const running = runAction('canary-analyze', { 'prometheus-url': own.url, mode: 'analyze', 'step-duration': '60s', interval: '1s', 'query-window': '3s', 'min-requests': '10', 'consecutive-error-limit': '2' }, RUN_ENV);
      // The first measurement comes one query window (3 s) in; stop after two or three.
      await new Promise((r) => setTimeout(r, 5500));
      await own.stop();
      const run = await running;
      expect(run.exitCode).toBe(1);
      expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'error' });
      const ticks = results(run).steps[0]?.measurements.map((m) => m.metrics['error-rate']?.result) ?? [];
      // Measured fine while it was up, then three errors in a row (the limit is 2).
      expect(ticks.slice(0, -3)).toEqual(['success', 'success', 'success'].slice(0, ticks.length - 3));
      expect(ticks.length).toBeGreaterThanOrEqual(5);
      expect(ticks.slice(-3)).toEqual(['error', 'error', 'error']);
      expect(run.stdout).toMatch(/::error::canary inconclusive \(error\): error-rate: (fetch failed|.*ECONNREFUSED)/);
    } finally {
      await Promise.all([own.stop(), load.stop()]);
    }
  }, 60_000);

  it('restores routing found without recorded weights, though stable then looks unready, and says stable is unready', async () => {
    // The operator's own upstream file, never written by Slipway: no recorded weights. This stable
    // instance stops once the canary has its first step, so at the rollback no stable server accepts
    // connections; a readiness-checked rollback would be refused and leave the canary its share.
    const own = await startDemoApp({ color: 'stable', version: 'stable' });
    const handWritten = `upstream app {\n    server ${own.address};\n    server ${canary.address} down;\n}\n`;
    writeFileSync(nginx.upstreamFile, handWritten);
    await exec(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { silent: true });
    await canary.fail(1);
    const load = startLoad(nginx.url, 100);
    try {
      const running = runAction('canary-analyze', { ...nginxInputs(), 'nginx-upstream-stable': own.address, steps: '10,100', 'step-duration': '8s' }, RUN_ENV);
      await expect.poll(() => readFileSync(nginx.upstreamFile, 'utf8').includes(`server ${canary.address} weight=`), { timeout: 15_000, interval: 50 }).toBe(true);
      await own.stop();
      const run = await running;
      expect(run.exitCode, log(run)).toBe(1);
      expect(run.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'final-weight': '0', 'rolled-back': 'true' });
      expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(handWritten);
      expect(run.stdout).toContain(`::warning::Rollback: routing restored exactly as it was before the run; stable: no ready endpoint: stable may not be serving the traffic it got back.`);
      expect(run.summary).toMatch(/Stable after the rollback<\/td><td>⚠️ no ready endpoint/);
      expect(results(run)).toMatchObject({ rollback: { how: 'routing restored exactly as it was before the run', stableReady: 0 } });
    } finally {
      await Promise.all([load.stop(), own.stop()]);
    }
  }, 60_000);

  it('never gives traffic to a canary no server of which accepts connections', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const closed = `127.0.0.1:${await freePort()}`;
    const run = await runAction('canary-analyze', { ...nginxInputs(), 'nginx-upstream-canary': closed }, RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'error', 'final-weight': '0' });
    expect(run.stdout).toContain(`::error::canary inconclusive (error): could not give the canary 10 %25: not switching: no server of canary accepts connections (${closed})`);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
  }, 30_000);

  it('refuses bad inputs before touching routing, naming the input', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const cases: [Record<string, string>, RegExp][] = [
      [{ steps: '10,5,100' }, /Input 'steps' is invalid: got "10,5,100"; expected increasing whole percents from 1 to 100/],
      [{ router: '' }, /Input 'router' is invalid: got an empty value; expected one of `nginx`, `gateway-api`, `ingress-nginx`, `none` in `progressive` mode/],
      [{ router: 'kubernetes-service' }, /Input 'router' is invalid: got "kubernetes-service"; expected one of `nginx`, `gateway-api`, `ingress-nginx`, `none`/],
      [{ 'canary-selector': '{version="canary"}' }, /Input 'canary-selector' is invalid: got "\{version=\\"canary\\"\}"; expected PromQL label matchers without braces/],
      [{ metrics: 'error-rate, latency' }, /Input 'metrics' is invalid: got "latency"; expected a built-in metric \(error-rate, p95-latency, cpu, memory\)/],
      [{ metrics: '- name: queue\n  query: max(queue_depth)' }, /Input 'metrics' is invalid: .*metric queue: a `query` with `\{\{ selector \}\}`/],
      [{ 'marginal-score': '99' }, /Input 'marginal-score' is invalid: got "99"; expected a score from 0 to pass-score \(95\)/],
      [{ 'step-duration': '500ms' }, /Input 'step-duration' is invalid: got "500ms"; expected at least the interval \(1s\)/],
    ];
    for (const [inputs, message] of cases) {
      const run = await runAction('canary-analyze', { ...nginxInputs(), ...inputs }, RUN_ENV);
      expect(run.exitCode, JSON.stringify(inputs)).toBe(1);
      expect(run.stdout).toMatch(message);
    }
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);
});

describe('dist/canary-analyze/index.js with Kubernetes routers', () => {
  it('shifts an HTTPRoute step by step to promotion, and rolls an ingress-nginx canary back to its exact annotations', async () => {
    const cluster = useCluster();
    const ns = `canary-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
    await cluster.kubectl(['apply', '-f', '-'], list([
      ...['stable', 'canary'].flatMap((track) => [deployment(`shop-${track}`, { app: 'shop', track }, { namespace: ns }), service(`shop-${track}`, { app: 'shop', track }, ns)]),
      { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop', namespace: ns }, spec: { rules: [{ backendRefs: [{ name: 'shop-stable', port: 80, weight: 1 }, { name: 'shop-canary', port: 80, weight: 0 }] }] } },
      ingress('shop', 'shop-stable', { namespace: ns }),
      ingress('shop-canary', 'shop-canary', { namespace: ns, annotations: { 'nginx.ingress.kubernetes.io/canary': 'true', 'team.example/owner': 'shop' } }),
    ]));
    for (const track of ['stable', 'canary']) await cluster.kubectl(['-n', ns, 'rollout', 'status', `deployment/shop-${track}`, '--timeout=60s']);
    // Traffic goes only to a backend with a ready endpoint.
    await cluster.endpointsReady(ns, ['shop-stable', 'shop-canary']);
    // Metrics come from the demo instances on loopback, loaded directly: the cluster has no data plane.
    const load = [startLoad(stable.url, 40), startLoad(canary.url, 40)];
    const env = { ...RUN_ENV, PATH: cluster.env.PATH ?? '' };
    const common = { 'prometheus-url': prometheus.url, kubeconfig: cluster.kubeconfigContent, namespace: ns, 'backend-stable': 'shop-stable', 'backend-canary': 'shop-canary', 'step-duration': '3s', interval: '1s', 'query-window': '3s', 'min-requests': '10' };
    try {
      await new Promise((r) => setTimeout(r, 3000));
      const promoted = await runAction('canary-analyze', { ...common, router: 'gateway-api', route: 'shop', steps: '20,60,100' }, env);
      expect(promoted.exitCode, log(promoted)).toBe(0);
      expect(promoted.outputs).toMatchObject({ verdict: 'promote', 'final-weight': '100' });
      const route = JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'httproute', 'shop', '-o', 'json'])) as { metadata: { annotations: Record<string, string> }; spec: { rules: { backendRefs: { name: string; weight: number }[] }[] } };
      expect(route.spec.rules[0]?.backendRefs.map((b) => [b.name, b.weight])).toEqual([['shop-stable', 0], ['shop-canary', 100]]);
      expect(route.metadata.annotations).toMatchObject({ 'slipway.dev/reason': 'canary promoted', 'slipway.dev/switched-by': 'octocat' });
      expect(cluster.token).not.toBe('');
      expect(promoted.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n') + promoted.stderr).not.toContain(cluster.token);

      const annotations = async () => (JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'ingress', 'shop-canary', '-o', 'json'])) as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
      const before = await annotations();
      await canary.fail(0.5);
      const rolledBack = await runAction('canary-analyze', { ...common, router: 'ingress-nginx', ingress: 'shop-canary', steps: '20,100' }, env);
      expect(rolledBack.exitCode).toBe(1);
      expect(rolledBack.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'final-weight': '0', 'rolled-back': 'true' });
      expect(await annotations()).toEqual(before);
    } finally {
      await Promise.all(load.map((l) => l.stop()));
      await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  }, 120_000);
});
