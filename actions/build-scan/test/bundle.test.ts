// build-scan as the runner runs it: a real buildah build pushed to a real registry (Debian's
// docker-registry, behind basic auth), scanned by a real Trivy (built from the Go module proxy and
// installed through the tool cache from a loopback mirror), SARIF uploaded to the GitHub stand-in.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startGitHubApi, type GitHubApi } from '../../../test/fakes/github-api';
import { runAction, visible, type ActionRun } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { sarifValidator } from '../../../test/helpers/sarif-schema';
import { buildahEnv, startRegistry, type Registry } from '../../../test/services/registry';
import { startTrivyMirror, TRIVY_ASSET, type TrivyMirror } from '../../../test/services/trivy-mirror';

const TOKEN = 'ghs_buildscantest000000000000000000000';
let registry: Registry;
let buildah: ReturnType<typeof buildahEnv>;
let mirror: TrivyMirror;
let github: GitHubApi;
let work: string;
let archiveSha = '';
const fakeAwsKey = `AKIA${randomBytes(16).toString('hex').toUpperCase().replace(/[^A-Z2-7]/g, 'Q').slice(0, 16)}`;
const buildSecret = `npm-${randomBytes(12).toString('hex')}`;

const log = (r: ActionRun) => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;
const OCI_MANIFESTS = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';

interface Sarif {
  runs: { properties: { image: string; digest?: string }; results: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[] }[] }[];
}
const readSarif = (r: ActionRun) => JSON.parse(readFileSync(r.outputs['sarif-file']!, 'utf8')) as Sarif;
/** The digest of the local OCI layout the run built and scanned, from its log. */
const scannedDigest = (r: ActionRun) => /^Built: buildah[^:]*: (sha256:[0-9a-f]{64}), cache \w+; pushed only if the scan passes$/m.exec(r.stdout)?.[1];
/** The digest the registry serves for a reference (tag or digest), from its Docker-Content-Digest; undefined when it has none. */
async function registryDigest(repository: string, reference: string): Promise<string | undefined> {
  const response = await registry.get(`/v2/${repository}/manifests/${reference}`, OCI_MANIFESTS);
  return response.ok ? (response.headers.get('docker-content-digest') ?? undefined) : undefined;
}

beforeAll(async () => {
  [registry, github, mirror] = await Promise.all([startRegistry(), startGitHubApi(TOKEN), startTrivyMirror()]);
  archiveSha = mirror.archiveSha;
  buildah = buildahEnv();
  work = mkdtempSync(join(tmpdir(), 'slipway-build-scan-test-'));
  // The build context: a scratch image with an app file and a planted (fake) cloud key.
  const context = join(work, 'context');
  mkdirSync(join(context, 'config'), { recursive: true });
  writeFileSync(join(context, 'Containerfile'), 'FROM scratch\nARG VERSION=dev\nLABEL com.example.version=$VERSION\nCOPY app.txt /app/app.txt\nCOPY config/ /app/config/\n');
  writeFileSync(join(context, 'app.txt'), 'hello\n');
  writeFileSync(join(context, 'config', 'deploy.env'), `REGION=eu-west-1\nAWS_ACCESS_KEY_ID=${fakeAwsKey}\n`);
  // The same image without the key: it passes the gate.
  const clean = join(work, 'clean');
  mkdirSync(join(clean, 'config'), { recursive: true });
  writeFileSync(join(clean, 'Containerfile'), 'FROM scratch\nCOPY app.txt /app/app.txt\nCOPY config/ /app/config/\n');
  writeFileSync(join(clean, 'app.txt'), 'hello\n');
  writeFileSync(join(clean, 'config', 'deploy.env'), 'REGION=eu-west-1\n');
  writeFileSync(join(work, 'event.json'), JSON.stringify({ repository: { default_branch: 'main' } }));
}, 180_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), github?.stop(), mirror?.stop()]);
  buildah?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

const toolCache = () => mkdtempSync(join(tmpdir(), 'slipway-toolcache-'));

