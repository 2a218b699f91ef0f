// A real Kubernetes control plane on loopback, without Docker: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler as plain processes, and kwok playing the kubelet for a few
// fake nodes. Deployments create ReplicaSets and Pods, the scheduler binds them, kwok marks them Running
// and Ready, EndpointSlices follow: `kubectl rollout status` and `helm --wait` behave as on a cluster;
// only containers do not run. Pod and Service addresses come from 198.18.0.0/15 (RFC 2544, never
// routed): nothing listens there and nothing is sent there; Kubernetes refuses loopback endpoints.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { exec, ExecError } from '../../packages/shared/src/exec';
import { freePort } from '../helpers/net';
import { startProcess } from '../services/process';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { binDir, crdDir, kwokStagesDir, missingTools } from './tools.mjs';

export interface Cluster {
  /** Path of an admin kubeconfig (context `slipway`, namespace default). */
  kubeconfig: string;
  /** The kubeconfig's content, as a workflow would pass it in a secret. */
  kubeconfigContent: string;
  server: string;
  /** Environment for kubectl/helm: KUBECONFIG and the tools' folder first on PATH. */
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export const NODES = ['kwok-node-0', 'kwok-node-1', 'kwok-node-2'];

/** The tools' folder first on PATH, so `kubectl`, `helm` and `helm3` are the pinned ones. */
export function toolsEnv(kubeconfig?: string): NodeJS.ProcessEnv {
  return { ...process.env, PATH: [binDir(), process.env.PATH].join(delimiter), ...(kubeconfig ? { KUBECONFIG: kubeconfig } : {}) };
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await exec('openssl', args, { cwd: dir, silent: true }).catch((error: unknown) => {
    throw new Error(`openssl ${args[0]} failed making the cluster's certificates (apt-get install openssl): ${(error as Error).message}`, { cause: error });
  });
}

/** A CA, the API server's serving certificate for 127.0.0.1, and the service-account signing key. */
async function certificates(dir: string): Promise<void> {
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc\n');
  await openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3', '-subj', '/CN=slipway-test-ca']);
  await openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver']);
  await openssl(dir, ['x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'apiserver.crt', '-days', '3', '-extfile', 'san.ext']);
  await openssl(dir, ['genrsa', '-out', 'sa.key', '2048']);
  await openssl(dir, ['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
}

function nodeManifest(name: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { type: 'kwok', 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
    },
    status: {
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}

/**
 * kwok's default pod Stages with what the Helm tests need: a pod labelled
 * `slipway.dev/test-never-ready` never becomes ready (an image that never starts); pods of Jobs (Helm
 * hooks) and Helm test hook pods complete, as if their command had run, and fail when labelled
 * `slipway.dev/test-outcome: fail`. Written as kwok's multi-document configuration.
 */
function kwokStages(): string {
  const read = (file: string) => parseYaml(readFileSync(join(kwokStagesDir(), file), 'utf8')) as { metadata: { name: string }; spec: { selector: { matchExpressions: object[] }; next: { statusTemplate: string } } };
  const ready = read('pod-ready.yaml');
  ready.spec.selector.matchExpressions.push({ key: '.metadata.labels["slipway.dev/test-never-ready"]', operator: 'DoesNotExist' });
  const complete = (name: string, which: object, outcome: 'pass' | 'fail') => {
    const stage = read('pod-complete.yaml');
    stage.metadata.name = `${name}-${outcome}`;
    stage.spec.selector.matchExpressions = [
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
      { key: '.status.phase', operator: 'In', values: ['Running'] },
      which,
      outcome === 'fail' ? { key: '.metadata.labels["slipway.dev/test-outcome"]', operator: 'In', values: ['fail'] } : { key: '.metadata.labels["slipway.dev/test-outcome"]', operator: 'DoesNotExist' },
    ];
    if (outcome === 'fail') stage.spec.next.statusTemplate = stage.spec.next.statusTemplate.replace('exitCode: 0', 'exitCode: 1').replace('reason: Completed', 'reason: Error').replace('phase: Succeeded', 'phase: Failed');
    return stage;
  };
  const job = { key: '.metadata.ownerReferences.[].kind', operator: 'In', values: ['Job'] };
  const helmTest = { key: '.metadata.annotations["helm.sh/hook"]', operator: 'In', values: ['test', 'test-success'] };
  return [ready, read('pod-delete.yaml'), complete('pod-complete', job, 'pass'), complete('pod-complete', job, 'fail'), complete('pod-helm-test', helmTest, 'pass'), complete('pod-helm-test', helmTest, 'fail')]
    .map((doc) => stringifyYaml(doc))
    .join('---\n');
}

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>, logs: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof ExecError ? error.result.stderr.trim() : (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`the local cluster: ${what} not within ${timeoutMs / 1000} s${last ? ` (last: ${last})` : ''}\n${logs()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Starts a cluster in a throwaway folder on free loopback ports. The programs come from
 * `node scripts/ensure-deps.mjs` (the pretest); without them this fails saying so, never skips.
 */
export async function startCluster(): Promise<Cluster> {
  const missing = missingTools();
  if (missing.length) throw new Error(`the local Kubernetes tools are missing (${missing.join(', ')}): run \`node scripts/ensure-deps.mjs\` (npm test does it in its pretest step)`);
  const bin = (name: string) => join(binDir(), name);
  const dir = mkdtempSync(join(tmpdir(), 'slipway-cluster-'));
  const processes: ReturnType<typeof startProcess>[] = [];
  const logs = () => processes.map((p) => p.output().split('\n').slice(-15).join('\n')).join('\n---\n');
  const stop = async () => {
    for (const p of [...processes].reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await certificates(dir);
    const token = randomBytes(24).toString('hex');
    writeFileSync(join(dir, 'tokens.csv'), `${token},slipway-admin,slipway-admin,"system:masters"\n`);
    const [etcdClient, etcdPeer, apiPort, cmPort, schedPort, kwokPort] = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfigContent = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'slipway', cluster: { server, 'certificate-authority-data': readFileSync(join(dir, 'ca.crt')).toString('base64') } }],
      users: [{ name: 'slipway-admin', user: { token } }],
      contexts: [{ name: 'slipway', context: { cluster: 'slipway', user: 'slipway-admin', namespace: 'default' } }],
      'current-context': 'slipway',
    });
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeconfigContent, { mode: 0o600 });
    const env = toolsEnv(kubeconfig);
    const kubectl = async (args: string[], input?: string) => (await exec(bin('kubectl'), args, { env, silent: true, input })).stdout;

    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    processes.push(startProcess(bin('etcd'), [
      `--data-dir=${join(dir, 'etcd')}`, `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`, '--unsafe-no-fsync', '--log-level=warn',
    ]));
    processes.push(startProcess(bin('kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--tls-cert-file=${join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${join(dir, 'apiserver.key')}`, `--client-ca-file=${join(dir, 'ca.crt')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc', `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=198.19.0.0/16', '--endpoint-reconciler-type=none', '--v=0',
    ]));
    await until('kube-apiserver ready (/readyz)', 90_000, async () => ((await kubectl(['get', '--raw', '/readyz'])).trim() === 'ok' ? true : undefined), logs);

    const common = [`--kubeconfig=${kubeconfig}`, '--leader-elect=false', '--bind-address=127.0.0.1'];
    processes.push(startProcess(bin('kube-controller-manager'), [
      ...common, `--secure-port=${cmPort}`, `--service-account-private-key-file=${join(dir, 'sa.key')}`, `--root-ca-file=${join(dir, 'ca.crt')}`, '--use-service-account-credentials=false',
    ]));
    processes.push(startProcess(bin('kube-scheduler'), [...common, `--secure-port=${schedPort}`]));
    writeFileSync(join(dir, 'kwok.yaml'), kwokStages());
    processes.push(startProcess(bin('kwok'), [
      `--kubeconfig=${kubeconfig}`, `--config=${join(dir, 'kwok.yaml')}`, '--manage-all-nodes=true', '--cidr=198.18.0.1/16', '--node-ip=127.0.0.1', `--server-address=127.0.0.1:${kwokPort}`,
      // Node heartbeats: without renewed Leases the node lifecycle controller marks every node NotReady
      // after its grace period (~50 s), and with it every pod.
      '--node-lease-duration-seconds=40',
    ]));

    await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: NODES.map(nodeManifest) }));
    const crds = readdirSync(crdDir()).filter((f) => f.endsWith('.yaml')).map((f) => join(crdDir(), f));
    await kubectl(['apply', '--server-side', ...crds.flatMap((f) => ['-f', f])]);
    await until('kwok nodes Ready', 60_000, async () => {
      const ready = await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}']);
      return ready.split('\n').filter((s) => s === 'True').length === NODES.length ? true : undefined;
    }, logs);
    await until('the default ServiceAccount (kube-controller-manager)', 60_000, async () => ((await kubectl(['get', 'serviceaccount', 'default', '-o', 'name'])).trim() ? true : undefined), logs);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/httproutes.gateway.networking.k8s.io']);
    return { kubeconfig, kubeconfigContent, server, env, kubectl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
