// scan-before-push where this machine cannot run it for real: the Buildx commands (no Docker engine
// here), and pushScanned()'s answer to a registry that serves other manifest bytes or a cancelled
// job, with a stand-in `skopeo` on PATH; and the per-platform layouts the scanner reads. The push with the real skopeo, buildah and registry runs in
// actions/build-scan/test/bundle.test.ts and scan-before-push-review.test.ts.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFiles, buildahBuildArgs, buildxArgs, layoutDigest, layoutSource, pushScanned, skopeoPushArgs, type BuildSpec, type BuiltImage, type PushProgress } from '../src/image/build';
import { platformLayouts, scanTargets } from '../src/image/layout';
import { Registry } from '../src/image/registry';

const spec = (over: Partial<BuildSpec> = {}): BuildSpec => ({
  context: '.',
  platforms: [],
  buildArgs: [],
  secrets: [],
  labels: {},
  image: 'ghcr.io/acme/shop',
  tags: ['1.2.3', 'latest'],
  push: true,
  scanBeforePush: true,
  cache: 'none',
  cacheScope: 'ghcr.io/acme/shop',
  ...over,
});

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const cleanup: (() => void)[] = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

/** An OCI layout holding `manifest` as its one image. */
function layout(manifest: string, index?: object): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-layout-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'blobs', 'sha256', sha(manifest).slice(7)), manifest);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index ?? { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(manifest), size: manifest.length }] }));
  return dir;
}

