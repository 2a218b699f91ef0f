// A hostile review of helm-deploy's masking, set lines, chart repository URLs, pinned Helm and
// rollbacks, through the bundle. Most cases render with `dry-run: client` (no cluster) a chart that
// shows every value it is given in a ConfigMap, so that any value the action failed to mask reaches
// the manifest diff in the job summary; the rest run against the local control plane.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

const SHOP = join(import.meta.dirname, '..', '..', 'actions', 'helm-deploy', 'test', 'fixtures', 'shop');
const RUN_ENV = runEnv('9301');
const PATH = `${binDir()}:${process.env.PATH ?? ''}`;
const log = (run: ActionRun) => run.stdout + run.stderr;
/** The values the run registered with `::add-mask::`, unescaped as the runner reads them. */
const masks = (run: ActionRun) => run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::')).map((l) => l.slice('::add-mask::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'));

/**
 * A chart that shows all its values (toYaml in a ConfigMap), wraps `listToken` into a Secret inside a
 * `kind: List`, stores `database.password` and `pin` in a Secret, and with `check: true` fails quoting the password.
 */
function showAllChart(): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-show-all-'));
  mkdirSync(join(dir, 'templates'));
  writeFileSync(join(dir, 'Chart.yaml'), 'apiVersion: v2\nname: show-all\nversion: 0.1.0\n');
  writeFileSync(join(dir, 'values.yaml'), 'database: {password: ""}\n');
  writeFileSync(join(dir, 'templates', 'values.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-values\ndata:\n  values.yaml: |\n{{ toYaml .Values | indent 4 }}\n');
  writeFileSync(join(dir, 'templates', 'secret.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-db\nstringData:\n  password: {{ .Values.database.password | quote }}\n  pin: {{ .Values.pin | default "" | quote }}\n');
  writeFileSync(
    join(dir, 'templates', 'list.yaml'),
    '{{- with .Values.listToken }}\napiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata: {name: listed}\n    data: {token: {{ . | b64enc }}}\n{{- end }}\n',
  );
  writeFileSync(join(dir, 'templates', 'check.yaml'), '{{- if .Values.check }}{{ fail (printf "database password %s is too short" .Values.database.password) }}{{- end }}\n');
  return dir;
}

let chart: string;
beforeAll(() => {
  chart = showAllChart();
});

/** A client-side dry run of the show-all chart: no cluster, the whole rendered manifest in the summary's diff. */
const render = (inputs: Record<string, string>, env: Record<string, string> = {}) =>
  runAction('helm-deploy', { release: 'shop', chart, 'dry-run': 'client', ...inputs }, { ...RUN_ENV, PATH, ...env });

describe('helm-deploy review: set lines', () => {
  it('refuses a secret set value with an unescaped comma by its line number, before Helm quotes the rest of the password', async () => {
    const run = await render({ set: 'replicaCount=1\ndatabase.password=Pa55w,0rdTa1lSecret' });
    expectInputError(run, 'set');
    expect(visible(run.stdout)).toMatch(/got "line 2 \(not shown: it may hold a secret\)"; expected one `key=value` per line.*`\\,`/);
    expect(run.stdout).not.toContain('helm template');
    expectNoLeaks(run, ['0rdTa1lSecret']);
  });

  it('masks each value of a set line the way Helm splits it: after a comma, and in a {a,b} list', async () => {
    const run = await render({ set: 'database.password=F1rstAssignPw,fromSet=visible-value\napiTokens={L1stTok-one,L1stTok-two}\nenv[0].name=DB_PASSWORD\nenv[0].value=EnvPa55-in-set' });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.summary).toContain('fromSet: visible-value');
    expectNoLeaks(run, ['F1rstAssignPw', 'L1stTok-one', 'L1stTok-two', 'EnvPa55-in-set']);
  });
});

