// The Kubernetes routers against the local control plane (test/cluster): real objects, real
// EndpointSlices from Pods that kwok reports Ready, and exact restoration on rollback.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ANNOTATIONS, GatewayApiRouter, IngressNginxRouter, Kubectl, KubernetesServiceRouter, type SwitchRecord } from '../src/routing/index';
import { deployment, httpRouteStatus, ingress, list, service } from '../../../test/cluster/manifests';
import { useCluster, type TestCluster } from '../../../test/cluster/use-cluster';

const record = (reason: string): SwitchRecord => ({ by: 'octocat', at: new Date().toISOString(), runUrl: 'https://github.com/acme/shop/actions/runs/42', reason });

let cluster: TestCluster;
let kubectl: Kubectl;
const namespace = `routing-${randomBytes(3).toString('hex')}`;

const web = (color: string, replicas: number) => deployment(`web-${color}`, { app: 'web', color }, { replicas });

beforeAll(async () => {
  cluster = useCluster();
  await cluster.kubectl(['create', 'namespace', namespace]);
  kubectl = new Kubectl({ kubeconfig: cluster.kubeconfigContent, namespace });
  await kubectl.run(['apply', '-f', '-'], list([
      web('blue', 2), web('green', 2), web('dead', 0),
      service('web', { app: 'web', color: 'blue' }), service('web-blue', { app: 'web', color: 'blue' }),
      service('web-green', { app: 'web', color: 'green' }), service('web-dead', { app: 'web', color: 'dead' }),
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'web' },
        spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web-blue', port: 80, weight: 100 }, { name: 'web-green', port: 80 }, { name: 'web-dead', port: 80, weight: 0 }] }] },
      },
      ingress('web-main', 'web-blue'),
      ingress('web-canary', 'web-green', { annotations: { 'nginx.ingress.kubernetes.io/canary': 'true', 'nginx.ingress.kubernetes.io/canary-weight': '0', 'team.example/owner': 'shop' } }),
  ]));
  for (const color of ['blue', 'green']) await kubectl.run(['rollout', 'status', `deployment/web-${color}`, '--timeout=60s']);
  // EndpointSlices follow the Ready pods.
  await vi.waitFor(async () => expect(await kubectl.readyEndpoints('web-green')).toBe(2), { timeout: 30_000, interval: 250 });
}, 120_000);
afterAll(async () => {
  await cluster?.kubectl(['delete', 'namespace', namespace, '--wait=false']);
  kubectl?.close();
});

describe('kubernetes-service router', () => {
  it('switches the selector colour, records who did it, and restores the exact previous Service', async () => {
    const router = new KubernetesServiceRouter(kubectl, 'web', 'color', ['blue', 'green']);
    const before = await router.read();
    expect(before.weights).toEqual({ blue: 100, green: 0 });
    const original = await kubectl.get<{ metadata: { annotations?: object }; spec: { selector: object } }>('service', 'web');

    const after = await router.apply({ blue: 0, green: 100 }, record('switch'));
    expect(after.weights).toEqual({ blue: 0, green: 100 });
    expect(after.record).toMatchObject({ by: 'octocat', reason: 'switch', runUrl: 'https://github.com/acme/shop/actions/runs/42' });
    const switched = await kubectl.get<{ metadata: { annotations: Record<string, string> }; spec: { selector: object } }>('service', 'web');
    expect(switched.spec.selector).toEqual({ app: 'web', color: 'green' });
    expect(JSON.parse(switched.metadata.annotations[ANNOTATIONS.weights] ?? '')).toEqual({ blue: 0, green: 100 });
    await expect.poll(async () => (await kubectl.readyEndpoints('web')), { timeout: 30_000 }).toBe(2);

    await router.restore(before.snapshot, record('rollback'));
    const restored = await kubectl.get<{ metadata: { annotations?: object }; spec: { selector: object } }>('service', 'web');
    expect(restored.spec.selector).toEqual(original.spec.selector);
    expect(restored.metadata.annotations).toEqual(original.metadata.annotations);
  }, 60_000);

  it('confirms a switch once the Service\'s endpoints are the new colour\'s pods only', async () => {
    const router = new KubernetesServiceRouter(kubectl, 'web', 'color', ['blue', 'green']);
    const before = await router.read();
    await router.apply({ blue: 0, green: 100 }, record('switch'));
    expect(await router.confirmServing(30_000)).toBe("service/web's endpoints are 2 ready pods with app=web,color=green");
    await router.restore(before.snapshot, record('rollback'));
    expect(await router.confirmServing(30_000)).toBe("service/web's endpoints are 2 ready pods with app=web,color=blue");
  }, 60_000);

  it('refuses weights a selector cannot express, and a colour with no ready pod, changing nothing', async () => {
    const router = new KubernetesServiceRouter(kubectl, 'web', 'color', ['blue', 'dead']);
    await expect(router.apply({ blue: 50, dead: 50 }, record('switch'))).rejects.toThrow(/sends all traffic to one colour.*gateway-api, ingress-nginx or nginx/);
    await expect(router.apply({ blue: 0, dead: 100 }, record('switch'))).rejects.toThrow(/no ready pod has color=dead/);
    expect((await router.read()).weights).toEqual({ blue: 100, dead: 0 });
  }, 30_000);
});