/** index.json as BuildKit writes it for `type=oci,tar=false` with several --tag: one entry per name. */
const buildxIndex = (digest: string, names: string[]) => ({
  schemaVersion: 2,
  manifests: names.map((n) => ({ mediaType: 'application/vnd.oci.image.index.v1+json', digest, size: 2, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': n.split(':').pop() } })),
});

/** A folder first on PATH with `name` as a shell script, for commands this machine cannot run. */
function standIn(name: string, script: string): void {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-stand-in-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, name), `#!/bin/sh\n${script}\n`);
  chmodSync(join(dir, name), 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path}`;
  cleanup.push(() => (process.env.PATH = path));
}

function buildFiles(): BuildFiles {
  const files = new BuildFiles();
  cleanup.push(() => files.remove());
  return files;
}

describe('Buildx, scanning before the push', () => {
  it('builds one platform or several into an OCI layout, pushing nothing', () => {
    const files = buildFiles();
    for (const platforms of [[], ['linux/amd64', 'linux/arm64']]) {
      const args = buildxArgs(spec({ platforms }), files);
      expect(args).toEqual(expect.arrayContaining(['--output', `type=oci,dest=${files.file('oci')},tar=false`, '--tag', 'ghcr.io/acme/shop:1.2.3', '--metadata-file', files.file('metadata.json')]));
      expect(args).not.toContain('--push');
      expect(args).not.toContain('--load');
    }
    // scan-before-push false: the old order, pushed by the build.
    expect(buildxArgs(spec({ scanBeforePush: false }), files)).toContain('--push');
  });

  it('reads a registry cache before the gate and writes it only afterwards, with a cache-only build', () => {
    const files = buildFiles();
    const cache = 'type=registry,ref=ghcr.io/acme/shop:buildcache';
    const before = buildxArgs(spec({ cache: 'registry' }), files);
    expect(before).toEqual(expect.arrayContaining(['--cache-from', cache]));
    expect(before).not.toContain('--cache-to');
    const after = buildxArgs(spec({ cache: 'registry' }), files, { cacheOnly: true });
    expect(after).toEqual(expect.arrayContaining(['--cache-from', cache, '--cache-to', `${cache},mode=max`, '--output', 'type=cacheonly']));
    expect(after).not.toContain(`type=oci,dest=${files.file('oci')},tar=false`);
    // Pushed by the build (no gate to wait for): written by the build.
    expect(buildxArgs(spec({ cache: 'registry', scanBeforePush: false }), files)).toEqual(expect.arrayContaining(['--cache-to', `${cache},mode=max`]));
  });
});

describe('buildah, scanning before the push', () => {
  it('reads a registry cache but does not write it, as buildah writes it only while building', () => {
    const files = buildFiles();
    const registry = new Registry('ghcr.io', 'buildah');
    const before = buildahBuildArgs(spec({ cache: 'registry' }), files, registry);
    expect(before).toEqual(expect.arrayContaining(['--layers', '--cache-from', 'ghcr.io/acme/shop-buildcache']));
    expect(before).not.toContain('--cache-to');
    expect(buildahBuildArgs(spec({ cache: 'registry', scanBeforePush: false }), files, registry)).toEqual(expect.arrayContaining(['--cache-to', 'ghcr.io/acme/shop-buildcache']));
  });
});

describe('pushScanned with skopeo', () => {
  const manifest = '{"schemaVersion":2,"manifests":[]}';

  it('copies the layout byte for byte, by digest first, then to each tag', () => {
    const dir = layout(manifest);
    expect(skopeoPushArgs(dir, 'ghcr.io/acme/shop:1.2.3', new Registry('127.0.0.1:5000', 'buildah'))).toEqual(['copy', '--preserve-digests', '--all', '--dest-tls-verify=false', `oci:${dir}`, 'docker://ghcr.io/acme/shop:1.2.3']);
    // Buildx's layout lists the image once per tag: skopeo is told one by its ref.name.
    const buildx = layout(manifest, buildxIndex(sha(manifest), ['ghcr.io/acme/shop:1.2.3', 'ghcr.io/acme/shop:latest']));
    expect(layoutSource(buildx)).toBe(`oci:${buildx}:1.2.3`);
  });

  it('reads back what the registry stores under each reference and stops at the first that is not the scanned manifest, naming the tags pushed and not', async () => {
    const dir = layout(manifest);
    const built: BuiltImage = { digest: '', localDigest: layoutDigest(dir), scanTarget: { kind: 'oci-layout', ref: dir } };
    const files = buildFiles();
    const log = join(files.dir, 'argv');
    // The registry serves the scanned bytes for the digest and the first tag, re-serialised ones for `latest`.
    standIn('skopeo', `echo "$*" >> ${log}\nfor a; do last=$a; done\ncase "$1 $last" in "inspect "*:latest) printf '%s' '${JSON.stringify(JSON.parse(manifest), null, 2)}';; inspect*) printf '%s' '${manifest}';; esac`);
    const progress: PushProgress = { pushed: [] };
    await expect(pushScanned(spec(), built, new Registry('ghcr.io', 'docker'), [], progress)).rejects.toThrow(
      `pushed as ${built.localDigest}: ghcr.io/acme/shop:1.2.3; not pushed: ghcr.io/acme/shop:latest. the registry has ghcr.io/acme/shop:latest as ${sha(JSON.stringify(JSON.parse(manifest), null, 2))}, which is not the image that was scanned (${built.localDigest}); do not deploy it`,
    );
    expect(progress.pushed).toEqual(['ghcr.io/acme/shop:1.2.3']);
    const copy = (ref: string) => `copy --preserve-digests --all oci:${dir} docker://${ref}`;
    const inspect = (ref: string) => `inspect --raw docker://${ref}`;
    expect(readLines(log)).toEqual([copy(`ghcr.io/acme/shop@${built.localDigest}`), inspect(`ghcr.io/acme/shop@${built.localDigest}`), copy('ghcr.io/acme/shop:1.2.3'), inspect('ghcr.io/acme/shop:1.2.3'), copy('ghcr.io/acme/shop:latest'), inspect('ghcr.io/acme/shop:latest')]);
  });

  it('moves no tag when the registry holds the untagged image as other bytes, and reads it back with the auth file and TLS flags of skopeo inspect', async () => {
    const dir = layout(manifest);
    const built: BuiltImage = { digest: '', localDigest: layoutDigest(dir), scanTarget: { kind: 'oci-layout', ref: dir } };
    const files = buildFiles();
    const log = join(files.dir, 'argv');
    standIn('skopeo', `echo "$*" >> ${log}\n[ "$1" = inspect ] && printf '%s' 're-encoded'\nexit 0`);
    const progress: PushProgress = { pushed: [] };
    await expect(pushScanned(spec({ image: '127.0.0.1:5000/acme/shop' }), built, new Registry('127.0.0.1:5000', 'buildah'), [], progress)).rejects.toThrow(
      `no tag was pushed; not pushed: 127.0.0.1:5000/acme/shop:1.2.3, 127.0.0.1:5000/acme/shop:latest. the registry has 127.0.0.1:5000/acme/shop@${built.localDigest} as ${sha('re-encoded')}`,
    );
    expect(progress.pushed).toEqual([]);
    expect(readLines(log)[1]).toBe(`inspect --raw --tls-verify=false docker://127.0.0.1:5000/acme/shop@${built.localDigest}`);
  });

  it('a cancelled job stops the running copy and pushes no further tag', async () => {
    const dir = layout(manifest);
    const built: BuiltImage = { digest: '', localDigest: layoutDigest(dir), scanTarget: { kind: 'oci-layout', ref: dir } };
    const files = buildFiles();
    const log = join(files.dir, 'argv');
    const started = join(files.dir, 'started');
    // The copy by digest succeeds; the first tag's hangs until it is killed.
    standIn('skopeo', `echo "$*" >> ${log}\nfor a; do last=$a; done\ncase "$1 $last" in "inspect "*) printf '%s' '${manifest}'; exit 0;; *@*) exit 0;; esac\ntouch ${started}\nexec sleep 30`);
    const controller = new AbortController();
    const progress: PushProgress = { pushed: [], signal: controller.signal };
    const pushing = pushScanned(spec(), built, new Registry('ghcr.io', 'buildah'), [], progress);
    const since = Date.now();
    while (!existsSync(started) && Date.now() - since < 10_000) await new Promise((r) => setTimeout(r, 20));
    controller.abort(new Error('the job was cancelled (SIGINT)'));
    await expect(pushing).rejects.toThrow(/^no tag was pushed; not pushed: ghcr\.io\/acme\/shop:1\.2\.3, ghcr\.io\/acme\/shop:latest\. '.*docker:\/\/ghcr\.io\/acme\/shop:1\.2\.3' was stopped: the job was cancelled \(SIGINT\)$/);
    expect(Date.now() - since).toBeLessThan(10_000);
    expect(readLines(log)).toHaveLength(3);
  });
});