function buildScan(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionRun> {
  return runAction('build-scan', {
    context: join(work, 'context'),
    file: join(work, 'context', 'Containerfile'),
    builder: 'buildah',
    push: 'true',
    username: registry.username,
    password: registry.password,
    'scanner-mirror': mirror.url,
    scanners: 'secret',
    'github-token': TOKEN,
    ...inputs,
  }, { ...runEnv('7001'), ...buildah.env, GITHUB_EVENT_PATH: join(work, 'event.json'), GITHUB_API_URL: github.url, ...env });
}

describe('build-scan bundle', () => {
  it('scan-before-push false: builds with buildah, pushes every computed tag with OCI labels, then scans the pushed image with a verified Trivy, fails the gate on a planted key, and uploads SARIF', async () => {
    const cache = toolCache();
    const inputs = {
      image: `${registry.host}/acme/shop`,
      tags: 'type=ref,event=branch\ntype=sha\ntype=raw,value=edge',
      'build-args': 'VERSION=1.4.0',
      secrets: `npm_token=${buildSecret}`,
      labels: 'org.opencontainers.image.vendor=Acme',
      sbom: 'true',
      'scan-before-push': 'false',
    };
    // The mirror's archive is not the published Trivy 0.69.3: Slipway's pin refuses it, whatever the mirror's checksums say.
    const refused = await buildScan(inputs, { RUNNER_TOOL_CACHE: cache });
    expect(refused.exitCode, log(refused)).toBe(1);
    expect(refused.stdout).toMatch(new RegExp(`::error::${TRIVY_ASSET.replace(/\./g, '\\.')} has SHA-256 ${archiveSha}, but Slipway's pin of trivy 0\\.69\\.3 says 1816b632`));

    const run = await buildScan({ ...inputs, 'scanner-checksum': archiveSha }, { RUNNER_TOOL_CACHE: cache });
    // The planted key is CRITICAL: the gate fails the step, after everything was pushed and reported.
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.stdout).toMatch(/::error::the image has 1 finding\(s\) at CRITICAL or HIGH: aws-access-key-id$/m);
    expect(run.stdout).toMatch(/^Pushed: buildah: sha256:/m);
    expect(run.stdout).toMatch(/trivy 0\.69\.3 installed \(SHA-256 [0-9a-f]{64} verified against the scanner-checksum input\)/);
    expect(visible(`${run.stdout}\n${run.stderr}`)).not.toContain(registry.password);
    expect(visible(`${run.stdout}\n${run.stderr}`)).not.toContain(buildSecret);
    expect(visible(`${run.stdout}\n${run.stderr}`)).not.toContain(fakeAwsKey);

    expect(run.outputs.image).toBe(`${registry.host}/acme/shop`);
    expect(run.outputs.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.outputs.tags!.split('\n')).toEqual(['main', 'sha-c0ffee0', 'edge', 'latest'].map((t) => `${registry.host}/acme/shop:${t}`));
    expect(run.outputs.gate).toBe('failed');
    expect(JSON.parse(run.outputs.vulnerabilities!)).toEqual({ CRITICAL: 1, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });

    // What the registry holds: every tag, one digest, the OCI labels, the build argument's label and the user's label.
    expect(await registry.tags('acme/shop')).toEqual(['edge', 'latest', 'main', 'sha-c0ffee0']);
    const byDigest = await registry.get(`/v2/acme/shop/manifests/latest`, 'application/vnd.oci.image.manifest.v1+json');
    expect(byDigest.headers.get('docker-content-digest')).toBe(run.outputs.digest);
    const labels = await registry.labels('acme/shop', 'edge');
    expect(labels).toMatchObject({
      'org.opencontainers.image.source': 'https://github.com/acme/shop',
      'org.opencontainers.image.revision': 'c0ffee0123456789abcdef0123456789abcdef01',
      'org.opencontainers.image.version': 'main',
      'org.opencontainers.image.title': 'shop',
      'org.opencontainers.image.vendor': 'Acme',
      'com.example.version': '1.4.0',
    });
    expect(labels['org.opencontainers.image.created']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(run.outputs.labels).toContain('org.opencontainers.image.revision=c0ffee0123456789abcdef0123456789abcdef01');

    // SARIF: valid 2.1.0, the secret with its file and line, and the same log uploaded to code scanning.
    const sarif = readSarif(run);
    expect(sarifValidator()(sarif), JSON.stringify(sarifValidator().errors)).toBe(true);
    // The pushed image was scanned: the SARIF names its digest.
    expect(sarif.runs[0]?.properties).toEqual({ image: `${registry.host}/acme/shop@${run.outputs.digest}`, digest: run.outputs.digest });
    expect(sarif.runs[0]?.results).toMatchObject([{ ruleId: 'aws-access-key-id', locations: [{ physicalLocation: { artifactLocation: { uri: 'app/config/deploy.env' }, region: { startLine: 2 } } }] }]);
    expect(run.outputs['sarif-id']).toMatch(/^sarif-\d+$/);
    expect(github.sarifs.get(run.outputs['sarif-id']!)).toEqual(sarif);
    const upload = github.requests.find((r) => r.operationId === 'code-scanning/upload-sarif');
    expect(upload).toMatchObject({ problems: [], body: { commit_sha: 'c0ffee0123456789abcdef0123456789abcdef01', ref: 'refs/heads/main', tool_name: 'trivy' } });

    // The SBOM is CycloneDX, of this image.
    const sbom = JSON.parse(readFileSync(run.outputs['sbom-file']!, 'utf8')) as { bomFormat: string; metadata: { component: { name: string } } };
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.metadata.component.name).toContain(`${registry.host}/acme/shop@${run.outputs.digest}`);

    expect(run.summary).toContain('build-scan: ' + `${registry.host}/acme/shop`);
    expect(run.summary).toMatch(/<td>CRITICAL<\/td><td>aws-access-key-id<\/td>.*<td>fails<\/td>/s);
    expect(run.summary).toContain(`upload ${run.outputs['sarif-id']}: complete`);

    // An accepted finding, in the ignore file: the gate passes, and the next job finds Trivy in the tool cache.
    const ignore = join(work, 'ignore');
    writeFileSync(ignore, '# rotated; the image is rebuilt next week\naws-access-key-id exp:2999-01-01\n');
    const accepted = await buildScan({ ...inputs, 'scanner-checksum': archiveSha, 'ignore-file': ignore, 'upload-sarif': 'false', 'scan-before-push': 'false' }, { RUNNER_TOOL_CACHE: cache });
    expect(accepted.exitCode, log(accepted)).toBe(0);
    expect(accepted.stdout).toContain('trivy 0.69.3 from the tool cache');
    expect(accepted.outputs).toMatchObject({ gate: 'passed', 'sarif-id': '' });
    // A rebuild is a new image (its `created` label moved on), and every tag moves to it.
    expect((await registry.get('/v2/acme/shop/manifests/edge', 'application/vnd.oci.image.manifest.v1+json')).headers.get('docker-content-digest')).toBe(accepted.outputs.digest);
    expect(accepted.summary).toContain('Ignored by the ignore file: aws-access-key-id');
  });

  it('scans before it pushes: a failing gate pushes nothing, no tag and no manifest', async () => {
    const run = await buildScan({ image: `${registry.host}/acme/blocked`, tags: 'type=raw,value=v1', 'scanner-checksum': archiveSha }, { RUNNER_TOOL_CACHE: toolCache() });
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.stdout).toMatch(/::error::the image has 1 finding\(s\) at CRITICAL or HIGH: aws-access-key-id; nothing was pushed$/m);
    expect(run.outputs).toMatchObject({ digest: '', gate: 'failed' });
    // What was scanned is named by its digest, and the registry has neither it nor any tag.
    const scanned = scannedDigest(run);
    expect(scanned, run.stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readSarif(run).runs[0]?.properties).toEqual({ image: `${registry.host}/acme/blocked@${scanned}`, digest: scanned });
    expect((await registry.get('/v2/acme/blocked/tags/list')).status).toBe(404);
    expect((await registry.get(`/v2/acme/blocked/manifests/${scanned}`, OCI_MANIFESTS)).status).toBe(404);
    expect((await registry.get('/v2/acme/blocked/manifests/v1', OCI_MANIFESTS)).status).toBe(404);
    expect(run.summary).toContain('— (not pushed)');
  });

  it('scans before it pushes: a passing gate pushes every tag as the very digest that was scanned', async () => {
    const run = await buildScan({ context: join(work, 'clean'), file: join(work, 'clean', 'Containerfile'), image: `${registry.host}/acme/passed`, tags: 'type=raw,value=v1\ntype=sha', 'scanner-checksum': archiveSha }, { RUNNER_TOOL_CACHE: toolCache() });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs.gate).toBe('passed');
    const scanned = scannedDigest(run);
    expect(scanned, run.stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Scanned digest == `digest` output == the digest the SARIF names == what the registry serves for every tag.
    expect(run.outputs.digest).toBe(scanned);
    expect(readSarif(run).runs[0]?.properties).toEqual({ image: `${registry.host}/acme/passed@${scanned}`, digest: scanned });
    expect(await registry.tags('acme/passed')).toEqual(['latest', 'sha-c0ffee0', 'v1']);
    for (const tag of ['v1', 'sha-c0ffee0', 'latest']) expect(await registryDigest('acme/passed', tag)).toBe(scanned);
    // And the image Trivy read is the one the pushed manifest points to: the same config, so the same layers.
    const report = JSON.parse(readFileSync(join(dirname(run.outputs['sarif-file']!), 'trivy-report.json'), 'utf8')) as { Metadata: { ImageID: string } };
    const manifest = (await (await registry.get(`/v2/acme/passed/manifests/${scanned}`, OCI_MANIFESTS)).json()) as { config: { digest: string } };
    expect(report.Metadata.ImageID).toBe(manifest.config.digest);
    expect(run.stdout).toMatch(new RegExp(`^Pushed: 3 tag\\(s\\) as ${scanned}, the digest scanned$`, 'm'));
    expect(run.summary).toContain('built, scanned, then pushed');
  });

  it('scans before it pushes several platforms: the registry holds the local index, by its digest', async () => {
    const run = await buildScan({ context: join(work, 'clean'), file: join(work, 'clean', 'Containerfile'), image: `${registry.host}/acme/multi`, platforms: 'linux/amd64,linux/arm64', tags: 'type=raw,value=v1', 'scanner-checksum': archiveSha, 'upload-sarif': 'false' }, { RUNNER_TOOL_CACHE: toolCache() });
    expect(run.exitCode, log(run)).toBe(0);
    const scanned = scannedDigest(run);
    expect(scanned, run.stdout).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(run.outputs.digest).toBe(scanned);
    expect(readSarif(run).runs[0]?.properties.digest).toBe(scanned);
    const index = await registry.get('/v2/acme/multi/manifests/v1', OCI_MANIFESTS);
    expect(index.headers.get('content-type')).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.headers.get('docker-content-digest')).toBe(scanned);
    const platforms = ((await index.json()) as { manifests: { platform: { architecture: string } }[] }).manifests.map((m) => m.platform.architecture);
    expect(platforms.sort()).toEqual(['amd64', 'arm64']);
  });

  it('builds without pushing into an OCI layout that Trivy scans, logging in nowhere', async () => {
    const run = await buildScan({ image: `${registry.host}/acme/local-only`, push: 'false', tags: 'type=raw,value=ci', 'fail-on': 'none', 'scanner-checksum': archiveSha, 'upload-sarif': 'false' }, { RUNNER_TOOL_CACHE: toolCache() });
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ digest: '', gate: 'passed', tags: `${registry.host}/acme/local-only:ci\n${registry.host}/acme/local-only:latest` });
    expect(JSON.parse(run.outputs.vulnerabilities!)).toMatchObject({ CRITICAL: 1 });
    expect(run.stdout).not.toContain('Login:');
    expect((await registry.get('/v2/acme/local-only/tags/list')).status).toBe(404);
  });

  it('builds the same image again from the same source with SOURCE_DATE_EPOCH: a rerun pushes the same digest', async () => {
    const inputs = { image: `${registry.host}/acme/reproducible`, tags: 'type=sha', scan: 'false', 'upload-sarif': 'false' };
    const first = await buildScan(inputs, { SOURCE_DATE_EPOCH: '1700000000' });
    expect(first.exitCode, log(first)).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const again = await buildScan(inputs, { SOURCE_DATE_EPOCH: '1700000000' });
    expect(again.exitCode, log(again)).toBe(0);
    expect(again.outputs.digest).toBe(first.outputs.digest);
    expect(await registry.labels('acme/reproducible', 'sha-c0ffee0')).toMatchObject({ 'org.opencontainers.image.created': '2023-11-14T22:13:20.000Z' });
  });

  it('refuses bad inputs before building, naming the input and the expected form', async () => {
    const image = `${registry.host}/acme/refused`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ tags: 'type=semver,pattern=v1' }, /Input 'tags' is invalid: got "type=semver,pattern=v1"; expected a `pattern` with \{\{version\}\}/],
      [{ 'fail-on': 'CRITICAL,SEVERE' }, /Input 'fail-on' is invalid: got "CRITICAL,SEVERE"; expected severities from CRITICAL, HIGH/],
      [{ platforms: 'linux/amd64,arm64' }, /Input 'platforms' is invalid: got "linux\/amd64,arm64"; expected platforms such as `linux\/amd64,linux\/arm64\/v8`/],
      [{ 'scanner-version': '0.69.4' }, /Input 'scanner-version' is invalid: got "0\.69\.4"; expected any version but this one, which is a malicious release \(CVE-2026-33634\)/],
      [{ image: `${image}:1.0` }, /Input 'image' is invalid: got ".*\/acme\/refused:1\.0"; expected an image name without tag or digest/],
      [{ secrets: `=${buildSecret}` }, /Input 'secrets' is invalid: got an empty value; expected `id=value` lines/],
      [{ scanner: 'grype', scanners: 'vuln,secret' }, /Input 'scanners' is invalid: got "vuln,secret"; expected `vuln` for grype/],
      [{ cache: 'gha' }, /Input 'cache' is invalid: got "gha"; expected `registry` or `none` with builder buildah/],
      [{ 'scan-before-push': 'yes; curl evil' }, /Input 'scan-before-push' is invalid: got "yes; curl evil"; expected `true` or `false`/],
    ];
    for (const [inputs, message] of cases) {
      const run = await buildScan({ image, ...inputs });
      expect(run.exitCode, log(run)).toBe(1);
      expect(run.stdout).toMatch(message);
      expect(visible(`${run.stdout}\n${run.stderr}`)).not.toContain(buildSecret);
    }
    expect((await registry.get('/v2/acme/refused/tags/list')).status).toBe(404);
  });
});

