// ci-cd.yml end to end with act, all seven stages against real services: the image built with buildah,
// scanned by Trivy and pushed to a registry; the database backed up to Azurite; the chart deployed to
// staging and production on the local Kubernetes control plane with helm test; live traffic switched
// to green through nginx under load; the live URL validated; one notification to the webhook sink.
import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { useCluster, type TestCluster } from '../cluster/use-cluster';
import { WEBHOOK_SECRET } from '../fakes/saas';
import { startLoad, type LoadSample } from '../helpers/load';
import { startAzurite, type Azurite } from '../services/azurite';
import { startPostgres, type Postgres } from '../services/postgres';
import { buildahEnv, startRegistry, type Registry } from '../services/registry';
import { startReleaseStack, type ReleaseStack } from '../services/release-stack';
import { startTrivyMirror, type TrivyMirror } from '../services/trivy-mirror';
import { BUILD_SCAN_STAND_INS, callerSecrets, runAct, SLIPWAY, stageRelease, userRepository, VERSION, type ActRun } from './act';

const ROOT = join(import.meta.dirname, '..', '..');
let stack: ReleaseStack;
let azurite: Azurite;
let pg: Postgres;
let registry: Registry;
let mirror: TrivyMirror;
let buildah: ReturnType<typeof buildahEnv>;
let cluster: TestCluster;
let release: string;
const suffix = randomBytes(3).toString('hex');
const staging = `staging-${suffix}`;
const production = `production-${suffix}`;

beforeAll(async () => {
  cluster = useCluster();
  [stack, azurite, pg, registry, mirror] = await Promise.all([startReleaseStack(), startAzurite(), startPostgres(), startRegistry(), startTrivyMirror()]);
  buildah = buildahEnv();
  pg.sql('create database shop');
  pg.sql('create table orders (id int primary key, item text); insert into orders select g, md5(g::text) from generate_series(1, 200) g;', 'shop');
  await cluster.kubectl(['create', 'namespace', production]);
  release = stageRelease();
}, 180_000);
afterAll(async () => {
  await Promise.all([stack?.stop(), azurite?.stop(), pg?.stop(), registry?.stop(), mirror?.stop()]);
  buildah?.remove();
});

beforeEach(async () => {
  await stack.reset();
});

