// Building and pushing an image with Docker Buildx or daemonless buildah, from one build spec. Build
// secrets go to the builder as 0600 files through `--secret id=…,src=…`, never as arguments, so they
// are in no process list, log or image layer. With `scanBeforePush` the build stops at a local OCI
// layout, which is scanned, and pushScanned() copies it with skopeo, byte for byte, once the gate
// passes, reading back what the registry holds under each reference to check it is the very digest that was scanned.
import { createHash } from 'node:crypto';
import { layoutBlob } from './layout';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../exec';
import { redact } from '../secrets/index';
import type { Registry } from './registry';

export type Builder = 'docker' | 'buildah';
export type CacheMode = 'gha' | 'registry' | 'none';

export interface BuildSpec {
  context: string;
  /** Dockerfile/Containerfile; empty uses the builder's default in the context. */
  file?: string;
  platforms: string[];
  buildArgs: [string, string][];
  secrets: [string, string][];
  labels: Record<string, string>;
  /** The image name without a tag, e.g. ghcr.io/acme/shop. */
  image: string;
  tags: string[];
  push: boolean;
  /** With push: build into a local OCI layout and push nothing; pushScanned() pushes it after the scan. */
  scanBeforePush?: boolean;
  cache: CacheMode;
  /** For cache `gha`: keeps caches of different images apart in one repository. */
  cacheScope: string;
  /** SOURCE_DATE_EPOCH, in seconds: file and image times are set to it, so a rebuild of the same source is the same image. */
  timestamp?: number;
}

/**
 * The reproducible-builds convention SOURCE_DATE_EPOCH (whole seconds since 1970), read once for the
 * labels and the builder; Buildx and BuildKit read the variable themselves.
 */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const text = env.SOURCE_DATE_EPOCH?.trim();
  if (!text) return undefined;
  if (!/^\d+$/.test(text)) throw new Error(`SOURCE_DATE_EPOCH is ${JSON.stringify(text)}; expected whole seconds since 1970-01-01 (e.g. \`git log -1 --format=%ct\`)`);
  return Number(text);
}

/** What a build produced: where to find it for the scanner, and its digest once pushed. */
export interface BuiltImage {
  /** The image's digest in the registry (`sha256:…`), empty when it was not pushed. */
  digest: string;
  /** The digest of the manifest (or index) in the local OCI layout, what the scanner reads; empty without a layout. */
  localDigest: string;
  /** The scanner's target: a pushed `image@digest`, an image in the local daemon, or an OCI layout folder. */
  scanTarget: { kind: 'registry' | 'docker' | 'oci-layout'; ref: string };
}

interface LayoutEntry {
  digest?: string;
  annotations?: Record<string, string>;
}
const layoutEntries = (layout: string) => (JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests?: LayoutEntry[] }).manifests ?? [];

/**
 * The digest of the one image (manifest or index) an OCI layout holds, checked against its blob, so
 * the digest named is the one of the bytes the scanner reads. Buildx lists that image once per
 * `--tag` (the same descriptor, each with its own ref.name); entries naming different digests are refused.
 */
export function layoutDigest(layout: string): string {
  const entries = layoutEntries(layout);
  const digests = new Set(entries.map((m) => m.digest));
  const [digest = ''] = digests;
  if (!/^sha256:[0-9a-f]{64}$/.test(digest) || digests.size !== 1) throw new Error(`the OCI layout ${layout} should hold one image, by sha256 digest; its index.json lists ${JSON.stringify(entries)}`);
  layoutBlob(layout, digest);
  return digest;
}

/**
 * skopeo's name for the image of a layout: `oci:<layout>` when index.json has one entry; with
 * several (Buildx's, one per tag, the same image) skopeo must be told one, by its ref.name.
 */
export function layoutSource(layout: string): string {
  // skopeo splits `oci:<path>:<ref>` at the first colon.
  if (layout.includes(':')) throw new Error(`skopeo cannot name the OCI layout ${layout}: its path has a colon`);
  const [first, ...more] = layoutEntries(layout);
  if (!more.length) return `oci:${layout}`;
  const name = first?.annotations?.['org.opencontainers.image.ref.name'];
  if (!name) throw new Error(`the OCI layout ${layout} lists its image ${more.length + 1} times, the first without an org.opencontainers.image.ref.name to choose it by`);
  return `oci:${layout}:${name}`;
}

