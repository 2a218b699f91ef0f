// dist/blue-green-switch/index.js as the runner runs it, against a real nginx in front of two instances
// of the demo service, with load running through nginx; and against the local Kubernetes cluster.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderUpstream } from '../../../packages/shared/src/routing/index';
import { runAction, visible } from '../../../test/helpers/action';
import { startLoad, type LoadSample } from '../../../test/helpers/load';
import { runEnv } from '../../../test/helpers/run-env';
import { deployment, httpRouteStatus, list, service } from '../../../test/cluster/manifests';
import { useCluster } from '../../../test/cluster/use-cluster';
import { startDemoApp, type DemoApp } from '../../../test/services/demo-app';
import { reloadWrapper, startNginx, type Nginx } from '../../../test/services/nginx';
import { startPrometheus } from '../../../test/services/prometheus';
import { freePort } from '../../../test/helpers/net';

let blue: DemoApp;
let green: DemoApp;
let nginx: Nginx;
const RUN_ENV = runEnv('7001');

beforeAll(async () => {
  [blue, green] = await Promise.all([startDemoApp({ color: 'blue', version: '1.0.0' }), startDemoApp({ color: 'green', version: '1.1.0' })]);
  nginx = await startNginx({
    upstream: 'app',
    writeUpstream: (file) =>
      writeFileSync(file, renderUpstream({ upstream: 'app', backends: ['blue', 'green'], servers: { blue: [blue.address], green: [green.address] } }, { blue: 100, green: 0 }, { by: 'ops', at: '2026-11-01T00:00:00Z', reason: 'first setup' })),
  });
}, 60_000);
afterAll(async () => {
  await Promise.all([nginx?.stop(), blue?.stop(), green?.stop()]);
});

const nginxInputs = () => ({
  router: 'nginx',
  'nginx-config-path': nginx.upstreamFile,
  'nginx-upstream-name': 'app',
  'nginx-upstream-blue': blue.address,
  'nginx-upstream-green': green.address,
  'nginx-test-command': nginx.testCommand.join(' '),
  'nginx-reload-command': nginx.reloadCommand.join(' '),
});
const failures = (samples: LoadSample[]) => samples.filter((s) => s.error || s.status !== 200);

