// dist/helm-deploy/index.js as the runner runs it, with the real Helm 4 (and Helm 3) and kubectl
// against the local control plane (test/cluster): installs, upgrades, failed rollouts rolled back,
// helm test, dry runs and diffs, values precedence, and what must never reach the log.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync } from 'node:fs';
import { exec } from '../../../packages/shared/src/exec';
import { startGitHubApi } from '../../../test/fakes/github-api';
import { listen } from '../../../test/helpers/net';
import { binDir } from '../../../test/cluster/tools.mjs';
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
    expect(run.stdout).toMatch(/helm upgrade shop \S+ .*--install .*--rollback-on-failure --wait=watcher/);
    expect(run.stdout).toMatch(/Rollout: deployment\/shop rolled out/);
    expect(run.stdout).toMatch(/helm test: passed/);
    // The password reached the cluster but not the log, the diff, or the summary.
    const secret = JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'secret', 'shop-db', '-o', 'json'])) as { data: { password: string } };
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe('pa55-in-values-7731');
    expect(run.stdout).toContain('::add-mask::pa55-in-values-7731');
    for (const text of [visible(run), run.summary, readFileSync(run.outputs['diff-file'] ?? '', 'utf8')]) expect(text).not.toContain('pa55-in-values-7731');
    expect(cluster.token).not.toBe('');
    expect(visible(run)).not.toContain(cluster.token);
    // Written to 0600 files in TMPDIR, removed at the end.
    expect(readdirSync(temp).filter((f) => f.startsWith('slipway-'))).toEqual([]);
    expect(run.summary).toContain('```diff\n');
    expect(run.summary).toMatch(/\+\s+password: \(hidden, digest [0-9a-f]{12}\)/);
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

  it('a failed pre-upgrade hook is rolled back to the previous revision, and a passing one lets the upgrade through', async () => {
    const failed = await deploy({ set: 'migration.enabled=true\nmigration.outcome=fail', 'image-tag': '1.3.0' });
    expect(failed.exitCode).toBe(1);
    expect(failed.stdout).toMatch(/::error::helm upgrade of shop failed and was rolled back to revision 6: .*pre-upgrade hooks failed/);
    expect(failed.outputs).toMatchObject({ revision: '8', 'previous-revision': '6', status: 'deployed', 'rolled-back': 'true' });
    expect((await configMap()).image).toBe('registry.invalid/shop:1.1.0');
    const passed = await deploy({ set: 'migration.enabled=true', 'image-tag': '1.3.0' });
    expect(passed.exitCode, log(passed)).toBe(0);
    expect(passed.outputs).toMatchObject({ revision: '9', 'previous-revision': '8', status: 'deployed' });
    expect((await configMap()).image).toBe('registry.invalid/shop:1.3.0');
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
      [{ set: 'image.tag 1.0' }, /Input 'set' is invalid: got "line 1 \(not shown: it may hold a secret\)"; expected one `key=value` per line/],
      [{ set: 'replicaCount=1\ndb.password' }, /Input 'set' is invalid: got "line 2 \(not shown: it may hold a secret\)"; expected one `key=value` per line/],
      [{ 'image-tag': '1.2.3,securityContext.privileged=true' }, /Input 'image-tag' is invalid: got "1\.2\.3,securityContext\.privileged=true"; expected an image tag/],
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
    // A client-side dry run renders without the cluster.
    const offline = await deploy({ kubeconfig: JSON.stringify(unreachable), 'dry-run': 'client', 'image-tag': '3.0.0' });
    expect(offline.exitCode, log(offline)).toBe(0);
    expect(offline.outputs.status).toBe('dry-run');
    expect(readFileSync(offline.outputs['diff-file'] ?? '', 'utf8')).toContain('+          image: registry.invalid/shop:3.0.0');
  }, 90_000);
});

