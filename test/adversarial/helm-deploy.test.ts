// helm-deploy under hostile and careless input, through the bundle, with the real Helm 4 (and Helm
// 3) and kubectl against the local control plane: what is masked (and what must stay readable), values
// that try to set more than they say, credentials inside a chart repository URL, and a mirror that
// serves another Helm under a pinned name. Every refusal leaves the release as it was.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { binDir } from '../cluster/tools.mjs';
import { useCluster, type TestCluster } from '../cluster/use-cluster';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { listen } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import { expectInputError, expectNoLeaks } from './harness';

const CHART = join(import.meta.dirname, '..', '..', 'actions', 'helm-deploy', 'test', 'fixtures', 'shop');
const RUN_ENV = runEnv('9201');
// Each piece of 4+ characters is distinctive, so the scanner's piece check cannot match ordinary text.
const VALUES_PASSWORD = 'Vals-Pa55w0rdQx71';
const SET_PASSWORD = 'SetPa55-w0rdZk93';
const URL_PASSWORD = 'UrlPa55-w0rdJq46';
let cluster: TestCluster;
let ns: string;

beforeAll(async () => {
  cluster = useCluster();
  ns = `helm-adv-${randomBytes(3).toString('hex')}`;
  await cluster.kubectl(['create', 'namespace', ns]);
});

const deploy = (inputs: Record<string, string>, env: Record<string, string> = {}) =>
  runAction('helm-deploy', { release: 'shop', namespace: ns, chart: CHART, kubeconfig: cluster.kubeconfigContent, timeout: '30s', 'helm-test': 'false', ...inputs }, { ...RUN_ENV, PATH: cluster.env.PATH ?? '', ...env });
const log = (run: ActionRun) => run.stdout + run.stderr;
const configMap = async (release = 'shop') => (JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'configmap', `${release}-config`, '-o', 'json'])) as { data: Record<string, string> }).data;
const revisions = async (release: string) => (JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'secrets', '-l', `owner=helm,name=${release}`, '-o', 'json'])) as { items: unknown[] }).items.length;

/** The values the run registered with `::add-mask::`, unescaped as the runner reads them. */
const masks = (run: ActionRun) => run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::')).map((l) => l.slice('::add-mask::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));
/** The log as the runner shows it: every registered value replaced by `***`. */
const runnerView = (run: ActionRun) => masks(run).filter(Boolean).sort((a, b) => b.length - a.length).reduce((text, mask) => text.split(mask).join('***'), visible(run.stdout));