describe('the OCI layout', () => {
  it('names its one image by the digest of that blob, listed once or once per tag, and refuses a blob that does not match or entries that differ', () => {
    const manifest = '{"schemaVersion":2}';
    expect(layoutDigest(layout(manifest))).toBe(sha(manifest));
    expect(layoutDigest(layout(manifest, buildxIndex(sha(manifest), ['a/b:1', 'a/b:2', 'a/b:latest'])))).toBe(sha(manifest));
    const wrong = layout(manifest, { manifests: [{ digest: sha('something else') }] });
    // A blob whose bytes are not what its name says.
    writeFileSync(join(wrong, 'blobs', 'sha256', sha('something else').slice(7)), manifest);
    expect(() => layoutDigest(wrong)).toThrow(/names sha256:[0-9a-f]{64} but that blob/);
    expect(() => layoutDigest(layout(manifest, { manifests: [{ digest: sha(manifest) }, { digest: sha('another image') }] }))).toThrow(/should hold one image/);
    expect(() => layoutDigest(layout(manifest, { manifests: [] }))).toThrow(/should hold one image/);
  });
});

describe('every platform scanned on its own', () => {
  const image = (arch: string) => JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { digest: sha(arch) }, layers: [] });
  const desc = (bytes: string, platform: object, annotations?: object) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(bytes), size: bytes.length, platform, ...(annotations ? { annotations } : {}) });

  it('gives each platform image of an index a layout of its own, in the order of platforms, sharing the blobs, without attestations', () => {
    const [amd, arm] = [image('amd64'), image('arm64')];
    const attestation = image('attestation');
    // buildah lists by build completion: arm64 first here.
    const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [desc(arm, { os: 'linux', architecture: 'arm64', variant: 'v8' }), desc(amd, { os: 'linux', architecture: 'amd64' }), desc(attestation, { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' })] });
    const dir = layout(index);
    for (const bytes of [amd, arm, attestation]) writeFileSync(join(dir, 'blobs', 'sha256', sha(bytes).slice(7)), bytes);
    const into = join(dir, '..', `${dir.split('/').pop()}-views`);
    cleanup.push(() => rmSync(into, { recursive: true, force: true }));
    const targets = platformLayouts(dir, sha(index), into, ['linux/amd64', 'linux/arm64']);
    expect(targets.map((t) => [t.platform, t.digest, t.scannerPlatform])).toEqual([['linux/amd64', sha(amd), undefined], ['linux/arm64/v8', sha(arm), undefined]]);
    for (const [i, t] of targets.entries()) {
      const view = JSON.parse(readFileSync(join(t.target.ref, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
      expect(view.manifests.map((m) => m.digest)).toEqual([sha(i === 0 ? amd : arm)]);
      expect(lstatSync(join(t.target.ref, 'blobs')).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(t.target.ref, 'blobs', 'sha256', t.digest.slice(7)), 'utf8')).toBe(i === 0 ? amd : arm);
    }
  });

  it('scans a single image as its layout, a pushed index once per platform, and refuses a platform blob that does not match its digest', () => {
    const one = image('amd64');
    const dir = layout(one);
    expect(scanTargets({ digest: '', localDigest: sha(one), scanTarget: { kind: 'oci-layout', ref: dir } }, ['linux/amd64'], join(dir, 'views'))).toEqual([{ platform: 'linux/amd64', digest: sha(one), target: { kind: 'oci-layout', ref: dir } }]);
    const pushed = { digest: sha('index'), localDigest: '', scanTarget: { kind: 'registry' as const, ref: `ghcr.io/acme/shop@${sha('index')}` } };
    expect(scanTargets(pushed, ['linux/amd64', 'linux/arm64'], '/unused').map((t) => [t.platform, t.scannerPlatform])).toEqual([['linux/amd64', 'linux/amd64'], ['linux/arm64', 'linux/arm64']]);
    const index = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [desc(one, { os: 'linux', architecture: 'amd64' })] });
    const wrong = layout(index);
    writeFileSync(join(wrong, 'blobs', 'sha256', sha(one).slice(7)), 'other bytes');
    expect(() => platformLayouts(wrong, sha(index), join(wrong, 'views'))).toThrow(/names sha256:[0-9a-f]{64} but that blob's SHA-256 is/);
  });
});

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').trim().split('\n');
}
