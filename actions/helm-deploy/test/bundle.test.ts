// dist/helm-deploy/index.js as the runner runs it, with the real Helm 4 (and Helm 3) and kubectl
// against the local control plane (test/cluster): installs, upgrades, failed rollouts rolled back,
// helm test, dry runs and diffs, values precedence, and what must never reach the log.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { useCluster, type TestCluster } from '../../../test/cluster/use-cluster';

const CHART = join(import.meta.dirname, 'fixtures', 'shop');
const RUN_ENV = runEnv('9001');
let cluster: TestCluster;
let ns: string;
/** TMPDIR of the runs: the kubeconfig and values files go there and must be gone afterwards. */
let temp: string;

beforeAll(async () => {
  cluster = useCluster();
  ns = `helm-${randomBytes(3).toString('hex')}`;
  await cluster.kubectl(['create', 'namespace', ns]);
  temp = mkdtempSync(join(tmpdir(), 'slipway-helm-test-'));
});

const env = () => ({ ...RUN_ENV, PATH: cluster.env.PATH ?? '', TMPDIR: temp });
const deploy = (inputs: Record<string, string>, extraEnv: Record<string, string> = {}) =>
  runAction('helm-deploy', { release: 'shop', namespace: ns, chart: CHART, kubeconfig: cluster.kubeconfigContent, timeout: '30s', ...inputs }, { ...env(), ...extraEnv });
const log = (run: ActionRun) => run.stdout + run.stderr;
const visible = (run: ActionRun) => run.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n') + run.stderr;
const configMap = async (release = 'shop') => (JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'configmap', `${release}-config`, '-o', 'json'])) as { data: Record<string, string> }).data;
const history = async (release = 'shop') => JSON.parse((await cluster.kubectl(['-n', ns, 'get', 'secrets', '-l', `owner=helm,name=${release}`, '-o', 'json']))) as { items: { metadata: { labels: Record<string, string> } }[] };