describe('helm-deploy review: values that must be masked', () => {
  it('masks URL passwords holding / ? # unencoded, password query parameters and SAS signatures under any key', async () => {
    const secrets = ['Pa/ss#9w?rdUrl', 'QueryPw-83xk', 'R3dis/Pw-55q', 'SasSignatureAbc123%3D'];
    const run = await render({
      values: [
        'DATABASE_URL: "postgres://shop:Pa/ss#9w?rdUrl@db.example.com/shop"',
        'analytics: {url: "postgres://db.example.com/shop?user=shop&password=QueryPw-83xk"}',
        'cacheUrl: "redis://:R3dis/Pw-55q@redis:6379/0"',
        'backup: {containerUrl: "https://acct.blob.core.windows.net/c?sv=2024-01-01&sp=rw&sig=SasSignatureAbc123%3D"}',
      ].join('\n'),
    });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.summary).toContain('db.example.com/shop');
    expectNoLeaks(run, secrets);
  });

  it('masks the path of a webhook URL, which is its credential', async () => {
    const token = 'XyZ123abcDEF456ghiJKL789';
    const run = await render({ values: `alerts:\n  slackWebhookUrl: https://hooks.slack.com/services/T0AAAA/B0BBBB/${token}\n  teams: {webhook: {url: "https://acme.webhook.office.com/webhookb2/Te4msT0kenPathSegment01"}}` });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.summary).toContain('https://hooks.slack.com');
    expectNoLeaks(run, [token, 'Te4msT0kenPathSegment01']);
  });

  it('masks registry credentials, plural API keys and JSON or PEM credentials', async () => {
    const run = await render({
      values: [
        'imagePull: {dockerconfigjson: eyJEb2NrZXJDZmcxMjM0In0}',
        'registry: {auths: {ghcr.io: {auth: UmVnQXV0aDpQYTU1d29yZA}}}',
        'apiKeys: [Ap1KeyNumberOne, Ap1KeyNumberTwo]',
        'gcp: {credentialsJson: "{\\"type\\": \\"service_account\\", \\"private_key_id\\": \\"PrivKeyIdJs0n\\"}"}',
        'signing: {privateKeyPem: "-----BEGIN EC PRIVATE KEY-----\\nPemL1neSecretData\\n-----END EC PRIVATE KEY-----"}',
        'cluster: {kubeconfig: "apiVersion: v1\\nusers: [{name: ci, user: {token: KubeT0kenInValues}}]"}',
      ].join('\n'),
    });
    expect(run.exitCode, log(run)).toBe(0);
    expectNoLeaks(run, ['eyJEb2NrZXJDZmcxMjM0In0', 'UmVnQXV0aDpQYTU1d29yZA', 'Ap1KeyNumberOne', 'Ap1KeyNumberTwo', 'PrivKeyIdJs0n', 'PemL1neSecretData', 'KubeT0kenInValues']);
  });

  it('masks the secrets of values-files as it does those of values, in the diff and in the error of a template that quotes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slipway-review-values-'));
    const file = join(dir, 'prod-secrets.yaml');
    writeFileSync(file, 'database:\n  password: F1leDbPassw0rd\nsmtp: {pass: F1leSmtpPass}\nworker: {brokerUrl: "amqp://shop:F1leAmqpPw@mq:5672/"}\n');
    const run = await render({ 'values-files': file });
    expect(run.exitCode, log(run)).toBe(0);
    expectNoLeaks(run, ['F1leDbPassw0rd', 'F1leSmtpPass', 'F1leAmqpPw']);

    const failing = await render({ 'values-files': file, set: 'check=true' });
    expect(failing.exitCode).toBe(1);
    expect(visible(failing.stdout)).toMatch(/::error::helm template failed: .*database password \*\*\* is too short/);
    expectNoLeaks(failing, ['F1leDbPassw0rd']);
  });

  it('refuses a values file that is not YAML by its name, without quoting it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'slipway-review-values-')), 'broken.yaml');
    writeFileSync(file, 'database:\n  password: Br0kenF1lePw\n   nested: [unclosed\n');
    const run = await render({ 'values-files': file });
    expectInputError(run, 'values-files');
    expectNoLeaks(run, ['Br0kenF1lePw']);
  });

  it('hides a Secret inside a `kind: List` like any other Secret, and the diff of a List does not crash the run', async () => {
    const token = 'L1stedSecretT0ken';
    const run = await render({ values: `listToken: ${token}` });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.summary).toMatch(/token: \(hidden/);
    expectNoLeaks(run, [token]);
  });

  it('shows a Secret value that no key marks as secret without a hash that can be checked against guesses', async () => {
    // `pin` is no secret-bearing key, so only the Secret around it hides it.
    const pin = 'hunter2hunter2';
    const run = await render({ values: `pin: "${pin}"` });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.summary).toMatch(/pin: \(hidden/);
    const sha256 = createHash('sha256').update(pin).digest('hex');
    expect(run.summary).not.toContain(sha256.slice(0, 12));
  });
});