describe('dist/blue-green-switch/index.js with nginx', () => {
  it('switches blue → green under load: health gate, switch, watch; no failed request, all green within 2 s', async () => {
    const load = startLoad(nginx.url, 100);
    await new Promise((r) => setTimeout(r, 1000));
    const run = await runAction('blue-green-switch', {
      ...nginxInputs(),
      'health-url': `${green.url}/healthz`,
      'health-expect-body': 'ok',
      'health-successes': '3',
      'health-interval': '200ms',
      'watch-url': nginx.url,
      'watch-duration': '3s',
      'watch-interval': '500ms',
      'watch-max-error-rate': '0',
    }, RUN_ENV);
    await new Promise((r) => setTimeout(r, 1000));
    const samples = await load.stop();
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ active: 'green', previous: 'blue', switched: 'true', 'rolled-back': 'false' });
    expect(failures(samples)).toEqual([]);
    const firstGreen = samples.find((s) => s.color === 'green');
    expect(firstGreen).toBeDefined();
    const late = samples.filter((s) => s.at > (firstGreen?.at ?? 0) + 2000);
    expect(late.length).toBeGreaterThan(100);
    expect(late.filter((s) => s.color !== 'green')).toEqual([]);
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toContain('# switch by octocat at ');
    expect(run.summary).toContain('Timeline');
    expect(run.summary).toMatch(/Health gate passed.*Switched.*Watch passed/s);
  }, 60_000);

  it('switching to the colour already live is a successful no-op', async () => {
    const run = await runAction('blue-green-switch', { ...nginxInputs(), target: 'green' }, RUN_ENV);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ active: 'green', switched: 'false', 'rolled-back': 'false' });
    expect(run.stdout).toContain('No change: green is already live');
  }, 30_000);

  it('leaves traffic untouched when the target fails its health gate', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    await blue.fail(1);
    try {
      const run = await runAction('blue-green-switch', { ...nginxInputs(), 'health-url': `${blue.url}/healthz`, 'health-successes': '2', 'health-interval': '200ms', 'health-timeout': '2s' }, RUN_ENV);
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toMatch(/::error::blue failed its health gate \(2 successes in a row within 2s; last: 503 \(expected 200\)\); traffic was not switched/);
      expect(run.outputs).toMatchObject({ active: 'green', switched: 'false', 'rolled-back': 'false' });
      expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    } finally {
      await blue.fail(0);
    }
  }, 30_000);

  it('rolls back automatically, restoring routing exactly, when the new colour starts failing during the watch', async () => {
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const load = startLoad(nginx.url, 50);
    const running = runAction('blue-green-switch', { ...nginxInputs(), 'watch-url': nginx.url, 'watch-duration': '20s', 'watch-interval': '300ms', 'watch-max-error-rate': '0.05' }, RUN_ENV);
    // Once blue is live, it starts answering 500.
    await expect.poll(() => readFileSync(nginx.upstreamFile, 'utf8').includes(`server ${blue.address} weight=100`), { timeout: 15_000, interval: 50 }).toBe(true);
    await blue.fail(1);
    const run = await running;
    await blue.fail(0);
    await new Promise((r) => setTimeout(r, 2500));
    const samples = await load.stop();
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::blue failed the watch after the switch \(error rate \d+\.\d %25 > 5 %25 .*\); routing was rolled back to green/);
    expect(run.outputs).toMatchObject({ active: 'green', previous: 'blue', switched: 'true', 'rolled-back': 'true' });
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    expect(run.summary).toMatch(/Watch failed.*Rolled back/s);
    // After the rollback settles, green answers everything again.
    const end = samples.at(-1)?.at ?? 0;
    expect(samples.filter((s) => s.at > end - 1000).every((s) => s.color === 'green' && s.status === 200)).toBe(true);
  }, 60_000);

  it('rolls back when a Prometheus watch query over the new colour goes over the limit', async () => {
    const prometheus = await startPrometheus([{ address: blue.address }, { address: green.address }]);
    try {
      const before = readFileSync(nginx.upstreamFile, 'utf8');
      expect(before).toContain(`server ${green.address} weight=100`);
      const load = startLoad(nginx.url, 50);
      // 5xx share of blue's requests; `or vector(0)`: no 5xx series means no errors, not no data.
      const query = '(sum(rate(http_requests_total{color="blue",status=~"5.."}[5s])) or vector(0)) / sum(rate(http_requests_total{color="blue"}[5s]))';
      const running = runAction('blue-green-switch', { ...nginxInputs(), 'prometheus-url': prometheus.url, 'watch-query': query, 'watch-duration': '40s', 'watch-interval': '1s', 'watch-max-error-rate': '0.1' }, RUN_ENV);
      await expect.poll(() => readFileSync(nginx.upstreamFile, 'utf8').includes(`server ${blue.address} weight=100`), { timeout: 15_000, interval: 50 }).toBe(true);
      await new Promise((r) => setTimeout(r, 4000));
      await blue.fail(1);
      const run = await running;
      await blue.fail(0);
      await load.stop();
      expect(run.exitCode).toBe(1);
      // Healthy ticks first: no data until blue's series have two scrapes, then 0 (info lines are not
      // command-encoded, so `%` stays `%`).
      expect(run.stdout).toMatch(/watch: error rate (no data \(query: no data\)|0\.0 % \(query = 0\))/);
      expect(run.stdout).toMatch(/::error::blue failed the watch after the switch \(error rate \d+\.\d %25 > 10 %25 \(query = [\d.]+\)\); routing was rolled back to green/);
      expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    } finally {
      await prometheus.stop();
    }
  }, 90_000);

  it('starts the watch only once the new colour serves: a reload nginx takes up late is waited for, and answers must name the new colour', async () => {
    // The target answers 500. The reload command returns at once and nginx reloads 1.5 s later (as
    // `systemctl reload --no-block` or a signal sent to a container would): a watch started at once
    // would measure the live colour and pass.
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    const [live, target] = before.includes(`server ${green.address} weight=100`) ? [green, blue] : [blue, green];
    const [liveName, targetName] = [live === green ? 'green' : 'blue', target === green ? 'green' : 'blue'];
    await target.fail(1);
    try {
      const run = await runAction('blue-green-switch', {
        ...nginxInputs(),
        'nginx-reload-command': reloadWrapper(nginx, { delayMs: 1500 }).command,
        'watch-url': nginx.url,
        'watch-duration': '1s',
        'watch-interval': '250ms',
        'watch-max-error-rate': '0.05',
        'confirm-body': '"color":"{{ color }}"',
      }, RUN_ENV);
      expect(run.exitCode, run.stdout).toBe(1);
      expect(run.stdout).toMatch(new RegExp(`Serving: nginx's old workers \\([\\d, ]+\\) have exited [\\d.]+s after the reload: only the new file serves; 3 answers in a row from ${targetName}`));
      expect(run.stdout.indexOf('Serving:')).toBeLessThan(run.stdout.indexOf('  watch:'));
      expect(run.stdout).toMatch(new RegExp(`::error::${targetName} failed the watch after the switch \\(error rate 100\\.0 %25 > 5 %25 .*\\); routing was rolled back to ${liveName}`));
      expect(run.outputs).toMatchObject({ active: liveName, previous: targetName, 'rolled-back': 'true' });
      expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
      // The rollback's reload is late too; then the live colour serves everything again.
      await expect.poll(async () => ((await (await fetch(nginx.url)).json()) as { color: string }).color, { timeout: 10_000, interval: 100 }).toBe(liveName);
    } finally {
      await target.fail(0);
    }
  }, 60_000);

  it('explains bad inputs, naming the input', async () => {
    const none = await runAction('blue-green-switch', {}, RUN_ENV);
    expect(none.stdout).toMatch(/::error::Input 'router' is invalid: got an empty value; expected one of `nginx`, `kubernetes-service`, `gateway-api`, `ingress-nginx`/);
    const server = await runAction('blue-green-switch', { ...nginxInputs(), 'nginx-upstream-blue': 'http://10.0.0.1' }, RUN_ENV);
    expect(server.stdout).toMatch(/Input 'nginx-upstream-blue' is invalid: got "http:\/\/10.0.0.1"; expected `host:port`/);
    const shell = await runAction('blue-green-switch', { ...nginxInputs(), 'nginx-reload-command': 'nginx -s reload && echo done' }, RUN_ENV);
    expect(shell.stdout).toMatch(/Input 'nginx-reload-command' is invalid: .*without a shell/);
    const query = await runAction('blue-green-switch', { ...nginxInputs(), 'prometheus-url': 'http://127.0.0.1:9090' }, RUN_ENV);
    expect(query.stdout).toMatch(/Input 'watch-query' is invalid/);
    // Never switched (no file yet): nothing is live, so the target must be named.
    const fresh = await runAction('blue-green-switch', { ...nginxInputs(), 'nginx-config-path': `${nginx.upstreamFile}.new` }, RUN_ENV);
    expect(fresh.stdout).toMatch(/State: nginx: never switched/);
    expect(fresh.stdout).toMatch(/::error::Input 'target' is invalid: got an empty value; expected `blue` or `green`: no colour gets all traffic yet/);
    for (const run of [none, server, shell, query, fresh]) expect(run.exitCode).toBe(1);
  }, 30_000);
});