/** A folder private to one build (mkdtemp, 0700): its secret files (0600), metadata and OCI layout; removed by `remove()`. */
export class BuildFiles {
  readonly dir = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'slipway-build-'));

  /** `--secret id=…,src=…` arguments for these secrets. */
  args(secrets: readonly [string, string][]): string[] {
    return secrets.flatMap(([id, value], i) => {
      const file = join(this.dir, `secret-${i}`);
      writeFileSync(file, value, { mode: 0o600 });
      return ['--secret', `id=${id},src=${file}`];
    });
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const refs = (spec: BuildSpec) => spec.tags.map((t) => `${spec.image}:${t}`);
const common = (spec: BuildSpec, files: BuildFiles) => [
  ...(spec.file ? ['--file', spec.file] : []),
  ...spec.buildArgs.flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
  ...files.args(spec.secrets),
  ...Object.entries(spec.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
];

/**
 * `docker buildx build` arguments. A push goes straight from the builder, unless it waits for the
 * scan: then, as when several platforms are built without a push, the image (or index, with its
 * attestations) is written as an OCI layout folder, which the scanner reads and the push copies.
 * One platform without a push is loaded into the daemon.
 */
export function buildxArgs(spec: BuildSpec, files: BuildFiles, options: { cacheOnly?: boolean } = {}): string[] {
  const registryCache = `type=registry,ref=${spec.image}:buildcache`;
  // A registry cache holds the image's layers where anyone with pull access reads them: before the
  // gate it is only read, and cacheOnly (after the gate) writes it.
  const cache =
    spec.cache === 'gha'
      ? ['--cache-from', `type=gha,scope=${spec.cacheScope}`, '--cache-to', `type=gha,scope=${spec.cacheScope},mode=max`]
      : spec.cache === 'registry'
        ? ['--cache-from', registryCache, ...(spec.push && spec.scanBeforePush && !options.cacheOnly ? [] : ['--cache-to', `${registryCache},mode=max`])]
        : [];
  const output = options.cacheOnly ? ['--output', 'type=cacheonly'] : spec.push && !spec.scanBeforePush ? ['--push'] : spec.push || spec.platforms.length > 1 ? ['--output', `type=oci,dest=${files.file('oci')},tar=false`] : ['--load'];
  return [
    'buildx', 'build',
    ...(spec.platforms.length ? ['--platform', spec.platforms.join(',')] : []),
    ...common(spec, files),
    ...cache,
    ...refs(spec).flatMap((r) => ['--tag', r]),
    ...output,
    '--metadata-file', files.file('metadata.json'),
    spec.context,
  ];
}

/**
 * `buildah build` arguments: several platforms are built into a manifest list named after the first
 * tag. buildah writes a registry cache only while it builds, so before a scan it only reads it.
 */
export function buildahBuildArgs(spec: BuildSpec, files: BuildFiles, registry: Registry): string[] {
  const cache = spec.cache === 'registry' ? ['--layers', '--cache-from', `${spec.image}-buildcache`, ...(spec.push && spec.scanBeforePush ? [] : ['--cache-to', `${spec.image}-buildcache`])] : [];
  const [first = `${spec.image}:latest`] = refs(spec);
  return [
    'build',
    ...(spec.platforms.length ? ['--platform', spec.platforms.join(',')] : []),
    ...(spec.platforms.length > 1 ? ['--manifest', first] : refs(spec).flatMap((r) => ['--tag', r])),
    ...common(spec, files),
    ...cache,
    ...(spec.timestamp === undefined ? [] : ['--timestamp', String(spec.timestamp)]),
    ...registry.buildahFlags(),
    spec.context,
  ];
}

/** Builds (and pushes) with Docker Buildx. */
export async function buildWithBuildx(spec: BuildSpec, files: BuildFiles, secrets: readonly string[], signal?: AbortSignal): Promise<BuiltImage> {
  await exec('docker', buildxArgs(spec, files), { secrets, signal });
  const metadata = JSON.parse(readFileSync(files.file('metadata.json'), 'utf8')) as Record<string, unknown>;
  const digest = String(metadata['containerimage.digest'] ?? '');
  const [first = ''] = refs(spec);
  if (spec.push && !spec.scanBeforePush) return { digest, localDigest: '', scanTarget: { kind: 'registry', ref: `${spec.image}@${digest}` } };
  if (spec.push || spec.platforms.length > 1) return { digest: '', localDigest: layoutDigest(files.file('oci')), scanTarget: { kind: 'oci-layout', ref: files.file('oci') } };
  return { digest: '', localDigest: '', scanTarget: { kind: 'docker', ref: first } };
}

/** `buildah push` (or `manifest push --all` for a manifest list) of the image named after the first tag. */
const buildahPush = (spec: BuildSpec) => (spec.platforms.length > 1 ? ['manifest', 'push', '--all'] : ['push']);
// The local image (or manifest list) is named after the first tag.
const buildahSource = (spec: BuildSpec) => refs(spec)[0] ?? `${spec.image}:latest`;

/**
 * Builds with buildah, then pushes every tag (the digest is the same for all), or writes an OCI layout:
 * without a push, or with one that waits for the scan (pushScanned()). `progress.signal` stops the
 * build or the push, before the next tag.
 */
export async function buildWithBuildah(spec: BuildSpec, files: BuildFiles, registry: Registry, secrets: readonly string[], progress: PushProgress): Promise<BuiltImage> {
  const { signal } = progress;
  await exec('buildah', buildahBuildArgs(spec, files, registry), { secrets, signal });
  if (!spec.push || spec.scanBeforePush) {
    const layout = files.file('oci');
    await exec('buildah', [...buildahPush(spec), buildahSource(spec), `oci:${layout}`], { secrets, signal });
    return { digest: '', localDigest: layoutDigest(layout), scanTarget: { kind: 'oci-layout', ref: layout } };
  }
  const digest = await pushTags(spec, files, registry, secrets, progress);
  return { digest, localDigest: '', scanTarget: { kind: 'registry', ref: `${spec.image}@${digest}` } };
}

/** Pushes every tag with buildah, straight from its storage (no scan waits for it); the digest is the same for all. */
async function pushTags(spec: BuildSpec, files: BuildFiles, registry: Registry, secrets: readonly string[], progress: PushProgress): Promise<string> {
  const digestFile = files.file('digest');
  try {
    for (const ref of refs(spec)) {
      progress.signal?.throwIfAborted();
      await exec('buildah', [...buildahPush(spec), ...registry.buildahFlags(), '--digestfile', digestFile, buildahSource(spec), `docker://${ref}`], { secrets, signal: progress.signal });
      progress.digest ||= readFileSync(digestFile, 'utf8').trim();
      progress.pushed.push(ref);
    }
  } catch (error) {
    throw pushError(spec, progress, error);
  }
  return progress.digest ?? '';
}

/** A push that stopped part way: the tags pushed (and as what) and those not, then why. */
function pushError(spec: BuildSpec, progress: PushProgress, error: unknown): Error {
  const left = refs(spec).filter((r) => !progress.pushed.includes(r));
  return new Error(`${progress.pushed.length ? `pushed as ${progress.digest}: ${progress.pushed.join(', ')}` : 'no tag was pushed'}; not pushed: ${left.join(', ')}. ${(error as Error).message}`, { cause: error });
}

/** Whether skopeo, which pushes a scanned layout as it is, can be run. */
export async function hasSkopeo(): Promise<boolean> {
  const found = await exec('skopeo', ['--version'], { silent: true, ignoreExitCode: true }).catch(() => undefined);
  return found?.exitCode === 0;
}

/** `skopeo copy` of the layout's image, byte for byte (`--all`: every image of an index), to `ref`. */
export function skopeoPushArgs(layout: string, ref: string, registry: Registry): string[] {
  return ['copy', '--preserve-digests', '--all', ...registry.skopeoFlags('copy'), layoutSource(layout), `docker://${ref}`];
}

/**
 * The digest of the manifest the registry holds under `ref`: the SHA-256 of the bytes it serves
 * (`skopeo inspect --raw` writes them as received), not the pusher's account of what it sent.
 */
export async function registryDigest(ref: string, registry: Registry, secrets: readonly string[], signal?: AbortSignal): Promise<string> {
  // Silent and unredacted, so the bytes hashed are the registry's; an error is redacted here instead.
  const raw = await exec('skopeo', ['inspect', '--raw', ...registry.skopeoFlags('inspect'), `docker://${ref}`], { silent: true, signal }).catch((error: unknown) => {
    throw new Error(redact((error as Error).message, secrets), { cause: error });
  });
  return `sha256:${createHash('sha256').update(raw.stdout, 'utf8').digest('hex')}`;
}

/** How far a push got: the references that hold `digest`, in order. */
export interface PushProgress {
  pushed: string[];
  /** The digest the pushed references hold. */
  digest?: string;
  /** Stops the push in progress and the tags after it. */
  signal?: AbortSignal;
}

/**
 * Pushes what was built and scanned (BuiltImage with a local layout) to every tag with skopeo, and
 * returns the scanned digest, which the registry then holds under every tag, or this throws, naming
 * the tags pushed and not. buildah's and Buildx's own pushes write the image again (layers compressed
 * again, or a blob the registry already has under another compression reused), so the digest would
 * not be the scanned one; `--preserve-digests` makes skopeo fail instead. The image goes first by
 * digest, untagged, and what the registry then holds under it is read back and checked before any
 * tag moves; each tag then gets the same manifest bytes, read back and checked again. A registry
 * that stores other bytes stops the push before the next tag.
 */
export async function pushScanned(spec: BuildSpec, built: BuiltImage, registry: Registry, secrets: readonly string[], progress: PushProgress): Promise<string> {
  const expected = built.localDigest;
  if (built.scanTarget.kind !== 'oci-layout' || !expected) throw new Error('pushScanned() needs the OCI layout the build wrote');
  progress.digest = expected;
  try {
    for (const ref of [`${spec.image}@${expected}`, ...refs(spec)]) {
      progress.signal?.throwIfAborted();
      await exec('skopeo', skopeoPushArgs(built.scanTarget.ref, ref, registry), { secrets, signal: progress.signal });
      const stored = await registryDigest(ref, registry, secrets, progress.signal);
      if (stored !== expected) throw new Error(`the registry has ${ref} as ${stored}, which is not the image that was scanned (${expected}); do not deploy it`);
      if (!ref.includes('@')) progress.pushed.push(ref);
    }
  } catch (error) {
    throw pushError(spec, progress, error);
  }
  return expected;
}

/** Writes Buildx's registry cache once the gate has passed: the same build again, from BuildKit's own cache, exporting only the cache. */
export async function writeBuildxCache(spec: BuildSpec, files: BuildFiles, secrets: readonly string[], signal?: AbortSignal): Promise<void> {
  await exec('docker', buildxArgs(spec, files, { cacheOnly: true }), { secrets, signal });
}
