// Building and pushing an image with Docker Buildx or daemonless buildah, from one build spec. Build
// secrets go to the builder as 0600 files through `--secret id=…,src=…`, never as arguments, so they
// are in no process list, log or image layer.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exec } from '../exec';
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
  /** The scanner's target: a pushed `image@digest`, an image in the local daemon, or an OCI layout folder. */
  scanTarget: { kind: 'registry' | 'docker' | 'oci-layout'; ref: string };
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
 * `docker buildx build` arguments. A push goes straight from the builder; otherwise one platform is
 * loaded into the daemon and several are written as an OCI layout folder, which the scanner reads.
 */
export function buildxArgs(spec: BuildSpec, files: BuildFiles): string[] {
  const cache =
    spec.cache === 'gha'
      ? ['--cache-from', `type=gha,scope=${spec.cacheScope}`, '--cache-to', `type=gha,scope=${spec.cacheScope},mode=max`]
      : spec.cache === 'registry'
        ? ['--cache-from', `type=registry,ref=${spec.image}:buildcache`, '--cache-to', `type=registry,ref=${spec.image}:buildcache,mode=max`]
        : [];
  const output = spec.push ? ['--push'] : spec.platforms.length > 1 ? ['--output', `type=oci,dest=${files.file('oci')},tar=false`] : ['--load'];
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

/** `buildah build` arguments: several platforms are built into a manifest list named after the first tag. */
export function buildahBuildArgs(spec: BuildSpec, files: BuildFiles, registry: Registry): string[] {
  const cache = spec.cache === 'registry' ? ['--layers', '--cache-from', `${spec.image}-buildcache`, '--cache-to', `${spec.image}-buildcache`] : [];
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
export async function buildWithBuildx(spec: BuildSpec, files: BuildFiles, secrets: readonly string[]): Promise<BuiltImage> {
  await exec('docker', buildxArgs(spec, files), { secrets });
  const metadata = JSON.parse(readFileSync(files.file('metadata.json'), 'utf8')) as Record<string, unknown>;
  const digest = String(metadata['containerimage.digest'] ?? '');
  const [first = ''] = refs(spec);
  if (spec.push) return { digest, scanTarget: { kind: 'registry', ref: `${spec.image}@${digest}` } };
  return { digest: '', scanTarget: spec.platforms.length > 1 ? { kind: 'oci-layout', ref: files.file('oci') } : { kind: 'docker', ref: first } };
}

/** Builds with buildah, then pushes every tag (the digest is the same for all), or writes an OCI layout. */
export async function buildWithBuildah(spec: BuildSpec, files: BuildFiles, registry: Registry, secrets: readonly string[]): Promise<BuiltImage> {
  await exec('buildah', buildahBuildArgs(spec, files, registry), { secrets });
  const list = spec.platforms.length > 1;
  // The local image (or manifest list) is named after the first tag.
  const [source = `${spec.image}:latest`] = refs(spec);
  if (!spec.push) {
    const layout = files.file('oci');
    await exec('buildah', [...(list ? ['manifest', 'push', '--all'] : ['push']), source, `oci:${layout}`], { secrets });
    return { digest: '', scanTarget: { kind: 'oci-layout', ref: layout } };
  }
  let digest = '';
  for (const ref of refs(spec)) {
    const digestFile = files.file('digest');
    await exec('buildah', [...(list ? ['manifest', 'push', '--all'] : ['push']), ...registry.buildahFlags(), '--digestfile', digestFile, source, `docker://${ref}`], { secrets });
    digest ||= readFileSync(digestFile, 'utf8').trim();
  }
  return { digest, scanTarget: { kind: 'registry', ref: `${spec.image}@${digest}` } };
}