describe('dist/blue-green-switch/index.js with Kubernetes', () => {
  it('switches a Service selector with the kubeconfig given as content, never logging it', async () => {
    const cluster = useCluster();
    const ns = `bg-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
    await cluster.kubectl(['apply', '-f', '-'], list([
      ...['blue', 'green'].map((color) => deployment(`shop-${color}`, { app: 'shop', color }, { namespace: ns })),
      service('shop', { app: 'shop', color: 'blue' }, ns),
    ]));
    for (const color of ['blue', 'green']) await cluster.kubectl(['-n', ns, 'rollout', 'status', `deployment/shop-${color}`, '--timeout=60s']);

    const inputs = { router: 'kubernetes-service', kubeconfig: cluster.kubeconfigContent, namespace: ns, service: 'shop', 'deployment-blue': 'shop-blue', 'deployment-green': 'shop-green' };
    // kubectl comes from PATH, as on a runner.
    const env = { ...RUN_ENV, PATH: cluster.env.PATH ?? '' };
    const run = await runAction('blue-green-switch', { ...inputs, 'scale-down-delay': '1s' }, env);
    expect(run.exitCode, run.stdout + run.stderr).toBe(0);
    expect(run.outputs).toMatchObject({ active: 'green', previous: 'blue', switched: 'true' });
    expect((await cluster.kubectl(['-n', ns, 'get', 'service', 'shop', '-o', 'jsonpath={.spec.selector.color}'])).trim()).toBe('green');
    // The old colour was kept for the delay, then scaled to 0 with its replicas recorded.
    const replicas = async () => (await cluster.kubectl(['-n', ns, 'get', 'deployment', 'shop-blue', '-o', `jsonpath={.spec.replicas} {.metadata.annotations.slipway\\.dev/replicas-before-scale-down}`])).trim();
    expect(await replicas()).toBe('0 1');
    expect(run.summary).toMatch(/Scaled down.*deployment\/shop-blue from 1 to 0/s);
    const { token } = cluster;
    expect(token).not.toBe('');
    expect(visible(run.stdout) + run.stderr).not.toContain(token);

    const back = await runAction('blue-green-switch', { ...inputs, action: 'rollback' }, env);
    expect(back.exitCode, back.stdout + back.stderr).toBe(0);
    expect(back.outputs).toMatchObject({ active: 'blue', previous: 'green', 'rolled-back': 'true' });
    // Blue came back to its replicas and rolled out before traffic went to it.
    expect(back.stdout).toContain('Scaled up: deployment/shop-blue back to 1 replicas and rolled out');
    expect(await replicas()).toBe('1');
    const status = await runAction('blue-green-switch', { ...inputs, action: 'status' }, env);
    expect(status.outputs).toMatchObject({ active: 'blue', switched: 'false' });
    expect(status.stdout).toMatch(/last rollback by octocat/);
    await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
  }, 120_000);

  it('never scales the good colour down after a watch that could not measure: Prometheus down fails it and the Service is restored exactly', async () => {
    const cluster = useCluster();
    const ns = `bg-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
    try {
      await cluster.kubectl(['apply', '-f', '-'], list([
        ...['blue', 'green'].map((color) => deployment(`shop-${color}`, { app: 'shop', color }, { namespace: ns })),
        service('shop', { app: 'shop', color: 'blue' }, ns),
      ]));
      for (const color of ['blue', 'green']) await cluster.kubectl(['-n', ns, 'rollout', 'status', `deployment/shop-${color}`, '--timeout=60s']);
      const object = async (kind: string, name: string) => {
        const o = JSON.parse(await cluster.kubectl(['-n', ns, 'get', kind, name, '-o', 'json'])) as { metadata: { annotations?: object }; spec: object };
        return { annotations: o.metadata.annotations, spec: o.spec };
      };
      const before = await object('service', 'shop');
      const run = await runAction('blue-green-switch', {
        router: 'kubernetes-service', kubeconfig: cluster.kubeconfigContent, namespace: ns, service: 'shop', 'deployment-blue': 'shop-blue', 'deployment-green': 'shop-green',
        'scale-down-delay': '1s', 'prometheus-url': `http://127.0.0.1:${await freePort()}`, 'watch-query': 'vector(0)', 'watch-duration': '3s', 'watch-interval': '500ms', 'consecutive-error-limit': '1',
      }, { ...RUN_ENV, PATH: cluster.env.PATH ?? '' });
      expect(run.exitCode, visible(run.stdout)).toBe(1);
      expect(run.stdout).toMatch(/Serving: service\/shop's endpoints are 1 ready pod with app=shop,color=green/);
      expect(run.stdout).toMatch(/::error::green failed the watch after the switch \(the watch query failed 2 times in a row, more than the 1 allowed.*ECONNREFUSED.*\); routing was rolled back to blue/);
      expect(run.outputs).toMatchObject({ active: 'blue', 'rolled-back': 'true' });
      expect(await object('service', 'shop')).toEqual(before);
      expect((await cluster.kubectl(['-n', ns, 'get', 'deployment', 'shop-blue', '-o', 'jsonpath={.spec.replicas}'])).trim()).toBe('1');
      expect(run.summary).not.toContain('Scaled down');
    } finally {
      await cluster.kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  }, 120_000);

  it('with Gateway API, starts the watch only once the route\'s status accepts its new generation, and rolls back when none does', async () => {
    const cluster = useCluster();
    const ns = `bg-${randomBytes(3).toString('hex')}`;
    const prometheus = await startPrometheus([]);
    await cluster.kubectl(['create', 'namespace', ns]);
    try {
      await cluster.kubectl(['apply', '-f', '-'], list([
        ...['blue', 'green'].flatMap((color) => [deployment(`shop-${color}`, { app: 'shop', color }, { namespace: ns }), service(`shop-${color}`, { app: 'shop', color }, ns)]),
        { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'shop', namespace: ns }, spec: { rules: [{ backendRefs: [{ name: 'shop-blue', port: 80, weight: 100 }, { name: 'shop-green', port: 80, weight: 0 }] }] } },
      ]));
      for (const color of ['blue', 'green']) await cluster.kubectl(['-n', ns, 'rollout', 'status', `deployment/shop-${color}`, '--timeout=60s']);
      // The switch refuses a backend without a ready endpoint.
      await cluster.endpointsReady(ns, ['shop-blue', 'shop-green']);
      const route = async () => JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'httproute', 'shop', '-o', 'json'])) as { metadata: { generation: number; annotations?: object }; spec: object };
      const inputs = {
        router: 'gateway-api', kubeconfig: cluster.kubeconfigContent, namespace: ns, route: 'shop', 'backend-blue': 'shop-blue', 'backend-green': 'shop-green',
        'prometheus-url': prometheus.url, 'watch-query': 'vector(0)', 'watch-duration': '1s', 'watch-interval': '250ms', 'confirm-timeout': '20s',
      };
      const env = { ...RUN_ENV, PATH: cluster.env.PATH ?? '' };

      // The test plays the Gateway controller, 2 s after the switch.
      const generation = (await route()).metadata.generation;
      let reportedAt = Infinity;
      let firstTickAt = Infinity;
      const controller = (async () => {
        await expect.poll(async () => (await route()).metadata.generation, { timeout: 30_000, interval: 100 }).toBeGreaterThan(generation);
        await new Promise((r) => setTimeout(r, 2000));
        await cluster.kubectl(['-n', ns, 'patch', 'httproute', 'shop', '--subresource=status', '--type=merge', `--patch=${JSON.stringify({ status: httpRouteStatus(generation + 1) })}`]);
        reportedAt = Date.now();
      })();
      // A run that fails before its switch is reported by its own log, not by the controller's wait.
      controller.catch(() => undefined);
      const run = await runAction('blue-green-switch', inputs, env, { onStdout: (text) => void (text.includes('  watch:') && firstTickAt === Infinity && (firstTickAt = Date.now())) });
      expect(run.exitCode, visible(run.stdout)).toBe(0);
      await controller;
      expect(run.stdout).toContain(`Serving: httproute/shop: its Gateway controller accepted generation ${generation + 1} with resolved backends`);
      expect(firstTickAt).toBeGreaterThan(reportedAt);
      expect(run.outputs).toMatchObject({ active: 'green', switched: 'true' });

      // Back to blue with no controller answering: not confirmed, rolled back to exactly what was there.
      const before = await route();
      const unconfirmed = await runAction('blue-green-switch', { ...inputs, 'confirm-timeout': '2s' }, env);
      expect(unconfirmed.exitCode).toBe(1);
      expect(unconfirmed.stdout).toMatch(/::error::blue was not confirmed serving after the switch \(httproute\/shop was not confirmed within 2s: .*Accepted not yet at generation \d+ \(at \d+\).*\); routing was rolled back to green/);
      expect(unconfirmed.stdout).not.toContain('  watch:');
      const after = await route();
      expect({ spec: after.spec, annotations: after.metadata.annotations }).toEqual({ spec: before.spec, annotations: before.metadata.annotations });
    } finally {
      await Promise.all([prometheus.stop(), cluster.kubectl(['delete', 'namespace', ns, '--wait=false'])]);
    }
  }, 120_000);
});
