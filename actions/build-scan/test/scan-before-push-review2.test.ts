// The second hostile review of scan-before-push (after 9bda8a6), kept as regression tests: each
// defect it found, reproduced through dist/build-scan/index.js with real buildah, skopeo, Trivy and
// docker-registry, directly or behind a loopback proxy that holds or rewrites one request. Every
// platform is judged, a cancel stops the direct pushes too, and the registry's stored bytes are checked.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, type ActionRun } from '../../../test/helpers/action';
import { listen, type Listening } from '../../../test/helpers/net';
import { runEnv } from '../../../test/helpers/run-env';
import { buildahEnv, startRegistry, type Registry } from '../../../test/services/registry';
import { startTrivyMirror, type TrivyMirror } from '../../../test/services/trivy-mirror';

let registry: Registry;
let buildah: ReturnType<typeof buildahEnv>;
let mirror: TrivyMirror;
let work: string;
const fakeAwsKey = `AKIA${randomBytes(16).toString('hex').toUpperCase().replace(/[^A-Z2-7]/g, 'Q').slice(0, 16)}`;
const OCI_MANIFESTS = 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json';
const log = (r: ActionRun) => `exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`;

async function digestOf(repository: string, reference: string): Promise<string | undefined> {
  const response = await registry.get(`/v2/${repository}/manifests/${reference}`, OCI_MANIFESTS);
  return response.ok ? (response.headers.get('docker-content-digest') ?? undefined) : undefined;
}
const tagsOf = async (repository: string) => {
  const response = await registry.get(`/v2/${repository}/tags/list`);
  return response.ok ? (((await response.json()) as { tags: string[] | null }).tags ?? []).sort() : [];
};

/** A loopback proxy in front of the registry; `hook` may answer a request itself (true), hold it, or give the body to forward. */
async function proxy(hook: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean | Buffer>): Promise<Listening & { host: string }> {
  const server = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void hook(req, res, Buffer.concat(chunks)).then((answer) => {
        if (answer === true || res.destroyed) return;
        const body = answer === false ? Buffer.concat(chunks) : answer;
        const headers = { ...req.headers, 'content-length': String(body.length) };
        delete headers['transfer-encoding'];
        const upstream = request({ host: '127.0.0.1', port: registry.port, method: req.method, path: req.url, headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        upstream.end(body);
      });
    });
  });
  return { ...server, host: new URL(server.url).host };
}

function context(name: string, containerfile: string, files: Record<string, string>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Containerfile'), containerfile);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function buildScan(inputs: Record<string, string>, env: Record<string, string> = {}, options: Parameters<typeof runAction>[3] = {}): Promise<ActionRun> {
  return runAction('build-scan', {
    builder: 'buildah',
    push: 'true',
    username: registry.username,
    password: registry.password,
    'scanner-mirror': mirror.url,
    'scanner-checksum': mirror.archiveSha,
    scanners: 'secret',
    'upload-sarif': 'false',
    ...inputs,
  }, { ...runEnv('7302'), ...buildah.env, GITHUB_EVENT_PATH: join(work, 'event.json'), RUNNER_TOOL_CACHE: join(work, 'toolcache'), ...env }, options);
}

beforeAll(async () => {
  [registry, mirror] = await Promise.all([startRegistry(), startTrivyMirror()]);
  buildah = buildahEnv();
  work = mkdtempSync(join(tmpdir(), 'slipway-build-scan-hostile2-'));
  mkdirSync(join(work, 'toolcache'));
  writeFileSync(join(work, 'event.json'), JSON.stringify({ repository: { default_branch: 'main' } }));
}, 180_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mirror?.stop()]);
  buildah?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Sarif {
  runs: { automationDetails: { id: string }; properties: Record<string, string>; results: { ruleId: string }[] }[];
}