const log = (run: ActRun) => `exit ${run.exitCode}\n${run.log}`;
const image = (ns: string, deployment: string) => cluster.kubectl(['-n', ns, 'get', 'deployment', deployment, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);

/** The user's repository with its caller of ci-cd.yml, run by act on a push to main. */
async function pipeline(inputs: Record<string, string | boolean>): Promise<{ run: ActRun; head: string; tag: string; samples: LoadSample[] }> {
  const secrets = callerSecrets({
    'registry-password': registry.password,
    'database-uri': pg.uri('shop'),
    'azure-connection-string': azurite.connectionString,
    'staging-kubeconfig': cluster.kubeconfigContent,
    'production-kubeconfig': cluster.kubeconfigContent,
    'webhook-url': stack.sink.urls().webhook,
    'webhook-secret': WEBHOOK_SECRET,
  });
  const repo = userRepository({
    // No base image can be pulled here, so the demo service's image is built from scratch.
    Containerfile: 'FROM scratch\nCOPY server.mjs /app/server.mjs\n',
    'server.mjs': readFileSync(join(ROOT, 'examples', 'demo-app', 'server.mjs'), 'utf8'),
    '.github/workflows/release.yml': stringify({
      name: 'Release',
      on: { push: { branches: ['main'] } },
      jobs: {
        release: {
          uses: `${SLIPWAY}/.github/workflows/ci-cd.yml@${VERSION}`,
          with: {
            'validate-command': 'node --check server.mjs && helm lint chart',
            image: `${registry.host}/acme/shop`,
            tags: 'type=sha',
            builder: 'buildah',
            'registry-username': registry.username,
            scanners: 'secret',
            'scanner-mirror': mirror.url,
            'scanner-checksum': mirror.archiveSha,
            'upload-sarif': false,
            'backup-container': 'ci-backups',
            chart: 'chart',
            release: 'shop',
            'staging-namespace': staging,
            namespace: production,
            ...inputs,
          },
          secrets: secrets.mapping,
        },
      },
    }),
  });
  cpSync(join(ROOT, 'examples', 'demo-app', 'chart'), join(repo, 'chart'), { recursive: true });
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout.trim();
  const live = inputs.strategy === 'canary' ? stack.canaryRouter.url : stack.blueGreen.url;
  const load = startLoad(live, inputs.strategy === 'canary' ? 100 : 20);
  const run = await runAct({
    repo,
    release,
    event: 'push',
    payload: { ref: 'refs/heads/main', repository: { default_branch: 'main' } },
    secrets: secrets.values,
    env: buildah.env,
    localRepositories: BUILD_SCAN_STAND_INS,
  });
  return { run, head, tag: `sha-${head.slice(0, 7)}`, samples: await load.stop() };
}

/** The backups in the pipeline's container, newest last. */
async function backups() {
  return (await azurite.blobs('ci-backups')).filter((b) => b.name.endsWith('.dump.gz')).sort((a, b) => a.name.localeCompare(b.name));
}

describe('ci-cd.yml', () => {
  it('runs all seven stages: build, scan and push, backup, staging with helm test, blue-green production under load, validation, one notification', async () => {
    const { run, head, tag, samples } = await pipeline({
      strategy: 'blue-green',
      'production-url': stack.blueGreen.url,
      ...stack.blueGreenInputs,
      'health-url': `${stack.green.url}/healthz`,
      'watch-duration': '5s',
    });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.log).not.toContain(registry.password);
    expect(run.log).not.toContain(cluster.token);

    // 2. The image, tagged from the commit, with its revision label, in the registry.
    expect(await registry.tags('acme/shop')).toContain(tag);
    expect((await registry.labels('acme/shop', tag))['org.opencontainers.image.revision']).toBe(head);
    // 3. The verified backup.
    const backup = (await backups()).at(-1);
    expect(backup?.metadata?.verified_at).toMatch(/^\d{4}-/);
    // 4. Staging runs the new image, after helm test passed.
    expect(await image(staging, 'shop')).toBe(`${registry.host}/acme/shop:${tag}`);
    expect(run.log).toMatch(/helm test: passed/);
    // 5. Production: the idle colour (green) deployed with it, and live traffic switched to green without a failed request.
    expect(await image(production, 'shop-green')).toBe(`${registry.host}/acme/shop:${tag}`);
    expect(readFileSync(stack.blueGreen.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stack.green.address} weight=100;`));
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    expect(samples.at(-1)?.color).toBe('green');
    // 6. The live URL validated.
    expect(run.log).toContain(`${stack.blueGreen.url} answered 20 of 20 requests.`);
    // 7. One notification, for the whole pipeline.
    const sent = stack.sink.of('webhook');
    expect(sent.map((r) => r.problems)).toEqual([[]]);
    expect(sent[0]?.json).toMatchObject({
      status: 'success',
      title: `Release of ${tag} is live`,
      fields: { Strategy: 'blue-green', Image: `${registry.host}/acme/shop:${tag}`, Backup: backup?.name, Production: 'green' },
    });
  }, 600_000);

  it('with strategy: canary, deploys <release>-canary, promotes it step by step on Prometheus, then upgrades <release> to it and removes the canary', async () => {
    const { run, tag, samples } = await pipeline({
      strategy: 'canary',
      'production-url': stack.canaryRouter.url,
      ...stack.canaryInputs,
      'canary-steps': '50,100',
      'canary-step-duration': '4s',
      'canary-interval': '1s',
      'canary-query-window': '3s',
      'canary-min-requests': '10',
      'canary-stable-health-url': `${stack.stable.url}/healthz`,
      'canary-verify-duration': '3s',
    });
    expect(run.exitCode, log(run)).toBe(0);
    // The release finished: stable (`shop`) upgraded to the new image and serving everything, the canary gone.
    expect(await image(production, 'shop')).toBe(`${registry.host}/acme/shop:${tag}`);
    expect(run.log).toContain('the canary release shop-canary was uninstalled');
    await expect(cluster.kubectl(['-n', production, 'get', 'deployment', 'shop-canary'])).rejects.toThrow(/not found/);
    expect(readFileSync(stack.canaryRouter.upstreamFile, 'utf8')).toMatch(new RegExp(`server ${stack.stable.address} weight=100;`));
    expect(samples.filter((s) => s.error || s.status !== 200)).toEqual([]);
    const sent = stack.sink.of('webhook');
    expect(sent.map((r) => r.problems)).toEqual([[]]);
    expect(sent[0]?.json).toMatchObject({ status: 'success', fields: { Strategy: 'canary', Production: 'promote' } });
  }, 600_000);

  it('refuses an unknown strategy in its first stage, releases nothing, and notifies the failure', async () => {
    const before = readFileSync(stack.blueGreen.upstreamFile, 'utf8');
    const tags = await registry.tags('acme/shop').catch(() => []);
    const { run } = await pipeline({ strategy: 'rainbow', ...stack.blueGreenInputs, 'health-url': `${stack.green.url}/healthz` });
    expect(run.exitCode).not.toBe(0);
    expect(run.log).toContain("strategy is 'rainbow'; it must be 'blue-green' or 'canary'.");
    expect(await registry.tags('acme/shop').catch(() => [])).toEqual(tags);
    expect(readFileSync(stack.blueGreen.upstreamFile, 'utf8')).toBe(before);
    const sent = stack.sink.of('webhook');
    expect(sent.map((r) => r.problems)).toEqual([[]]);
    expect(sent[0]?.json).toMatchObject({ status: 'failure', fields: { Production: 'not released' } });
  }, 600_000);
});
