// The local control plane is a real cluster: real API server and controllers, Pods scheduled onto kwok
// nodes and reported Ready, Helm 3 and 4 waiting on real rollouts, Gateway API objects accepted.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { NODES } from './cluster';
import { deployment, list, service } from './manifests';
import { KUBERNETES_VERSION } from './tools.mjs';
import { useCluster } from './use-cluster';

const CHART = join(import.meta.dirname, 'fixtures', 'chart');

const web = (color: string) => deployment(`web-${color}`, { app: 'web', color }, { namespace: 'smoke', replicas: 2 });

interface PodList {
  items: { metadata: { name: string; labels: Record<string, string> }; spec: { nodeName?: string }; status: { phase: string; podIP?: string; conditions?: { type: string; status: string }[] } }[];
}

describe('local Kubernetes control plane', () => {
  it('reports the pinned version and runs Deployments to Ready pods on kwok nodes', async () => {
    const { kubectl } = useCluster();
    const version = JSON.parse(await kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe(KUBERNETES_VERSION);
    await kubectl(['create', 'namespace', 'smoke']);
    await kubectl(['apply', '-f', '-'], list([web('blue'), web('green'), service('web', { app: 'web', color: 'blue' }, 'smoke')]));
    for (const color of ['blue', 'green']) await kubectl(['-n', 'smoke', 'rollout', 'status', `deployment/web-${color}`, '--timeout=60s']);

    const pods = JSON.parse(await kubectl(['-n', 'smoke', 'get', 'pods', '-o', 'json'])) as PodList;
    expect(pods.items).toHaveLength(4);
    for (const pod of pods.items) {
      expect(NODES).toContain(pod.spec.nodeName);
      expect(pod.status.phase).toBe('Running');
      expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(pod.status.podIP).toMatch(/^198\.18\./);
    }

    // The Service's endpoints follow its selector: switching the colour label moves them to green.
    const endpoints = async () => {
      const slices = JSON.parse(await kubectl(['-n', 'smoke', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json'])) as { items: { endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[] }[] };
      return slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready).map((e) => e.targetRef?.name ?? '').sort();
    };
    const byColor = (color: string) => pods.items.filter((p) => p.metadata.labels.color === color).map((p) => p.metadata.name).sort();
    await expect.poll(endpoints, { timeout: 30_000 }).toEqual(byColor('blue'));
    await kubectl(['-n', 'smoke', 'patch', 'service', 'web', '--type=merge', '-p', JSON.stringify({ spec: { selector: { app: 'web', color: 'green' } } })]);
    await expect.poll(endpoints, { timeout: 30_000 }).toEqual(byColor('green'));
  }, 120_000);

  it('keeps its nodes alive: kwok renews every node Lease, the heartbeat the node lifecycle controller reads', async () => {
    // Without it every node turns NotReady about 50 s into a run, taking every pod's readiness with it.
    const { kubectl } = useCluster();
    const renewals = async () => JSON.parse(await kubectl(['-n', 'kube-node-lease', 'get', 'leases', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { renewTime?: string } }[] };
    const first = new Map((await renewals()).items.map((l) => [l.metadata.name, l.spec.renewTime]));
    expect([...first.keys()].sort()).toEqual(NODES);
    await expect.poll(async () => (await renewals()).items.every((l) => l.spec.renewTime && l.spec.renewTime !== first.get(l.metadata.name)), { timeout: 30_000, interval: 1000 }).toBe(true);
    expect((await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}'])).trim()).toBe('True True True');
  }, 60_000);

  it('installs a chart with Helm 4 and Helm 3, both waiting for the rollout', async () => {
    const { env, kubectl } = useCluster();
    for (const [helm, release] of [['helm', 'smoke4'], ['helm3', 'smoke3']] as const) {
      const version = (await exec(helm, ['version', '--short'], { env, silent: true })).stdout;
      expect(version).toMatch(helm === 'helm' ? /^v4\./ : /^v3\./);
      await exec(helm, ['install', release, CHART, '--namespace', 'helm-smoke', '--create-namespace', '--wait', '--timeout', '90s', '--set', 'replicas=3'], { env, silent: true }).catch(async (error: unknown) => {
        // Say what the cluster was doing, so a failure here can be told apart from a slow machine.
        const state = await kubectl(['-n', 'helm-smoke', 'get', 'deployments,replicasets,pods,events', '-o', 'wide']).catch((e: unknown) => String(e));
        throw new Error(`${(error as Error).message}\n${state}`, { cause: error });
      });
      const status = JSON.parse((await exec(helm, ['status', release, '-n', 'helm-smoke', '-o', 'json'], { env, silent: true })).stdout) as { info: { status: string } };
      expect(status.info.status).toBe('deployed');
      expect((await kubectl(['-n', 'helm-smoke', 'get', 'deployment', release, '-o', 'jsonpath={.status.readyReplicas}'])).trim()).toBe('3');
    }
  }, 180_000);

  it('plays what the Helm tests need: a pod that never becomes ready, and test hook pods that pass or fail', async () => {
    const { kubectl } = useCluster();
    await kubectl(['create', 'namespace', 'stages']);
    const pod = (name: string, labels: Record<string, string>, annotations: Record<string, string> = {}) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'stages', labels, annotations },
      spec: { restartPolicy: 'Never', containers: [{ name: 'app', image: 'registry.invalid/app:1' }] },
    });
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        pod('ready', {}), pod('never-ready', { 'slipway.dev/test-never-ready': 'true' }),
        pod('test-pass', {}, { 'helm.sh/hook': 'test' }), pod('test-fail', { 'slipway.dev/test-outcome': 'fail' }, { 'helm.sh/hook': 'test' }),
      ],
    }));
    const phase = async (name: string) => (await kubectl(['-n', 'stages', 'get', 'pod', name, '-o', 'jsonpath={.status.phase}'])).trim();
    await expect.poll(() => phase('test-pass'), { timeout: 30_000 }).toBe('Succeeded');
    await expect.poll(() => phase('test-fail'), { timeout: 30_000 }).toBe('Failed');
    await kubectl(['-n', 'stages', 'wait', '--for=condition=Ready', 'pod/ready', '--timeout=30s']);
    expect(await phase('never-ready')).toBe('Pending');
  }, 60_000);

  it('accepts Gateway API HTTPRoutes and patches their backend weights', async () => {
    const { kubectl } = useCluster();
    await kubectl(['create', 'namespace', 'routes']);
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'web', namespace: 'routes' },
      spec: { rules: [{ backendRefs: [{ name: 'web-stable', port: 80, weight: 100 }, { name: 'web-canary', port: 80, weight: 0 }] }] },
    };
    await kubectl(['apply', '-f', '-'], JSON.stringify(route));
    const patch = [{ op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: 75 }, { op: 'replace', path: '/spec/rules/0/backendRefs/1/weight', value: 25 }];
    await kubectl(['-n', 'routes', 'patch', 'httproute', 'web', '--type=json', '-p', JSON.stringify(patch)]);
    expect((await kubectl(['-n', 'routes', 'get', 'httproute', 'web', '-o', 'jsonpath={.spec.rules[0].backendRefs[*].weight}'])).trim()).toBe('75 25');
    // The CRD's schema is enforced by the API server: a negative weight is refused.
    await expect(kubectl(['-n', 'routes', 'patch', 'httproute', 'web', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/rules/0/backendRefs/0/weight', value: -1 }])])).rejects.toThrow(/weight/);
  }, 60_000);
});