describe('build-scan composite action', () => {
  /** The action.yml's steps, with the inputs the runner would fill in from their defaults. */
  const action = parse(readFileSync(join(import.meta.dirname, '..', 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }>; outputs: Record<string, { value: string }>; runs: { steps: { id?: string; if?: string; uses?: string; env?: Record<string, string>; with?: Record<string, string> }[] } };

  it('pins every action it uses by commit, and sets up Buildx and QEMU only for the docker builder', () => {
    for (const step of action.runs.steps) expect(step.uses).toMatch(/^[\w-]+\/[\w-]+@[0-9a-f]{40}$/);
    expect(action.runs.steps.map((s) => s.if ?? '')).toEqual(["inputs.builder != 'buildah' && inputs.platforms != ''", "inputs.builder != 'buildah'", '']);
  });

  it('runs the bundle from its script as actions/github-script does, with every input handed over', async () => {
    const step = action.runs.steps.find((s) => s.id === 'build-scan')!;
    expect(step.env).toEqual({ SLIPWAY_INPUTS: '${{ toJSON(inputs) }}', SLIPWAY_ACTION_PATH: '${{ github.action_path }}' });
    for (const [name, output] of Object.entries(action.outputs)) expect(output.value).toBe(`\${{ steps.build-scan.outputs.${name} }}`);
    // The runner's `inputs` context: every input, its default where the caller gave none.
    const given: Record<string, string> = { context: join(work, 'context'), image: `${registry.host}/acme/composite`, builder: 'buildah', push: 'true', username: registry.username, password: registry.password, tags: 'type=raw,value=v1', scan: 'false', 'upload-sarif': 'false' };
    const inputs = Object.fromEntries(Object.entries(action.inputs).map(([name, spec]) => [name, given[name] ?? (spec.default === '${{ github.token }}' ? TOKEN : (spec.default ?? ''))]));
    const dir = mkdtempSync(join(tmpdir(), 'slipway-composite-'));
    const output = join(dir, 'output');
    writeFileSync(output, '');
    // github-script's own wrapper: the script is the body of an async function given `require`.
    const host = "import { createRequire } from 'node:module'; const AsyncFunction = (async () => {}).constructor; await new AsyncFunction('require', process.env.SCRIPT)(createRequire(process.cwd() + '/'));";
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', host], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: dir, RUNNER_TEMP: dir, GITHUB_OUTPUT: output, SCRIPT: step.with?.script, SLIPWAY_INPUTS: JSON.stringify(inputs), SLIPWAY_ACTION_PATH: join(import.meta.dirname, '..'), ...runEnv('7002'), ...buildah.env },
    });
    expect(child.status, `${child.stdout}\n${child.stderr}`).toBe(0);
    const outputs = readFileSync(output, 'utf8');
    expect(outputs).toMatch(/^digest<<.*\nsha256:[0-9a-f]{64}\n/m);
    expect(await registry.tags('acme/composite')).toEqual(['v1']);
  });
});
