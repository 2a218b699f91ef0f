// The reusable workflows run end to end by act (`-P ubuntu-latest=-self-hosted`), each through a caller
// workflow in a user's repository, against the real services: the backup lands verified in Azurite,
// traffic moves to green under load, a canary is promoted, a failing one is rolled back, and the
// webhook sink receives each notification.
import { cpSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { useCluster, type TestCluster } from '../cluster/use-cluster';
import { startGitHubApi, type GitHubApi } from '../fakes/github-api';
import { GITHUB_TOKEN, WEBHOOK_SECRET } from '../fakes/saas';
import { exec } from '../../packages/shared/src/exec';
import { startLoad } from '../helpers/load';
import { AZURITE_KEY, startAzurite, type Azurite } from '../services/azurite';
import { startPostgres, type Postgres } from '../services/postgres';
import { startReleaseStack, type ReleaseStack } from '../services/release-stack';
import { callerJob, callerSecrets, runAct, stageRelease, userRepository, type ActRun } from './act';

const ROOT = join(import.meta.dirname, '..', '..');

let stack: ReleaseStack;
let azurite: Azurite;
let pg: Postgres;
let release: string;
/** The notification's secrets, for the callers and for act. */
const notifySecrets = () => callerSecrets({ 'webhook-url': stack.sink.urls().webhook, 'webhook-secret': WEBHOOK_SECRET });

beforeAll(async () => {
  [stack, azurite, pg] = await Promise.all([startReleaseStack(), startAzurite(), startPostgres()]);
  pg.sql('create database shop');
  pg.sql('create table orders (id int primary key, item text); insert into orders select g, md5(g::text) from generate_series(1, 500) g;', 'shop');
  release = stageRelease();
}, 120_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), azurite?.stop(), pg?.stop()]);
});
beforeEach(async () => {
  await stack.reset();
});

const log = (run: ActRun) => `exit ${run.exitCode}\n${run.log}`;
/** The notifications the webhook sink accepted (signed with the secret, well-formed). */
const notifications = () => stack.sink.of('webhook').map((r) => {
  expect(r.problems).toEqual([]);
  expect(r.headers['x-slipway-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);
  return r.json as { status: string; title: string; fields: Record<string, string> };
});

describe('db-backup.yml', () => {
  it.each([
    { when: 'the weekly', schedule: '30 3 * * 0', verify: 'restore' },
    { when: 'a 6-hourly', schedule: '0 */6 * * *', verify: 'checksum' },
  ])('on $when schedule, backs up and verifies by $verify; the blob is in Azure with its checksum and verification', async ({ schedule, verify }) => {
    const repo = userRepository({
      '.github/workflows/backup.yml': `name: Database backup
on:
  schedule:
    - cron: "0 */6 * * *"
    - cron: "30 3 * * 0"
jobs:
  backup:
    permissions: { id-token: write, actions: read }
    uses: slipway-dev/slipway/.github/workflows/db-backup.yml@v1
    with:
      databases: shop
      container: db-backups-${verify}
      # Every 6 hours a checksum verification; on Sunday's run a full restore into a scratch database.
      verify: \${{ github.event.schedule == '30 3 * * 0' && 'restore' || 'checksum' }}
      notify-on: always
    secrets:
      database-uri: \${{ secrets.DATABASE_URI }}
      verify-uri: \${{ secrets.DATABASE_URI }}
      azure-connection-string: \${{ secrets.AZURE_STORAGE_CONNECTION_STRING }}
      webhook-url: \${{ secrets.WEBHOOK_URL }}
      webhook-secret: \${{ secrets.WEBHOOK_SECRET }}
`,
    });
    const run = await runAct({
      repo,
      release,
      event: 'schedule',
      payload: { schedule },
      secrets: { ...notifySecrets().values, DATABASE_URI: pg.uri('shop'), AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString },
    });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.log).toMatch(new RegExp(`Verifying postgres/shop/\\S+ \\(${verify}\\)`));
    // The connection string and the URI's password never reach act's log.
    expect(run.log).not.toContain(pg.password);
    expect(run.log).not.toContain(AZURITE_KEY);

    const blobs = await azurite.blobs(`db-backups-${verify}`);
    // The backup and its manifest beside it.
    const name = /backup-name=(\S+)/.exec(run.log)?.[1] ?? '';
    expect(name).toMatch(/^postgres\/shop\/\d{4}\/\d{2}\/\d{2}\/\d{8}T\d{6}Z-\d+-[0-9a-f]{8}\.dump\.gz$/);
    expect(blobs.map((b) => b.name).sort()).toEqual([name, `${name}.manifest.json`]);
    const blob = blobs.find((b) => b.name === name);
    expect(blob?.metadata?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(blob?.metadata?.verified_at).toMatch(/^\d{4}-\d{2}-\d{2}T/);

    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'success', title: 'Backup of shop verified', fields: { Backup: name, Verified: `${verify} (true)` } });
  }, 180_000);
});