describe('gateway-api router', () => {
  it('writes both weights, counts an absent weight as 1, and restores the exact rules', async () => {
    const router = new GatewayApiRouter(kubectl, 'web', ['stable', 'canary'], { stable: 'web-blue', canary: 'web-green' });
    const before = await router.read();
    expect(before.weights).toEqual({ stable: 99, canary: 1 });
    const original = await kubectl.get<{ spec: { rules: object[] } }>('httproute', 'web');

    await router.apply({ stable: 75, canary: 25 }, record('canary step 25 %'));
    const route = await kubectl.get<{ metadata: { annotations: Record<string, string> }; spec: { rules: { backendRefs: { name: string; weight?: number }[] }[] } }>('httproute', 'web');
    expect(route.spec.rules[0]?.backendRefs.map((r) => [r.name, r.weight])).toEqual([['web-blue', 75], ['web-green', 25], ['web-dead', 0]]);
    expect(route.metadata.annotations[ANNOTATIONS.reason]).toBe('canary step 25 %');
    expect((await router.read()).weights).toEqual({ stable: 75, canary: 25 });

    await router.restore(before.snapshot, record('rollback'));
    expect((await kubectl.get<{ spec: { rules: object[] } }>('httproute', 'web')).spec.rules).toEqual(original.spec.rules);
  }, 30_000);

  it('refuses to give traffic to a Service with no ready endpoints', async () => {
    const router = new GatewayApiRouter(kubectl, 'web', ['stable', 'canary'], { stable: 'web-blue', canary: 'web-dead' });
    await expect(router.apply({ stable: 90, canary: 10 }, record('canary step 10 %'))).rejects.toThrow(/service web-dead has no ready endpoints/);
    const missing = new GatewayApiRouter(kubectl, 'web', ['stable', 'canary'], { stable: 'web-blue', canary: 'web-other' });
    await expect(missing.apply({ stable: 90, canary: 10 }, record('x'))).rejects.toThrow(/no rule with backendRefs to both web-blue and web-other/);
  }, 30_000);
});

describe('gateway-api router: confirming the route serves', () => {
  /** Writes the route's status as a Gateway controller would. */
  const report = (status: object) => kubectl.run(['patch', 'httproute.gateway.networking.k8s.io', 'web', '--subresource=status', '--type=merge', `--patch=${JSON.stringify({ status })}`]);
  const generation = async () => (await kubectl.get<{ metadata: { generation: number } }>('httproute', 'web')).metadata.generation;

  it('waits until every parent accepts the new generation with resolved backends, and fails clearly when none does', async () => {
    const router = new GatewayApiRouter(kubectl, 'web', ['stable', 'canary'], { stable: 'web-blue', canary: 'web-green' });
    const before = await router.read();
    try {
      await router.apply({ stable: 60, canary: 40 }, record('canary step 40 %'));
      const g = await generation();
      // No controller has written anything: a clear error after the timeout.
      await expect(router.confirmServing(1000)).rejects.toThrow(/^httproute\/web was not confirmed within 1s: no Gateway controller has reported on it \(status.parents is empty\); is a Gateway controller running/);
      // A status for the generation before is not confirmation.
      await report(httpRouteStatus(g - 1));
      await expect(router.confirmServing(1000)).rejects.toThrow(new RegExp(`Accepted not yet at generation ${g} \\(at ${g - 1}\\)`));
      const confirmed = router.confirmServing(10_000);
      setTimeout(() => void report(httpRouteStatus(g)), 500);
      expect(await confirmed).toBe(`httproute/web: its Gateway controller accepted generation ${g} with resolved backends`);

      await router.apply({ stable: 50, canary: 50 }, record('canary step 50 %'));
      await report(httpRouteStatus(await generation(), { resolved: false }));
      await expect(router.confirmServing(10_000)).rejects.toThrow(/^httproute\/web is not served as written: example.com\/gateway-controller for gateway gateway: ResolvedRefs is False at generation \d+ \(BackendNotFound: backend not found\)$/);
    } finally {
      await router.restore(before.snapshot, record('rollback'));
    }
  }, 60_000);
});

describe('ingress-nginx router', () => {
  it('sets the canary Ingress weight annotations and restores the exact annotations', async () => {
    const router = new IngressNginxRouter(kubectl, 'web-canary', ['blue', 'green'], { blue: 'web-blue', green: 'web-green' });
    const before = await router.read();
    expect(before.weights).toEqual({ blue: 100, green: 0 });
    const original = await kubectl.get<{ metadata: { annotations: object } }>('ingress', 'web-canary');

    await router.apply({ blue: 0, green: 100 }, record('switch'));
    const switched = await kubectl.get<{ metadata: { annotations: Record<string, string> } }>('ingress', 'web-canary');
    expect(switched.metadata.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/canary': 'true',
      'nginx.ingress.kubernetes.io/canary-weight': '100',
      'nginx.ingress.kubernetes.io/canary-weight-total': '100',
      'team.example/owner': 'shop',
      [ANNOTATIONS.by]: 'octocat',
    });
    expect((await router.read()).weights).toEqual({ blue: 0, green: 100 });

    await router.restore(before.snapshot, record('rollback'));
    expect((await kubectl.get<{ metadata: { annotations: object } }>('ingress', 'web-canary')).metadata.annotations).toEqual(original.metadata.annotations);
  }, 30_000);
});