describe('helm-deploy review: values that must stay readable', () => {
  it('does not mask the field names, regions, roles and users that describe a secret', async () => {
    const plain = ['password', 'shop-reader', 'https://vault.example.com', 'admin-user', 'eu-west-1', 'sts.amazonaws.com', 'Restricted Area', 'prod/shop/db'];
    const run = await render({
      values: [
        'externalSecrets: {enabled: true, data: [{secretKey: db-pass, remoteRef: {key: prod/shop/db, property: password}}]}',
        'secrets: {provider: vault, vault: {role: shop-reader, address: "https://vault.example.com"}}',
        'credentials: {username: admin-user, region: eu-west-1, password: Cr3dsPassw0rd}',
        'serviceAccountToken: {audience: sts.amazonaws.com, expirationSeconds: 3600}',
        'basicAuth: {realm: Restricted Area, htpasswd: "admin:$apr1$HtPa55wdHash"}',
      ].join('\n'),
    });
    expect(run.exitCode, log(run)).toBe(0);
    expect(masks(run).filter((m) => plain.includes(m))).toEqual([]);
    for (const word of plain) expect(run.summary).toContain(word);
    expectNoLeaks(run, ['Cr3dsPassw0rd', 'HtPa55wdHash']);
  });
});

describe('helm-deploy review: chart repository URLs', () => {
  it('never shows a token in the path or query of `repo`, not even in Helm\'s own error', async () => {
    const seen: string[] = [];
    const server = await listen((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(404).end();
    });
    try {
      const pathToken = 'Cl0udsmithEnt1tlementTok';
      const queryToken = 'QueryT0kenForCharts';
      const run = await render({ chart: 'shop', repo: `${server.url}/${pathToken}/acme/helm/charts/?token=${queryToken}` });
      expect(run.exitCode).toBe(1);
      expect(seen.some((url) => url.includes(pathToken))).toBe(true);
      expect(visible(run.stdout)).toMatch(/::error::helm repo failed: .*404/);
      expectNoLeaks(run, [pathToken, queryToken]);
    } finally {
      await server.close();
    }
  });
});