describe('db-backup.yml, postgres-client', () => {
  it('refuses a postgres-client that is not a major version before installing or backing up anything', async () => {
    const repo = userRepository({ '.github/workflows/backup.yml': callerJob('db-backup.yml', { databases: 'shop', container: 'db-backups-client', 'postgres-client': '17; rm -rf ~', 'notify-on': 'always' }, { ...notifySecrets().mapping, 'database-uri': '${{ secrets.DATABASE_URI }}', 'azure-connection-string': '${{ secrets.AZURE_STORAGE_CONNECTION_STRING }}' }) });
    const run = await runAct({ repo, release, secrets: { ...notifySecrets().values, DATABASE_URI: pg.uri('shop'), AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString } });
    expect(run.exitCode).not.toBe(0);
    expect(run.log).toContain('postgres-client must be a PostgreSQL major version such as 17.');
    expect(run.log).not.toMatch(/apt-get install|Back up, verify and prune.*Success/);
    expect(await azurite.blobs('db-backups-client').catch(() => [])).toEqual([]);
    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'failure' });
  }, 180_000);
});

describe('blue-green-release.yml', () => {
  it('health-checks green, switches live traffic to it under load without a failed request, watches, and notifies', async () => {
    const repo = userRepository({
      '.github/workflows/release.yml': callerJob('blue-green-release.yml', {
        ...stack.blueGreenInputs,
        environment: 'production',
        target: 'green',
        'health-url': `${stack.green.url}/healthz`,
        'health-expect-body': 'ok',
        'health-interval': '200ms',
        'watch-url': stack.blueGreen.url,
        'watch-duration': '3s',
        'watch-interval': '500ms',
      }, notifySecrets().mapping),
    });
    const load = startLoad(stack.blueGreen.url, 50);
    const run = await runAct({ repo, release, secrets: notifySecrets().values });
    const samples = await load.stop();
    expect(run.exitCode, log(run)).toBe(0);
    expect(readFileSync(stack.blueGreen.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stack.blue.address} down;.*\\n\\s*server ${stack.green.address} weight=100;`));
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(samples[0]?.color).toBe('blue');
    expect(samples.at(-1)?.color).toBe('green');
    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'success', title: 'Blue-green release to production is live', fields: { Live: 'green', Previous: 'blue', 'Rolled back': 'false' } });
  }, 180_000);
});

describe('canary-release.yml', () => {
  const canaryInputs = () => ({ ...stack.canaryInputs, steps: '10,50,100', 'step-duration': '4s', interval: '1s', 'query-window': '3s', 'min-requests': '10', 'stable-health-url': `${stack.stable.url}/healthz`, 'verify-duration': '3s' });
  let cluster: TestCluster;
  let github: GitHubApi;
  let ns: string;
  beforeAll(async () => {
    github = await startGitHubApi(GITHUB_TOKEN);
  });
  afterAll(async () => {
    await github?.stop();
  });
  /** A fresh namespace on the local cluster, for the tests that deploy the chart. */
  const namespace = async () => {
    cluster = useCluster();
    ns = `canary-${randomBytes(3).toString('hex')}`;
    await cluster.kubectl(['create', 'namespace', ns]);
  };
  const helm = (args: string[]) => exec('helm', [...args, '--kubeconfig', cluster.kubeconfig, '--namespace', ns], { env: cluster.env, silent: true });
  const releases = async () => (JSON.parse((await helm(['list', '-o', 'json'])).stdout) as { name: string }[]).map((r) => r.name).sort();
  const image = (deployment: string) => cluster.kubectl(['-n', ns, 'get', 'deployment', deployment, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
  /** The user's repository with the demo chart, releasing `v2` as the canary of the stable release `shop`. */
  const chartRelease = (inputs: Record<string, string> = {}) => {
    const kubeconfig = callerSecrets({ kubeconfig: cluster.kubeconfigContent });
    const repo = userRepository({ '.github/workflows/release.yml': callerJob('canary-release.yml', { ...canaryInputs(), chart: 'chart', release: 'shop-canary', 'stable-release': 'shop', namespace: ns, 'image-repository': 'registry.example/acme/shop', 'image-tag': 'v2', ...inputs }, { ...notifySecrets().mapping, ...kubeconfig.mapping }) });
    cpSync(join(ROOT, 'examples', 'demo-app', 'chart'), join(repo, 'chart'), { recursive: true });
    return { repo, secrets: { ...notifySecrets().values, ...kubeconfig.values } };
  };

  it('promotes a healthy canary step by step, upgrades stable to it, gives stable all traffic back and removes the canary', async () => {
    await namespace();
    // Stable as the last release left it: v1.
    await helm(['install', 'shop', join(ROOT, 'examples', 'demo-app', 'chart'), '--set', 'image.repository=registry.example/acme/shop', '--set', 'image.tag=v1']);
    const { repo, secrets } = chartRelease();
    const load = startLoad(stack.canaryRouter.url, 100);
    const run = await runAct({ repo, release, secrets });
    const samples = await load.stop();
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.log).toMatch(/Step: the canary gets 100 %/);
    // Stable runs the new image and serves everything; the canary release is gone.
    expect(await image('shop')).toBe('registry.example/acme/shop:v2');
    expect(await releases()).toEqual(['shop']);
    expect(readFileSync(stack.canaryRouter.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stack.stable.address} weight=100;.*\\n\\s*server ${stack.canary.address} down;`));
    expect(run.log).toContain('the canary release shop-canary was uninstalled');
    expect(run.log).toMatch(/helm test: passed/);
    expect(run.log).not.toContain(cluster.token);
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(samples.some((s) => s.color === 'canary')).toBe(true);
    expect(samples.at(-1)?.color).toBe('stable');
    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'success', title: 'Canary in production promoted', fields: { Verdict: 'promote', 'Final weight': '0 %', 'Stable verified': 'true' } });
  }, 300_000);

  it('when stable cannot be upgraded, leaves the canary serving everything and installed, and says the release did not finish', async () => {
    await namespace();
    // Something not Helm's already holds stable's name: its first install fails and is removed.
    await cluster.kubectl(['-n', ns, 'create', 'deployment', 'shop', '--image=registry.example/other:1']);
    const { repo, secrets } = chartRelease();
    const load = startLoad(stack.canaryRouter.url, 100);
    const run = await runAct({ repo, release, secrets });
    await load.stop();
    expect(run.exitCode).not.toBe(0);
    expect(run.log).toMatch(/helm upgrade of shop failed; the failed first install was removed/);
    expect(await releases()).toEqual(['shop-canary']);
    expect(await image('shop')).toBe('registry.example/other:1');
    expect(readFileSync(stack.canaryRouter.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stack.canary.address} weight=100;`));
    expect(run.log).not.toMatch(/Finish the release/);
    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'failure', title: 'Canary in production promoted, but the release did not finish', fields: { Verdict: 'promote', 'Final weight': '100 %', 'Stable verified': 'not checked' } });
  }, 300_000);

  it('rolls a failing canary back to 0 %, verifies stable, opens one incident issue, fails the run and notifies', async () => {
    const before = readFileSync(stack.canaryRouter.upstreamFile, 'utf8');
    await stack.canary.fail(0.3);
    const token = callerSecrets({ 'incident-token': GITHUB_TOKEN });
    const repo = userRepository({ '.github/workflows/release.yml': callerJob('canary-release.yml', canaryInputs(), { ...notifySecrets().mapping, ...token.mapping }) });
    const opened = github.issues.length;
    const load = startLoad(stack.canaryRouter.url, 100);
    const run = await runAct({ repo, release, secrets: { ...notifySecrets().values, ...token.values }, jobEnv: { GITHUB_API_URL: github.url } });
    await load.stop();
    expect(run.exitCode, log(run)).not.toBe(0);
    expect(run.log).toMatch(/canary rollback \(failure\): error-rate/);
    expect(run.log).toMatch(/final-weight=0/);
    // Routing is exactly as it was before the release, and stable was verified serving it.
    expect(readFileSync(stack.canaryRouter.upstreamFile, 'utf8')).toBe(before);
    expect(run.log).toMatch(/stable-verified=true/);
    // Exactly one incident issue, accepted by the OpenAPI-checked stand-in.
    expect(github.issues).toHaveLength(opened + 1);
    expect(github.requests.filter((r) => r.problems.length)).toEqual([]);
    const issue = github.issues.at(-1);
    expect(issue?.title).toMatch(/^Canary rollback in .+: error-rate: error rate/);
    expect(issue?.body).toMatch(/\| `error-rate` \| [\d.]+ \| [\d.]+ \| `failure` \|/);
    expect(issue?.body).toContain('Stable after the rollback: verified');
    expect(issue?.body).toMatch(/Run: https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+/);
    expect(run.log).not.toContain(GITHUB_TOKEN);
    const [sent] = notifications();
    expect(sent).toMatchObject({ status: 'failure', title: 'Canary in production rolled back', fields: { Verdict: 'rollback', Outcome: 'failure', 'Final weight': '0 %', 'Stable verified': 'true', Incident: issue?.html_url } });
  }, 300_000);
});