describe('helm-deploy, hostile', () => {
  it('masks the secrets in values and set lines, and leaves tolerations, booleans and auth flags readable in the log', async () => {
    const run = await deploy({
      values: [
        'tolerations: [{key: dedicated, operator: Equal, value: gpu-nodes, effect: NoSchedule}]',
        'automountServiceAccountToken: false',
        `auth: {enabled: true, password: ${VALUES_PASSWORD}}`,
        // Rendered into the ConfigMap, so into the manifest diff of the summary.
        `fromValues: postgres://shop:${URL_PASSWORD}@db.example.com/shop`,
      ].join('\n'),
      set: `fromSet=dedicated\nauth.enabled=true\nautomountServiceAccountToken=false\ndatabase.password=${SET_PASSWORD}`,
    });
    expect(run.exitCode, log(run)).toBe(0);
    // The password reached the cluster.
    const secret = JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'secret', 'shop-db', '-o', 'json'])) as { data: { password: string } };
    expect(Buffer.from(secret.data.password, 'base64').toString()).toBe(SET_PASSWORD);
    expect(masks(run)).toEqual(expect.arrayContaining([VALUES_PASSWORD, SET_PASSWORD, URL_PASSWORD]));
    expect((await configMap()).fromValues).toBe(`postgres://shop:${URL_PASSWORD}@db.example.com/shop`);
    expect(run.summary).toMatch(/fromValues: "?postgres:\/\/shop:\*\*\*@db\.example\.com\/shop/);
    for (const word of ['dedicated', 'true', 'false', 'gpu-nodes', 'Equal', 'NoSchedule']) expect(masks(run)).not.toContain(word);
    // What the runner shows still says what was set.
    expect(runnerView(run)).toMatch(/--set fromSet=dedicated --set auth\.enabled=true --set automountServiceAccountToken=false --set database\.password=\*\*\*/);
    expectNoLeaks(run, [VALUES_PASSWORD, SET_PASSWORD, URL_PASSWORD, cluster.token]);
    expect(readFileSync(run.outputs['diff-file'] ?? '', 'utf8')).not.toContain(URL_PASSWORD);
  }, 90_000);

  it('refuses a set line written with `:` by its number, never showing it, before touching the cluster', async () => {
    const before = await revisions('shop');
    const run = await deploy({ set: `replicaCount=1\ndatabase.password: ${SET_PASSWORD}` });
    expectInputError(run, 'set');
    expect(run.stdout).toMatch(/::error::Input 'set' is invalid: got "line 2 \(not shown: it may hold a secret\)"/);
    expectNoLeaks(run, [SET_PASSWORD]);
    expect(run.stdout).not.toContain('helm upgrade');
    expect(await revisions('shop')).toBe(before);
  }, 60_000);

  it.each([
    ['image-tag', { 'image-tag': '1.2.3,fromSet=injected' }],
    ['image-tag', { 'image-tag': '1.2.3 --set fromSet=injected' }],
    ['image-repository', { 'image-repository': 'registry.invalid/shop,fromSet=injected' }],
    ['image-repository', { 'image-repository': 'registry.invalid/shop:1.0' }],
  ])('refuses an %s that would set other values, and the release is unchanged', async (input, inputs) => {
    const before = { revisions: await revisions('shop'), config: await configMap() };
    const run = await deploy(inputs);
    expectInputError(run, input);
    expect(run.stdout).not.toContain('helm upgrade');
    expect({ revisions: await revisions('shop'), config: await configMap() }).toEqual(before);
  }, 60_000);

  it('takes user:password out of a chart repository URL, gives them to Helm as --username and on stdin, and never shows them', async () => {
    const repoDir = mkdtempSync(join(tmpdir(), 'slipway-adv-chart-repo-'));
    const user = 'chartsRobot';
    const password = 'Rq7x/Zp55#Kw0rd?Q8mm';
    const seen: string[] = [];
    const server = await listen((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (req.headers.authorization !== `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`) return res.writeHead(401, { 'www-authenticate': 'Basic realm="charts"' }).end();
      try {
        res.writeHead(200).end(readFileSync(join(repoDir, (req.url ?? '/').slice(1))));
      } catch {
        res.writeHead(404).end();
      }
    });
    try {
      await exec(join(binDir(), 'helm'), ['package', CHART, '--destination', repoDir], { silent: true });
      await exec(join(binDir(), 'helm'), ['repo', 'index', repoDir, '--url', server.url], { silent: true });
      const withCredentials = (pass: string) => server.url.replace('://', `://${user}:${encodeURIComponent(pass)}@`);
      const run = await deploy({ release: 'shop-url-repo', chart: 'shop', repo: withCredentials(password) });
      expect(run.exitCode, log(run)).toBe(0);
      expect(run.outputs).toMatchObject({ revision: '1', status: 'deployed' });
      expect(seen).toEqual(expect.arrayContaining(['GET /index.yaml', 'GET /shop-0.1.0.tgz']));
      // Scheme and host only; the user is registered as a secret too.
      expect(visible(run.stdout)).toMatch(/helm repo add slipway-chart-repo http:\/\/127\.0\.0\.1:\d+ --force-update --username \*\*\* --password-stdin/);
      expect(masks(run)).toEqual(expect.arrayContaining([password, encodeURIComponent(password), user]));
      expectNoLeaks(run, [password, user, cluster.token]);

      const wrongPassword = 'Wr0ng/Xq9z#Yv55?x';
      const wrong = await deploy({ release: 'shop-url-repo', chart: 'shop', repo: withCredentials(wrongPassword) });
      expect(wrong.exitCode).toBe(1);
      expect(wrong.stdout).toMatch(/::error::helm repo failed: .*401/);
      expectNoLeaks(wrong, [wrongPassword, user]);
      expect(await revisions('shop-url-repo')).toBe(1);
      // The credentials go in one place: the URL or repo-username / repo-password.
      const both = await deploy({ release: 'shop-url-repo', chart: 'shop', repo: withCredentials(password), 'repo-username': user, 'repo-password': password });
      expectInputError(both, 'repo');
      expectNoLeaks(both, [password, user]);
    } finally {
      await server.close();
    }
  }, 90_000);

  it('refuses a Helm whose archive does not match the pinned SHA-256, whatever the mirror says, and an unpinned version without helm-checksum', async () => {
    // A mirror on loopback serving this machine's Helm 3 build as v3.19.0, with its own matching
    // .sha256sum: a tampered mirror vouching for itself.
    const mirror = mkdtempSync(join(tmpdir(), 'slipway-adv-helm-mirror-'));
    mkdirSync(join(mirror, 'linux-amd64'));
    copyFileSync(join(binDir(), 'helm3'), join(mirror, 'linux-amd64', 'helm'));
    await exec('tar', ['-czf', join(mirror, 'archive.tar.gz'), '-C', mirror, 'linux-amd64'], { silent: true });
    const archive = readFileSync(join(mirror, 'archive.tar.gz'));
    const sha256 = createHash('sha256').update(archive).digest('hex');
    const seen: string[] = [];
    // A mirror whose path holds its access token: not shown in the log.
    const token = 'Mirr0rT0ken-x7Qp';
    const server = await listen((req, res) => {
      seen.push(req.url ?? '');
      const name = new RegExp(`^/${token}/(helm-v[\\d.]+-linux-amd64\\.tar\\.gz)(\\.sha256sum)?$`).exec(req.url ?? '');
      if (!name) return res.writeHead(404).end();
      res.writeHead(200).end(name[2] ? `${sha256}  ${name[1]}\n` : archive);
    });
    const toolCache = mkdtempSync(join(tmpdir(), 'slipway-adv-toolcache-'));
    try {
      const tampered = await deploy({ release: 'shop-tampered', 'helm-version': 'v3.19.0', 'helm-mirror': `${server.url}/${token}` }, { RUNNER_TOOL_CACHE: toolCache });
      expect(tampered.exitCode).toBe(1);
      expect(tampered.stdout).toContain(`Downloading helm-v3.19.0-linux-amd64.tar.gz from ${server.url}`);
      // Only @actions/tool-cache's own debug line (shown with step debug logging) has the whole URL.
      expect(tampered.stdout.split('\n').filter((l) => l.includes(token) && !l.startsWith('::debug::Downloading http'))).toEqual([]);
      expect(tampered.stdout).toMatch(/::error::helm-v3\.19\.0-linux-amd64\.tar\.gz has SHA-256 [0-9a-f]{64}, but Slipway's pin of Helm v3\.19\.0 says a7f81ce08007091b86d8bd696eb4d86b8d0f2e1b9f6c714be62f82f96a594496: not installing it/);
      expect(seen).toEqual([`/${token}/helm-v3.19.0-linux-amd64.tar.gz`]);
      expect(await revisions('shop-tampered')).toBe(0);

      seen.length = 0;
      const unpinned = await deploy({ release: 'shop-tampered', 'helm-version': 'v3.18.7', 'helm-mirror': `${server.url}/${token}` }, { RUNNER_TOOL_CACHE: toolCache });
      expectInputError(unpinned, 'helm-checksum');
      expect(unpinned.stdout).toMatch(/expected the SHA-256 of helm-v3\.18\.7-linux-amd64\.tar\.gz from the Helm release page, since Slipway pins only Helm v3\.19\.0 and v4\.1\.4/);
      expect(seen).toEqual([]);
      expect(await revisions('shop-tampered')).toBe(0);
    } finally {
      await server.close();
    }
  }, 90_000);
});