describe('dist/helm-deploy/index.js with GitHub Deployments and a pinned Helm 3', () => {
  it('records a GitHub Deployment: in progress, then success or failure, every request valid for GitHub\'s OpenAPI description', async () => {
    const token = 'ghs_helmdeploytest000000000000000000000';
    const github = await startGitHubApi(token);
    try {
      const inputs = { release: 'shop-gh', 'github-token': token, environment: 'staging', 'environment-url': 'https://staging.shop.example.com' };
      const ok = await deploy(inputs, { GITHUB_API_URL: github.url });
      expect(ok.exitCode, log(ok)).toBe(0);
      expect(ok.outputs['deployment-id']).toBe('1000');
      const failed = await deploy({ ...inputs, set: 'testOutcome=fail' }, { GITHUB_API_URL: github.url });
      expect(failed.exitCode).toBe(1);
      expect(failed.outputs['deployment-id']).toBe('1001');
      expect(github.requests.map((r) => [r.operationId, r.path, r.body?.state ?? r.body?.environment, r.problems])).toEqual([
        ['repos/create-deployment', '/repos/acme/shop/deployments', 'staging', []],
        ['repos/create-deployment-status', '/repos/acme/shop/deployments/1000/statuses', 'in_progress', []],
        ['repos/create-deployment-status', '/repos/acme/shop/deployments/1000/statuses', 'success', []],
        ['repos/create-deployment', '/repos/acme/shop/deployments', 'staging', []],
        ['repos/create-deployment-status', '/repos/acme/shop/deployments/1001/statuses', 'in_progress', []],
        ['repos/create-deployment-status', '/repos/acme/shop/deployments/1001/statuses', 'failure', []],
      ]);
      expect(github.requests[0]?.body).toMatchObject({ ref: RUN_ENV.GITHUB_SHA, auto_merge: false, required_contexts: [] });
      expect(github.requests[2]?.body).toMatchObject({ log_url: 'https://github.com/acme/shop/actions/runs/9001', environment_url: 'https://staging.shop.example.com' });
      expect(visible(ok)).not.toContain(token);
    } finally {
      await github.stop();
    }
  }, 90_000);

  it('installs a Helm 3 through the tool cache after checking its SHA-256 against helm-checksum, and deploys with Helm 3 flags', async () => {
    // A mirror of get.helm.sh on loopback, serving this machine's Helm 3 build as the release archive
    // of an unpinned version, whose checksum the user gives (test/adversarial/helm-deploy.test.ts has
    // the pinned versions refusing such an archive).
    const mirror = mkdtempSync(join(tmpdir(), 'slipway-helm-mirror-'));
    mkdirSync(join(mirror, 'linux-amd64'));
    copyFileSync(join(binDir(), 'helm3'), join(mirror, 'linux-amd64', 'helm'));
    const name = 'helm-v3.18.7-linux-amd64.tar.gz';
    await exec('tar', ['-czf', join(mirror, name), '-C', mirror, 'linux-amd64'], { silent: true });
    const archive = readFileSync(join(mirror, name));
    const server = await listen((req, res) => {
      if (req.url === `/${name}`) return res.writeHead(200, { 'content-type': 'application/gzip' }).end(archive);
      res.writeHead(404).end();
    });
    const toolCache = mkdtempSync(join(tmpdir(), 'slipway-toolcache-'));
    try {
      const inputs = { release: 'shop3', 'helm-version': 'v3.18.7', 'helm-mirror': server.url, 'helm-checksum': createHash('sha256').update(archive).digest('hex') };
      const refused = await deploy({ ...inputs, 'helm-checksum': '0'.repeat(64) }, { RUNNER_TOOL_CACHE: toolCache });
      expect(refused.exitCode).toBe(1);
      expect(refused.stdout).toMatch(/::error::helm-v3\.18\.7-linux-amd64\.tar\.gz has SHA-256 [0-9a-f]{64}, but the helm-checksum input says 0{64}: not installing it/);
      expect((await history('shop3')).items).toEqual([]);

      const run = await deploy(inputs, { RUNNER_TOOL_CACHE: toolCache });
      expect(run.exitCode, log(run)).toBe(0);
      expect(run.stdout).toMatch(/helm 3\.18\.7 installed \(SHA-256 [0-9a-f]{64} verified against the helm-checksum input\)/);
      expect(run.stdout).toContain('Helm: v3.');
      expect(run.stdout).toMatch(/helm upgrade shop3 \S+ .*--install .* --atomic --wait --cleanup-on-fail/);
      expect(run.outputs).toMatchObject({ revision: '1', status: 'deployed' });
      // The next job finds it in the tool cache.
      const again = await deploy({ ...inputs, 'image-tag': '1.0.2' }, { RUNNER_TOOL_CACHE: toolCache });
      expect(again.exitCode, log(again)).toBe(0);
      expect(again.stdout).toContain('helm 3.18.7 from the tool cache');
      expect(again.outputs).toMatchObject({ revision: '2', 'previous-revision': '1' });
      // Helm 3's --atomic rolls a failed rollout back, reported the same way.
      const broken = await deploy({ ...inputs, 'image-tag': 'never-ready', timeout: '10s' }, { RUNNER_TOOL_CACHE: toolCache });
      expect(broken.exitCode).toBe(1);
      expect(broken.outputs).toMatchObject({ revision: '4', 'previous-revision': '2', status: 'deployed', 'rolled-back': 'true' });
      expect(broken.stdout).toMatch(/::error::helm upgrade of shop3 failed and was rolled back to revision 2: /);
    } finally {
      await server.close();
    }
  }, 120_000);
});

describe('dist/helm-deploy/index.js with a private chart repository', () => {
  it('installs from a repository behind basic auth, the password given to Helm on stdin and never shown', async () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'slipway-chart-repo-'));
    const password = 'repo-pa55-4471';
    const seen: string[] = [];
    const server = await listen((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.headers.authorization !== `Basic ${Buffer.from(`charts:${password}`).toString('base64')}`) return res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
      try {
        res.writeHead(200).end(readFileSync(join(repoDir, (req.url ?? '/').slice(1))));
      } catch {
        res.writeHead(404).end();
      }
    });
    try {
      const url = server.url;
      await exec(join(binDir(), 'helm'), ['package', CHART, '--destination', repoDir], { silent: true });
      await exec(join(binDir(), 'helm'), ['repo', 'index', repoDir, '--url', url], { silent: true });
      const run = await deploy({ release: 'shop-repo', chart: 'shop', 'chart-version': '0.1.0', repo: url, 'repo-username': 'charts', 'repo-password': password });
      expect(run.exitCode, log(run)).toBe(0);
      expect(run.outputs).toMatchObject({ revision: '1', status: 'deployed' });
      expect(run.stdout).toMatch(/helm repo add slipway-chart-repo http:\/\/127\.0\.0\.1:\d+ --force-update --username charts --password-stdin/);
      expect(seen).toEqual(expect.arrayContaining(['GET /index.yaml', 'GET /shop-0.1.0.tgz']));
      expect(visible(run)).not.toContain(password);
      const wrong = await deploy({ release: 'shop-repo', chart: 'shop', repo: url, 'repo-username': 'charts', 'repo-password': 'wrong-password-1' });
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stdout).toMatch(/::error::helm repo failed: .*401/);
      expect(visible(wrong)).not.toContain('wrong-password-1');
    } finally {
      await server.close();
    }
  }, 60_000);
});