describe('helm-deploy review: a pinned Helm', () => {
  it('does not run a Helm another installer put in the tool cache under the pinned version', async () => {
    // azure/setup-helm caches what it downloads, unverified, as `helm` <version>: the same key.
    const toolCache = mkdtempSync(join(tmpdir(), 'slipway-review-toolcache-'));
    const cached = join(toolCache, 'helm', '3.19.0', 'x64');
    mkdirSync(cached, { recursive: true });
    const ran = join(toolCache, 'ran');
    writeFileSync(join(cached, 'helm'), `#!/bin/sh\ntouch ${ran}\n[ "$1" = version ] && printf v3.19.0 && exit 0\nprintf '[]'\n`);
    chmodSync(join(cached, 'helm'), 0o755);
    writeFileSync(join(toolCache, 'helm', '3.19.0', 'x64.complete'), '');
    // A mirror serving this machine's Helm 3 under the pinned name: the pin must refuse it.
    const mirror = mkdtempSync(join(tmpdir(), 'slipway-review-mirror-'));
    mkdirSync(join(mirror, 'linux-amd64'));
    copyFileSync(join(binDir(), 'helm3'), join(mirror, 'linux-amd64', 'helm'));
    await exec('tar', ['-czf', join(mirror, 'archive.tar.gz'), '-C', mirror, 'linux-amd64'], { silent: true });
    const server = await listen((req, res) => {
      if (req.url !== '/helm-v3.19.0-linux-amd64.tar.gz') return res.writeHead(404).end();
      res.writeHead(200).end(readFileSync(join(mirror, 'archive.tar.gz')));
    });
    try {
      const run = await runAction('helm-deploy', { release: 'shop', chart: SHOP, 'dry-run': 'client', 'helm-version': 'v3.19.0', 'helm-mirror': server.url }, { ...RUN_ENV, PATH, RUNNER_TOOL_CACHE: toolCache });
      expect(existsSync(ran)).toBe(false);
      expect(run.exitCode).toBe(1);
      expect(visible(run.stdout)).toMatch(/::error::helm-v3\.19\.0-linux-amd64\.tar\.gz has SHA-256 [0-9a-f]{64}, but Slipway's pin of Helm v3\.19\.0 says/);
    } finally {
      await server.close();
    }
  });
});

describe('helm-deploy review: on the cluster', () => {
  let cluster: TestCluster;
  let ns: string;
  beforeAll(async () => {
    cluster = useCluster();
    ns = `helm-rev-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
  });
  const deploy = (inputs: Record<string, string>, env: Record<string, string> = {}) =>
    runAction('helm-deploy', { release: 'shop', namespace: ns, chart: SHOP, kubeconfig: cluster.kubeconfigContent, timeout: '30s', 'helm-test': 'false', ...inputs }, { ...RUN_ENV, PATH: cluster.env.PATH ?? '', ...env });
  const revisions = async (release: string) =>
    (JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'secrets', '-l', `owner=helm,name=${release}`, '-o', 'json'])) as { items: { metadata: { labels: Record<string, string> } }[] }).items
      .map((s) => `${s.metadata.labels.version}:${s.metadata.labels.status}`)
      .sort((a, b) => parseInt(a) - parseInt(b));

  it('keeps a rotated-out password out of the before side of the diff', async () => {
    const oldPassword = 'R0tatedOutPassw0rd';
    const first = await deploy({ release: 'rotate', values: `fromValues: postgres://shop:${oldPassword}@db.example.com/shop` });
    expect(first.exitCode, log(first)).toBe(0);
    const second = await deploy({ release: 'rotate', values: 'fromValues: postgres://shop:N3wRotatedPassw0rd@db.example.com/shop' });
    expect(second.exitCode, log(second)).toBe(0);
    const config = JSON.parse(await cluster.kubectl(['-n', ns, 'get', 'configmap', 'rotate-config', '-o', 'json'])) as { data: Record<string, string> };
    expect(config.data.fromValues).toBe('postgres://shop:N3wRotatedPassw0rd@db.example.com/shop');
    expectNoLeaks(second, [oldPassword, 'N3wRotatedPassw0rd', cluster.token]);
  }, 120_000);

  it('a rerun after a failed rollback never uninstalls the release, and a failed rollback is reported as such', async () => {
    // Revision 1's image is refused from now on (an admission policy), so a rollback to it fails as it
    // applies: Helm has then superseded the current revision and deployed none.
    const first = await deploy({ release: 'rerun', 'image-tag': 'refused-later' });
    expect(first.exitCode, log(first)).toBe(0);
    const policy = `slipway-review-${ns}`;
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: policy }, spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [{ apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] }] }, validations: [{ expression: "object.spec.template.spec.containers.all(c, !c.image.endsWith(':refused-later'))", message: 'image refused' }] } },
        { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: policy }, spec: { policyName: policy, validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } } } },
      ],
    }));
    try {
      // The policy applies once the API server has loaded it.
      const probe = JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'probe', namespace: ns }, spec: { selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'x:refused-later' }] } } } });
      await expect.poll(() => cluster.kubectl(['create', '--dry-run=server', '-f', '-'], probe).then(() => 'accepted', (e: Error) => e.message), { timeout: 30_000 }).toMatch(/image refused/);

      // Revision 2 deploys, its helm test fails, the rollback to revision 1 is refused: nothing is deployed.
      const failing = { release: 'rerun', 'image-tag': '1.0.1', 'helm-test': 'true', set: 'testOutcome=fail' };
      const second = await deploy(failing);
      expect(second.exitCode).toBe(1);
      expect(visible(second.stdout)).toMatch(/::error::helm test failed.*the rollback to revision 1 failed too, so the release is at revision 3 \(failed\)/);
      expect(second.outputs).toMatchObject({ revision: '3', status: 'failed', 'rolled-back': 'false' });
      expect(await revisions('rerun')).toEqual(['1:superseded', '2:superseded', '3:failed']);

      // The rerun of that job: the release exists (with no deployed revision), so it is never removed.
      const rerun = await deploy(failing, { GITHUB_RUN_ATTEMPT: '2' });
      expect(rerun.exitCode).toBe(1);
      expect(visible(rerun.stdout)).not.toMatch(/helm uninstall|first install/);
      expect(visible(rerun.stdout)).toMatch(/Release: rerun at revision 3 \(failed: no revision is deployed\)/);
      expect((await revisions('rerun')).length).toBeGreaterThanOrEqual(4);
      expect(await cluster.kubectl(['-n', ns, 'get', 'deployment', 'rerun', '-o', 'name'])).toContain('deployment.apps/rerun');
    } finally {
      await cluster.kubectl(['delete', 'validatingadmissionpolicybinding,validatingadmissionpolicy', policy, '--ignore-not-found']);
    }
  }, 240_000);
});
