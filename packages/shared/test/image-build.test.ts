// The commands build-scan would run where this machine cannot (no Docker engine): Buildx, and Grype.
// buildah and Trivy run for real in actions/build-scan/test/bundle.test.ts.
import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BuildFiles, buildahBuildArgs, buildxArgs, sourceDateEpoch, type BuildSpec } from '../src/image/build';
import { Registry, registryHost } from '../src/image/registry';
import { scanCommands, type ScanOptions } from '../src/image/scanner';

const spec = (over: Partial<BuildSpec> = {}): BuildSpec => ({
  context: '.',
  file: 'Dockerfile',
  platforms: [],
  buildArgs: [['VERSION', '1.2.3']],
  secrets: [['npm_token', 'npm-s3cret-value']],
  labels: { 'org.opencontainers.image.revision': 'abc' },
  image: 'ghcr.io/acme/shop',
  tags: ['1.2.3', 'latest'],
  push: true,
  cache: 'gha',
  cacheScope: 'ghcr.io/acme/shop',
  ...over,
});

let files: BuildFiles | undefined;
afterEach(() => files?.remove());

describe('Buildx', () => {
  it('passes secrets as 0600 files, never as arguments, with the gha cache and a push', () => {
    files = new BuildFiles();
    const args = buildxArgs(spec(), files);
    expect(args.join(' ')).not.toContain('npm-s3cret-value');
    const secret = args[args.indexOf('--secret') + 1]!;
    const src = /^id=npm_token,src=(.+)$/.exec(secret)?.[1];
    expect(readFileSync(src!, 'utf8')).toBe('npm-s3cret-value');
    expect(statSync(src!).mode & 0o777).toBe(0o600);
    expect(args).toEqual([
      'buildx', 'build', '--file', 'Dockerfile', '--build-arg', 'VERSION=1.2.3', '--secret', secret,
      '--label', 'org.opencontainers.image.revision=abc',
      '--cache-from', 'type=gha,scope=ghcr.io/acme/shop', '--cache-to', 'type=gha,scope=ghcr.io/acme/shop,mode=max',
      '--tag', 'ghcr.io/acme/shop:1.2.3', '--tag', 'ghcr.io/acme/shop:latest', '--push', '--metadata-file', files.file('metadata.json'), '.',
    ]);
  });

  it('loads one platform, writes several to an OCI layout, and caches in the registry', () => {
    files = new BuildFiles();
    expect(buildxArgs(spec({ push: false, cache: 'none', secrets: [] }), files)).toContain('--load');
    const multi = buildxArgs(spec({ push: false, cache: 'none', platforms: ['linux/amd64', 'linux/arm64'] }), files);
    expect(multi).toEqual(expect.arrayContaining(['--platform', 'linux/amd64,linux/arm64', '--output', `type=oci,dest=${files.file('oci')},tar=false`]));
    expect(multi).not.toContain('--load');
    expect(buildxArgs(spec({ cache: 'registry' }), files)).toEqual(expect.arrayContaining(['--cache-from', 'type=registry,ref=ghcr.io/acme/shop:buildcache', '--cache-to', 'type=registry,ref=ghcr.io/acme/shop:buildcache,mode=max']));
  });
});

describe('buildah', () => {
  it('tags one platform, builds several into a manifest list, and talks plain HTTP to loopback registries only', () => {
    files = new BuildFiles();
    const local = new Registry('127.0.0.1:5000', 'buildah');
    const one = buildahBuildArgs(spec({ image: '127.0.0.1:5000/shop', cache: 'registry' }), files, local);
    expect(one).toEqual(expect.arrayContaining(['--tag', '127.0.0.1:5000/shop:1.2.3', '--layers', '--cache-from', '127.0.0.1:5000/shop-buildcache', '--tls-verify=false']));
    const multi = buildahBuildArgs(spec({ platforms: ['linux/amd64', 'linux/arm64'], cache: 'none' }), files, new Registry('ghcr.io', 'buildah'));
    expect(multi).toEqual(expect.arrayContaining(['--platform', 'linux/amd64,linux/arm64', '--manifest', 'ghcr.io/acme/shop:1.2.3']));
    expect(multi).not.toContain('--tag');
    expect(multi).not.toContain('--tls-verify=false');
    expect(multi.join(' ')).not.toContain('npm-s3cret-value');
    expect(multi).not.toContain('--timestamp');
    expect(buildahBuildArgs(spec({ timestamp: 1700000000 }), files, local)).toEqual(expect.arrayContaining(['--timestamp', '1700000000']));
  });

  it('reads SOURCE_DATE_EPOCH as whole seconds, and refuses anything else by name', () => {
    expect(sourceDateEpoch({})).toBeUndefined();
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1700000000);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: '2023-11-14' })).toThrow(/^SOURCE_DATE_EPOCH is "2023-11-14"; expected whole seconds since 1970-01-01/);
  });

  it('reads the registry host from the image name as Docker does', () => {
    expect(registryHost('ghcr.io/acme/shop')).toBe('ghcr.io');
    expect(registryHost('localhost:5000/shop')).toBe('localhost:5000');
    expect(registryHost('acme/shop')).toBe('docker.io');
    expect(registryHost('shop')).toBe('docker.io');
  });
});

describe('scanner commands', () => {
  const options = (over: Partial<ScanOptions>): ScanOptions => ({ scanner: 'trivy', bin: 'trivy', cacheDir: '/c', target: { kind: 'registry', ref: 'ghcr.io/acme/shop@sha256:ab' }, scans: ['vuln', 'secret'], insecure: false, env: {}, report: '/r.json', emptyIgnoreFile: '/none', secrets: [], ...over });

  it('runs Trivy from its own database only, ignoring any .trivyignore of its own, and the SBOM separately', () => {
    expect(scanCommands(options({ sbom: '/sbom.json', platform: 'linux/arm64' }))).toEqual([
      ['image', '--cache-dir', '/c', '--skip-db-update', '--no-progress', '--skip-version-check', '--disable-telemetry', '--timeout', '15m', '--platform', 'linux/arm64', '--scanners', 'vuln,secret', '--ignorefile', '/none', '--format', 'json', '--output', '/r.json', '--image-src', 'remote', 'ghcr.io/acme/shop@sha256:ab'],
      ['image', '--cache-dir', '/c', '--skip-db-update', '--no-progress', '--skip-version-check', '--disable-telemetry', '--timeout', '15m', '--platform', 'linux/arm64', '--format', 'cyclonedx', '--output', '/sbom.json', '--image-src', 'remote', 'ghcr.io/acme/shop@sha256:ab'],
    ]);
    expect(scanCommands(options({ target: { kind: 'oci-layout', ref: '/oci' }, insecure: true }))[0]).toEqual(expect.arrayContaining(['--insecure', '--input', '/oci']));
  });

  it('runs Grype on the same targets with its own source schemes', () => {
    expect(scanCommands(options({ scanner: 'grype', scans: ['vuln'] }))).toEqual([['registry:ghcr.io/acme/shop@sha256:ab', '--output', 'json', '--file', '/r.json']]);
    expect(scanCommands(options({ scanner: 'grype', target: { kind: 'docker', ref: 'shop:ci' } }))[0]?.[0]).toBe('docker:shop:ci');
    expect(scanCommands(options({ scanner: 'grype', target: { kind: 'oci-layout', ref: '/oci' } }))[0]?.[0]).toBe('oci-dir:/oci');
  });
});