describe('build-scan scan-before-push, second review', () => {
  const perArch = () => context('per-arch', 'FROM scratch\nARG TARGETARCH\nCOPY ${TARGETARCH}/ /app/config/\n', {
    'amd64/deploy.env': 'REGION=eu-west-1\n',
    'arm64/deploy.env': `AWS_ACCESS_KEY_ID=${fakeAwsKey}\n`,
  });

  // Trivy read the manifest list's first entry (buildah's build order), whatever `--platform` said:
  // this passed 1 run in 4 here, when arm64 happened to come first and the gate failed.
  it('two platforms, the secret only in linux/arm64: each platform is judged, the failing image is never pushed, and the summary and SARIF say which platform failed', async () => {
    const dir = perArch();
    const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/per-arch`, tags: 'type=raw,value=v1', platforms: 'linux/amd64,linux/arm64' });
    expect(run.stdout, log(run)).toMatch(/^::error::the image has 1 finding\(s\) at CRITICAL or HIGH in linux\/arm64: aws-access-key-id; nothing was pushed$/m);
    expect(run.stdout).toMatch(/^Scan: .*; linux\/amd64 passed, linux\/arm64 failed$/m);
    expect(run.summary).toMatch(/<tr><td>linux\/amd64<\/td><td>sha256:[0-9a-f]{64}<\/td>(<td>0<\/td>){5}<td>passes<\/td><\/tr>/);
    expect(run.summary).toMatch(/<tr><td>linux\/arm64<\/td><td>sha256:[0-9a-f]{64}<\/td><td>1<\/td>(<td>0<\/td>){4}<td>fails<\/td><\/tr>/);
    const sarif = JSON.parse(readFileSync(run.outputs['sarif-file']!, 'utf8')) as Sarif;
    expect(sarif.runs.map((r) => [r.automationDetails.id, r.properties.platform, r.results.map((x) => x.ruleId)])).toEqual([
      [`build-scan/${registry.host}/acme/per-arch/linux/amd64/`, 'linux/amd64', []],
      [`build-scan/${registry.host}/acme/per-arch/linux/arm64/`, 'linux/arm64', ['aws-access-key-id']],
    ]);
    // Expected: every platform pushed was judged (exit 1, no tag), or the step refuses to push platforms it did not scan.
    // What the registry serves to an arm64 host under v1: its layer carries the key the gate never saw.
    const index = (await (await registry.get('/v2/acme/per-arch/manifests/v1', OCI_MANIFESTS)).json()) as { manifests?: { digest: string; platform?: { architecture: string } }[] };
    const arm = index.manifests?.find((m) => m.platform?.architecture === 'arm64');
    const layers = arm ? ((await (await registry.get(`/v2/acme/per-arch/manifests/${arm.digest}`, OCI_MANIFESTS)).json()) as { layers: { digest: string }[] }).layers : [];
    let armHasKey = false;
    for (const l of layers) armHasKey ||= gunzipSync(Buffer.from(await (await registry.get(`/v2/acme/per-arch/blobs/${l.digest}`)).arrayBuffer())).includes(fakeAwsKey);
    expect({ exitCode: run.exitCode, gate: run.outputs.gate, tags: await tagsOf('acme/per-arch'), armHasKey }, log(run)).toEqual({ exitCode: 1, gate: 'failed', tags: [], armHasKey: false });
  });

  it('scan-before-push: false, two platforms: the pushed index is scanned once per platform (Trivy honours --platform in a registry), and the arm64 secret fails the gate', async () => {
    const dir = perArch();
    const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/per-arch-pushed`, tags: 'type=raw,value=v1', platforms: 'linux/amd64,linux/arm64', 'scan-before-push': 'false' });
    expect({ exitCode: run.exitCode, gate: run.outputs.gate, tags: await tagsOf('acme/per-arch-pushed') }, log(run)).toEqual({ exitCode: 1, gate: 'failed', tags: ['latest', 'v1'] });
    expect(run.stdout).toMatch(/^::error::the image has 1 finding\(s\) at CRITICAL or HIGH in linux\/arm64: aws-access-key-id$/m);
    expect(run.outputs.digest).toBe(await digestOf('acme/per-arch-pushed', 'v1'));
  });

  it.each([['scan-before-push', 'false'], ['scan', 'false']])('%s: %s, buildah: SIGINT while tag one is pushed pushes no further tag and exits 1', async (input, value) => {
    let held: (() => void) | undefined;
    const front = await proxy(async (req) => {
      if (req.method === 'PUT' && /\/manifests\/one$/.test(req.url ?? '')) await new Promise<void>((resolve) => (held = resolve));
      return false;
    });
    let node: number | undefined;
    try {
      const repo = `cancel-${input}`;
      const dir = context(repo, 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'direct\n' });
      const running = buildScan(
        { context: dir, file: join(dir, 'Containerfile'), image: `${front.host}/acme/${repo}`, registry: front.host, tags: 'type=raw,value=one\ntype=raw,value=two', [input]: value },
        {},
        { onSpawn: (pid) => (node = pid) },
      );
      const started = Date.now();
      while (!held && Date.now() - started < 240_000) await new Promise((r) => setTimeout(r, 100));
      expect(held, 'the manifest PUT of tag one never came').toBeDefined();
      process.kill(node as number, 'SIGINT');
      await new Promise((r) => setTimeout(r, 500));
      held?.();
      const run = await running;
      await new Promise((r) => setTimeout(r, 3000)); // an orphaned push would finish meanwhile
      // README: a cancel "pushes no further tag" and exits 1. Tag one is in the registry only if its
      // held manifest PUT lands (this proxy drops it, as its client, the stopped push, went away).
      const tags = await tagsOf(`acme/${repo}`);
      expect({ exitCode: run.exitCode, further: tags.filter((t) => t !== 'one') }, log(run)).toEqual({ exitCode: 1, further: [] });
      expect(run.stdout).toMatch(/^::error::no tag was pushed; not pushed: .*:one, .*:two, .*:latest\. 'buildah push .*:one' was stopped: the job was cancelled \(SIGINT\)$/m);
      expect(run.summary).toContain('<tr><td>Not pushed</td>');
    } finally {
      held?.();
      await front.close();
    }
  });

  it('builder docker, cache: registry: SIGINT during the after-gate cache write, then SIGTERM during the final logout: outputs written, exit 1', async () => {
    // A docker stand-in as in scan-before-push-review.test.ts: the layout via buildah; the cache-only
    // build and `docker logout` announce themselves and wait, for the signals.
    const bin = mkdtempSync(join(work, 'docker-bin-'));
    writeFileSync(join(bin, 'shim.mjs'), `
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const args = process.argv.slice(2);
const wait = (name, ms) => { writeFileSync(${JSON.stringify(bin)} + '/' + name, ''); setTimeout(() => process.exit(0), ms); };
if (args[0] === 'login') { readFileSync(0); process.exit(0); }
if (args[0] === 'logout') wait('logout', 3000);
else if (args[0] === 'buildx' && args.includes('type=cacheonly')) wait('cache', 60000);
else if (args[0] === 'buildx') {
  const dest = /dest=([^,]+)/.exec(args[args.indexOf('--output') + 1])[1];
  execFileSync('buildah', ['build', '-f', args[args.indexOf('--file') + 1], '-t', 'localhost/shim2:latest', args[args.length - 1]], { stdio: 'ignore' });
  execFileSync('buildah', ['push', 'localhost/shim2:latest', 'oci:' + dest], { stdio: 'ignore' });
  const [desc] = JSON.parse(readFileSync(dest + '/index.json', 'utf8')).manifests;
  writeFileSync(args[args.indexOf('--metadata-file') + 1], JSON.stringify({ 'containerimage.digest': desc.digest }));
  process.exit(0);
} else process.exit(3);
`);
    writeFileSync(join(bin, 'docker'), `#!/bin/sh\nexec ${process.execPath} ${join(bin, 'shim.mjs')} "$@"\n`, { mode: 0o755 });
    const dir = context('docker-cache-cancel', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'cache\n' });
    let node: number | undefined;
    const running = buildScan({ builder: 'docker', cache: 'registry', context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/docker-cache`, tags: 'type=raw,value=v1' }, { PATH: `${bin}:${process.env.PATH}` }, { onSpawn: (pid) => (node = pid) });
    const waitFor = async (name: string) => {
      const started = Date.now();
      while (!existsSync(join(bin, name)) && Date.now() - started < 240_000) await new Promise((r) => setTimeout(r, 50));
    };
    await waitFor('cache');
    process.kill(node as number, 'SIGINT');
    await waitFor('logout');
    process.kill(node as number, 'SIGTERM');
    const run = await running;
    expect({ exitCode: run.exitCode, tags: await tagsOf('acme/docker-cache') }, log(run)).toEqual({ exitCode: 1, tags: ['latest', 'v1'] });
    // The image is pushed: the outputs and summary say so, and the step fails as cancelled.
    expect(run.outputs.digest).toBe(await digestOf('acme/docker-cache', 'v1'));
    expect(run.outputs.gate).toBe('passed');
    expect(run.stdout).toMatch(/^::warning::The image is pushed, but its registry cache was not written: .*was stopped: the job was cancelled \(SIGINT\)$/m);
    expect(run.stdout).toMatch(/^::error::the job was cancelled \(SIGINT\)$/m);
    expect(run.summary).toContain('failed: the job was cancelled (SIGINT)');
  });

  it('a registry that stores other manifest bytes under a tag: what it holds is read back, and the push fails naming both digests', async () => {
    // Re-serialised JSON, as a registry or proxy that rewrites manifests stores it; by-digest PUTs pass through untouched.
    const front = await proxy(async (req, _res, body) => (req.method === 'PUT' && /\/manifests\/[^/@:]+$/.test(req.url ?? '') ? Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 2)) : false));
    try {
      const dir = context('rewritten', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'rewritten\n' });
      const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${front.host}/acme/rewritten`, registry: front.host, tags: 'type=raw,value=v1' });
      const inRegistry = await digestOf('acme/rewritten', 'v1');
      // Before the fix skopeo's --digestfile (its hash of what it sent) was compared: exit 0, and v1 held another digest.
      expect({ exitCode: run.exitCode, digest: run.outputs.digest }, log(run)).toEqual({ exitCode: 1, digest: '' });
      const scanned = /^Built: buildah[^:]*: (sha256:[0-9a-f]{64})/m.exec(run.stdout)?.[1];
      expect(inRegistry).not.toBe(scanned);
      expect(run.stdout).toContain(`::error::no tag was pushed; not pushed: ${front.host}/acme/rewritten:v1, ${front.host}/acme/rewritten:latest. the registry has ${front.host}/acme/rewritten:v1 as ${inRegistry}, which is not the image that was scanned (${scanned}); do not deploy it`);
      // Stopped before the next tag.
      expect(await tagsOf('acme/rewritten')).toEqual(['v1']);
    } finally {
      await front.close();
    }
  });
});
