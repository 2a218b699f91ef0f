// The hostile review of scan-before-push (issue 19 part 2), kept as regression tests: each defect it
// found, reproduced through dist/build-scan/index.js. Real buildah, skopeo and Trivy, and the real
// docker-registry, directly or behind a loopback proxy that fails, holds or rewrites one request.
// Then the second review's (after 9bda8a6): every platform is judged, a cancel stops the direct
// pushes too, and the registry's stored bytes are checked.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../../../test/helpers/action';
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
const sha = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Every form of the registry password a leak could take. */
const passwordForms = () => [registry.password, Buffer.from(registry.password).toString('base64'), Buffer.from(`${registry.username}:${registry.password}`).toString('base64'), encodeURIComponent(registry.password)];

async function digestOf(repository: string, reference: string): Promise<string | undefined> {
  const response = await registry.get(`/v2/${repository}/manifests/${reference}`, OCI_MANIFESTS);
  return response.ok ? (response.headers.get('docker-content-digest') ?? undefined) : undefined;
}
const tagsOf = async (repository: string) => {
  const response = await registry.get(`/v2/${repository}/tags/list`);
  return response.ok ? (((await response.json()) as { tags: string[] | null }).tags ?? []).sort() : [];
};

/** A base image pushed through the registry API whose layer is gzipped by zlib, not by buildah's compressor (as any base built elsewhere is). */
async function pushBase(repository: string, tag: string): Promise<void> {
  const root = mkdtempSync(join(work, 'base-'));
  writeFileSync(join(root, 'base.txt'), 'base layer\n');
  const tar = spawnSync('tar', ['-c', '--owner=0', '--group=0', '--mtime=@0', '-C', root, 'base.txt']).stdout;
  const layer = gzipSync(tar, { level: 1 });
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha(tar)] } }));
  const authorization = `Basic ${Buffer.from(`${registry.username}:${registry.password}`).toString('base64')}`;
  for (const bytes of [layer, config]) {
    const start = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers: { authorization } });
    const location = new URL(start.headers.get('location') ?? '', registry.url);
    location.searchParams.set('digest', sha(bytes));
    const put = await fetch(location, { method: 'PUT', headers: { authorization, 'content-type': 'application/octet-stream' }, body: bytes });
    if (put.status !== 201) throw new Error(`blob: HTTP ${put.status}`);
  }
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }] });
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, { method: 'PUT', headers: { authorization, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (put.status !== 201) throw new Error(`manifest: HTTP ${put.status} ${await put.text()}`);
}

/**
 * A loopback proxy in front of the registry; `hook` may answer a request itself (return true), hold
 * it, forward it (false) or forward other bytes in its place (a Buffer). A request whose client went
 * away while held is dropped, as a registry drops a request cut off before it was read.
 */
async function proxy(hook: (req: IncomingMessage, res: ServerResponse, body: Buffer) => Promise<boolean | Buffer>): Promise<Listening & { host: string }> {
  const server = await listen((req, res) => {
    let gone = false;
    res.on('close', () => (gone = !res.writableFinished));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void hook(req, res, Buffer.concat(chunks)).then((answer) => {
        if (answer === true || gone) return;
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
  }, { ...runEnv('7301'), ...buildah.env, GITHUB_EVENT_PATH: join(work, 'event.json'), RUNNER_TOOL_CACHE: join(work, 'toolcache'), ...env }, options);
}

const leftovers = (runnerTemp: string) => readdirSync(runnerTemp).filter((n) => /^slipway-(build|auth)-(?!scan-)/.test(n));

beforeAll(async () => {
  [registry, mirror] = await Promise.all([startRegistry(), startTrivyMirror()]);
  buildah = buildahEnv();
  work = mkdtempSync(join(tmpdir(), 'slipway-build-scan-hostile-'));
  mkdirSync(join(work, 'toolcache'));
  writeFileSync(join(work, 'event.json'), JSON.stringify({ repository: { default_branch: 'main' } }));
}, 180_000);

afterAll(async () => {
  await Promise.all([registry?.stop(), mirror?.stop()]);
  buildah?.remove();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('build-scan scan-before-push, review', () => {
  it('a clean image FROM a base in the same registry, its layer gzipped by another tool: every tag is the scanned digest (skopeo copies the layout as it is)', async () => {
    await pushBase('acme/base', '1');
    const dir = context('from-base', `FROM ${registry.host}/acme/base:1\nCOPY app.txt /app/app.txt\n`, { 'app.txt': 'hello\n' });
    const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/from-base`, tags: 'type=raw,value=v1\ntype=raw,value=v2' });
    const scanned = /^Built: buildah[^:]*: (sha256:[0-9a-f]{64})/m.exec(run.stdout)?.[1];
    // Expected: either the scanned digest is pushed to every tag (exit 0), or, when it cannot be, nothing is.
    const tags = await tagsOf('acme/from-base');
    const pushed = await Promise.all(tags.map((t) => digestOf('acme/from-base', t)));
    const v1 = await registry.get('/v2/acme/from-base/manifests/v1', OCI_MANIFESTS);
    // What buildah put under v1: the base's own (zlib) layer blob, reused from the registry, where the layout has its recompressed one.
    const layers = v1.ok ? ((await v1.json()) as { layers: { digest: string }[] }).layers.map((l) => l.digest) : [];
    const report = { exitCode: run.exitCode, scanned, digestOutput: run.outputs.digest, tags, pushed, layers, error: /::error::.*/.exec(run.stdout)?.[0] };
    expect(report, log(run)).toMatchObject({ exitCode: 0, digestOutput: scanned, tags: ['latest', 'v1', 'v2'] });
    expect(scanned).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const d of pushed) expect(d).toBe(scanned);
  });

  it('cache: registry with a failing gate: no cache image, so none of its secret-bearing layers, is in the registry', async () => {
    const dir = context('cache-blocked', 'FROM scratch\nCOPY config/ /app/config/\n', { 'config/deploy.env': `AWS_ACCESS_KEY_ID=${fakeAwsKey}\n` });
    const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/cache-blocked`, tags: 'type=raw,value=v1', cache: 'registry' });
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.stdout).toMatch(/nothing was pushed/);
    expect(run.stdout).toMatch(/^::notice::cache: registry with scan-before-push: .*\/acme\/cache-blocked-buildcache is read but not written/m);
    expect(await tagsOf('acme/cache-blocked')).toEqual([]);
    // Expected: with "nothing was pushed", no manifest anywhere in the registry references the scanned layer.
    const cacheTags = await tagsOf('acme/cache-blocked-buildcache');
    // Before the fix each cache tag was an image manifest, one of them with the key in its layer.
    const withKey: string[] = [];
    for (const tag of cacheTags) {
      const manifest = (await (await registry.get(`/v2/acme/cache-blocked-buildcache/manifests/${tag}`, OCI_MANIFESTS)).json()) as { mediaType?: string; layers?: { digest: string }[] };
      for (const layer of manifest.layers ?? []) {
        const blob = Buffer.from(await (await registry.get(`/v2/acme/cache-blocked-buildcache/blobs/${layer.digest}`)).arrayBuffer());
        if (gunzipSync(blob).includes(fakeAwsKey)) withKey.push(`${tag} (${manifest.mediaType})`);
      }
    }
    expect({ cacheTags, withKey }, 'acme/cache-blocked-buildcache, pushed before the scan').toEqual({ cacheTags: [], withKey: [] });
  });

  it('a tag push that fails half way: the error, outputs and summary name the tag pushed, at the scanned digest, and those not', async () => {
    const front = await proxy(async (req, res) => {
      if (req.method === 'PUT' && /\/manifests\/second$/.test(req.url ?? '')) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}');
        return true;
      }
      return false;
    });
    try {
      const dir = context('half', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'half\n' });
      const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${front.host}/acme/half`, registry: front.host, tags: 'type=raw,value=first\ntype=raw,value=second' });
      expect(run.exitCode, log(run)).toBe(1);
      const tags = await tagsOf('acme/half');
      expect(tags).toContain('first');
      const first = await digestOf('acme/half', 'first');
      expect(tags).not.toContain('second');
      // The outputs and summary name what is in the registry: the digest, and which tags were pushed.
      expect({ digest: run.outputs.digest, summaryDigest: /— \(not pushed\)/.test(run.summary) ? 'not pushed' : 'named' }, log(run)).toEqual({ digest: first, summaryDigest: 'named' });
      expect(run.outputs.gate).toBe('passed');
      const ref = (tag: string) => `${front.host}/acme/half:${tag}`;
      expect(run.stdout).toContain(`::error::pushed as ${first}: ${ref('first')}; not pushed: ${ref('second')}, ${ref('latest')}. `);
      expect(run.summary).toContain(`<tr><td>Pushed</td><td>${ref('first')}</td></tr>`);
      expect(run.summary).toContain(`<tr><td>Not pushed</td><td>${ref('second')}\n${ref('latest')}</td></tr>`);
      for (const form of passwordForms()) expect(visible(`${run.stdout}\n${run.stderr}\n${run.summary}\n${JSON.stringify(run.outputs)}`)).not.toContain(form);
    } finally {
      await front.close();
    }
  });

  it('SIGINT while the first tag is being pushed: the push is stopped, no tag reaches the registry, the outputs and summary are written, and the temp layout and auth file are removed', async () => {
    let held: (() => void) | undefined;
    let signalled = false;
    const front = await proxy(async (req) => {
      if (req.method === 'PUT' && /\/manifests\/one$/.test(req.url ?? '')) await new Promise<void>((resolve) => (held = resolve)); // held until the action has its signal
      return false;
    });
    const temp = mkdtempSync(join(work, 'runner-temp-'));
    let node: number | undefined;
    try {
      const dir = context('interrupted', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'interrupted\n' });
      const running = buildScan(
        { context: dir, file: join(dir, 'Containerfile'), image: `${front.host}/acme/interrupted`, registry: front.host, tags: 'type=raw,value=one\ntype=raw,value=two' },
        { RUNNER_TEMP: temp },
        { onSpawn: (pid) => (node = pid) },
      );
      // Wait for the held manifest PUT, then SIGINT the action's node (the runner cancelling the job).
      const started = Date.now();
      while (!held && Date.now() - started < 240_000) await new Promise((r) => setTimeout(r, 100));
      expect(held, 'the manifest PUT of tag one never came').toBeDefined();
      expect(node).toBeDefined();
      process.kill(node as number, 'SIGINT');
      signalled = true;
      await new Promise((r) => setTimeout(r, 500));
      held?.();
      const run = await running;
      await new Promise((r) => setTimeout(r, 3000)); // an orphaned push would finish meanwhile
      expect(run.exitCode, log(run)).toBe(1);
      expect(run.stdout).toMatch(/^::error::no tag was pushed; not pushed: .*acme\/interrupted:one, .*acme\/interrupted:two, .*acme\/interrupted:latest\. '.*:one' was stopped: the job was cancelled \(SIGINT\)$/m);
      expect(run.outputs).toMatchObject({ gate: 'passed', digest: '' });
      expect(run.summary).toContain('the job was cancelled (SIGINT)');
      // Expected: nothing pushed after the signal, and the private folders (OCI layout, secret files, auth.json) gone.
      const left = leftovers(temp);
      const auth = left.filter((n) => n.startsWith('slipway-auth-')).map((n) => readFileSync(join(temp, n, 'auth.json'), 'utf8'));
      const credentialsLeft = auth.some((a) => a.includes(Buffer.from(`${registry.username}:${registry.password}`).toString('base64')));
      expect({ tags: await tagsOf('acme/interrupted'), leftovers: left, credentialsLeft }, log(run)).toEqual({ tags: [], leftovers: [], credentialsLeft: false });
    } finally {
      if (!signalled) held?.();
      await front.close();
    }
  });

  it('a failing gate and a passing one leave no OCI layout, secret file or auth file in RUNNER_TEMP, and never show the password in any form', async () => {
    const temp = mkdtempSync(join(work, 'runner-temp-'));
    const dir = context('blocked', 'FROM scratch\nCOPY config/ /app/config/\n', { 'config/deploy.env': `AWS_ACCESS_KEY_ID=${fakeAwsKey}\n` });
    const blocked = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/blocked`, tags: 'type=raw,value=v1\ntype=raw,value=v2', secrets: 'npm_token=s3cr3t-build-value' }, { RUNNER_TEMP: temp });
    expect(blocked.exitCode, log(blocked)).toBe(1);
    expect(await tagsOf('acme/blocked')).toEqual([]);
    expect(leftovers(temp)).toEqual([]);
    const sarif = readFileSync(blocked.outputs['sarif-file']!, 'utf8');
    for (const form of passwordForms()) expect(visible(`${blocked.stdout}\n${blocked.stderr}\n${blocked.summary}\n${sarif}\n${JSON.stringify(blocked.outputs)}`)).not.toContain(form);
    const clean = context('clean', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'clean\n' });
    const passed = await buildScan({ context: clean, file: join(clean, 'Containerfile'), image: `${registry.host}/acme/clean`, tags: 'type=raw,value=v1' }, { RUNNER_TEMP: temp });
    expect(passed.exitCode, log(passed)).toBe(0);
    expect(passed.outputs.digest).toBe(await digestOf('acme/clean', 'v1'));
    expect(leftovers(temp)).toEqual([]);
    expect(existsSync(passed.outputs['sarif-file']!)).toBe(true);
  });

  it('builder docker, two tags: the layout Buildx writes (one index.json entry per --tag, as BuildKit\'s client/ociindex Put does) is scanned and pushed to every tag', async () => {
    // A docker stand-in: `buildx build` writes the OCI layout as BuildKit does for `type=oci,tar=false` (the image
    // via buildah, then index.json with the one descriptor once per name); skopeo, for real, pushes it.
    const bin = mkdtempSync(join(work, 'docker-bin-'));
    const calls = join(bin, 'calls');
    writeFileSync(join(bin, 'shim.mjs'), `
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(calls)}, JSON.stringify(args) + '\\n');
if (args[0] === 'login' || args[0] === 'logout') { readFileSync(0); process.exit(0); }
if (args[0] === 'buildx' && args[1] === 'build') {
  const dest = /dest=([^,]+)/.exec(args[args.indexOf('--output') + 1])[1];
  const names = args.flatMap((a, i) => (args[i - 1] === '--tag' ? [a] : []));
  const context = args[args.length - 1];
  execFileSync('buildah', ['build', '-f', args[args.indexOf('--file') + 1], '-t', 'localhost/shim:latest', context], { stdio: 'ignore' });
  execFileSync('buildah', ['push', 'localhost/shim:latest', 'oci:' + dest], { stdio: 'ignore' });
  const index = JSON.parse(readFileSync(dest + '/index.json', 'utf8'));
  const [desc] = index.manifests;
  index.manifests = names.map((n) => ({ ...desc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': n.split(':').pop() } }));
  writeFileSync(dest + '/index.json', JSON.stringify(index));
  writeFileSync(args[args.indexOf('--metadata-file') + 1], JSON.stringify({ 'containerimage.digest': desc.digest }));
  process.exit(0);
}
process.exit(3);
`);
    writeFileSync(join(bin, 'docker'), `#!/bin/sh\nexec ${process.execPath} ${join(bin, 'shim.mjs')} "$@"\n`, { mode: 0o755 });
    const dir = context('docker-two-tags', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'docker\n' });
    const run = await buildScan({ builder: 'docker', cache: 'none', context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/docker-two`, tags: 'type=raw,value=v1' }, { PATH: `${bin}:${process.env.PATH}` });
    // Before the fix the layout was refused, as it "held" two entries.
    expect({ exitCode: run.exitCode, error: /::error::(.{0,120})/.exec(run.stdout)?.[1], scanned: /^Scan: /m.test(run.stdout) }, log(run)).toEqual({ exitCode: 0, error: undefined, scanned: true });
    const scanned = /^Built: docker[^:]*: (sha256:[0-9a-f]{64})/m.exec(run.stdout)?.[1];
    expect(run.outputs.digest).toBe(scanned);
    expect(await tagsOf('acme/docker-two')).toEqual(['latest', 'v1']);
    for (const tag of ['latest', 'v1']) expect(await digestOf('acme/docker-two', tag)).toBe(scanned);
    expect(readFileSync(calls, 'utf8')).not.toMatch(/"--push"|"--cache-to"/);
    // And a regression outside scan-before-push: several platforms without a push (scanned from the layout before this change) now fail the same way.
    const local = await buildScan({ builder: 'docker', cache: 'none', push: 'false', platforms: 'linux/amd64,linux/arm64', context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/docker-local`, tags: 'type=raw,value=v1' }, { PATH: `${bin}:${process.env.PATH}` });
    expect({ exitCode: local.exitCode, error: /::error::(.{0,60})/.exec(local.stdout)?.[1] }, log(local)).toEqual({ exitCode: 0, error: undefined });
  });

  it('no skopeo on PATH: fails before building or logging in, saying how to get it', async () => {
    const empty = mkdtempSync(join(work, 'no-tools-'));
    const dir = context('no-skopeo', 'FROM scratch\nCOPY app.txt /app/app.txt\n', { 'app.txt': 'no skopeo\n' });
    const run = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/no-skopeo`, tags: 'type=raw,value=v1' }, { PATH: empty });
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.stdout).toMatch(/^::error::scan-before-push copies the scanned image to the registry with skopeo, byte for byte, and skopeo is not on PATH: install it \(`sudo apt-get install -y skopeo`; GitHub's Ubuntu runners have it\), or set scan-before-push: false$/m);
    expect(run.stdout).not.toMatch(/^(Login|Built):/m);
    expect(await tagsOf('acme/no-skopeo')).toEqual([]);
  });

  it('scan: false and fail-on: none push without a gate; the summary does not claim a scan came first', async () => {
    const dir = context('ungated', 'FROM scratch\nCOPY config/ /app/config/\n', { 'config/deploy.env': `AWS_ACCESS_KEY_ID=${fakeAwsKey}\n` });
    const none = await buildScan({ context: dir, file: join(dir, 'Containerfile'), image: `${registry.host}/acme/ungated`, tags: 'type=raw,value=v1', 'fail-on': 'none' });
    expect(none.exitCode, log(none)).toBe(0);
    expect(await tagsOf('acme/ungated')).toEqual(['latest', 'v1']);
    expect(none.outputs.digest).toBe(await digestOf('acme/ungated', 'v1'));
  });
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