describe('dist/helm-deploy/index.js with Helm 4', () => {
  it('installs with values in precedence order, secrets masked, the kubeconfig removed afterwards', async () => {
    const valuesFile = join(temp, 'prod.yaml');
    writeFileSync(valuesFile, 'fromFile: file\nfromValues: file\nfromSet: file\n');
    const run = await deploy({
      'values-files': valuesFile,
      values: 'fromValues: values\nfromSet: values\ndatabase:\n  password: pa55-in-values-7731\n',
      set: 'fromSet=set\nimage.tag=ignored-by-image-tag',
      'image-tag': '1.0.1',
    });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ revision: '1', 'previous-revision': '', status: 'deployed', 'rolled-back': 'false' });
    expect(await configMap()).toEqual({ fromFile: 'file', fromValues: 'values', fromSet: 'set', image: 'registry.invalid/shop:1.0.1' });
    expect(run.stdout).toContain('Helm: v4.');
    expect(run.stdout).toMatch(/helm upgrade shop \S+ --install .*--rollback-on-failure --wait=watcher/);
    expect(run.stdout).toMatch(/Rollout: deployment\/shop rolled out/);
    expect(run.stdout).toMatch(/helm test: passed/);
    // The password reached the cluster but not the log, the diff, or the summary.
    const secret = JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'secret', 'shop-db', '-o', 'json'])) as { data: { password: string } };
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('pa55-in-values-7731');
    expect(run.stdout).toContain('::add-mask::pa55-in-values-7731');
    for (const text of [visible(run), run.summary, readFileSync(run.outputs['diff-file'] ?? '', 'utf8')]) expect(text).not.toContain('pa55-in-values-7731');
    expect(visible(run)).not.toContain(/token: (\S+)/.exec(cluster.kubeconfigContent)?.[1] ?? (JSON.parse(cluster.kubeconfigContent) as { users: { user: { token: string } }[] }).users[0]?.user.token);
    // Written to 0600 files in TMPDIR, removed at the end.
    expect(readdirSync(temp).filter((f) => f.startsWith('slipway-'))).toEqual([]);
    expect(run.summary).toContain('```diff\n');
    expect(run.summary).toMatch(/\+\s+password: \(hidden, sha256:[0-9a-f]{12}\)/);
  }, 90_000);

  it('upgrades, showing what changed in the manifest', async () => {
    const run = await deploy({ 'image-tag': '1.1.0' });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ revision: '2', 'previous-revision': '1', status: 'deployed' });
    const diff = readFileSync(run.outputs['diff-file'] ?? '', 'utf8');
    expect(diff).toContain('-          image: registry.invalid/shop:1.0.1\n+          image: registry.invalid/shop:1.1.0');
    expect(diff).toContain('--- revision 1\n+++ revision 2');
  }, 90_000);

  it('a dry run shows the diff and changes nothing', async () => {
    const before = (await history()).items.length;
    const run = await deploy({ 'image-tag': '2.0.0', 'dry-run': 'server' });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ status: 'dry-run', revision: '2', 'previous-revision': '2' });
    expect(readFileSync(run.outputs['diff-file'] ?? '', 'utf8')).toContain('+          image: registry.invalid/shop:2.0.0');
    expect((await history()).items.length).toBe(before);
    expect((await configMap()).image).toBe('registry.invalid/shop:1.1.0');
  }, 60_000);

  it('an upgrade whose pods never become ready is rolled back by Helm, reported with the pods', async () => {
    const run = await deploy({ 'image-tag': 'never-ready', timeout: '15s' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ revision: '4', 'previous-revision': '2', status: 'deployed', 'rolled-back': 'true' });
    expect(run.stdout).toMatch(/::error::helm upgrade of shop failed and was rolled back to revision 2: /);
    expect((await configMap()).image).toBe('registry.invalid/shop:1.1.0');
    expect(run.summary).toContain('Pods that were not ready');
    // Helm's rollback deleted the failed revision's pods; their events remain.
    expect(run.summary).toMatch(/<td>shop-[a-z0-9]+-[a-z0-9]+<\/td><td>\(deleted\)<\/td><td>Scheduled: Successfully assigned helm-[0-9a-f]+\/shop-/);
  }, 90_000);

  it('a failed helm test rolls back explicitly', async () => {
    const run = await deploy({ set: 'testOutcome=fail', 'image-tag': '1.2.0' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ revision: '6', 'previous-revision': '4', status: 'deployed', 'rolled-back': 'true' });
    expect(run.stdout).toMatch(/::error::helm test failed: .*; rolled back to revision 4/);
    expect((await configMap()).image).toBe('registry.invalid/shop:1.1.0');
  }, 90_000);

  it('a failed first install leaves no release behind', async () => {
    const run = await deploy({ release: 'fresh', 'image-tag': 'never-ready', timeout: '10s' });
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ revision: '', 'previous-revision': '', status: 'uninstalled', 'rolled-back': 'true' });
    expect(run.stdout).toMatch(/::error::helm upgrade of fresh failed; the failed first install was removed: /);
    expect((await history('fresh')).items).toEqual([]);
  }, 90_000);

  it('refuses bad inputs before touching the cluster, naming the input', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ chart: './no-such-chart' }, /Input 'chart' is invalid: got "\.\/no-such-chart"; expected an existing chart folder/],
      [{ chart: 'oci://ghcr.io/acme/shop', repo: 'https://charts.example.com' }, /Input 'repo' is invalid: got "https:\/\/charts.example.com"; expected empty with an `oci:\/\/` chart/],
      [{ set: 'image.tag 1.0' }, /Input 'set' is invalid: got "image.tag 1.0"; expected one `key=value` per line/],
      [{ set: 'db.password' }, /Input 'set' is invalid: got "db.password"; expected one `key=value` per line/],
      [{ 'dry-run': 'yes' }, /Input 'dry-run' is invalid: got "yes"; expected one of `false`, `client`, `server`/],
      [{ release: 'Shop_1' }, /Input 'release' is invalid: got "Shop_1"; expected a release name of lowercase letters/],
      [{ environment: 'production' }, /Input 'github-token' is invalid: got an empty value; expected a token with `deployments: write`/],
    ];
    for (const [inputs, message] of cases) {
      const run = await deploy(inputs);
      expect(run.exitCode, JSON.stringify(inputs)).toBe(1);
      expect(run.stdout).toMatch(message);
      expect(run.stdout).not.toContain('helm upgrade');
    }
    const unreachable = JSON.parse(cluster.kubeconfigContent) as { clusters: { cluster: { server: string } }[] };
    for (const c of unreachable.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const run = await deploy({ kubeconfig: JSON.stringify(unreachable) });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::cannot reach the cluster to read release shop in helm-[0-9a-f]+: helm history failed: .*127\.0\.0\.1:1/);
    expect(run.stdout).not.toContain('helm upgrade');
  }, 90_000);
});
