// Trivy or Grype at a pinned version, verified before it runs, with its vulnerability database cached by
// day and fetched from mirrors in order; then a scan of the built image into a JSON report that
// findings.ts reads. Trivy also writes a CycloneDX SBOM.
//
// Trivy release assets 0.69.4 to 0.69.6 were malicious (CVE-2026-33634, March 2026): they are refused,
// and the pinned versions' SHA-256 are written here, so a tampered release and its own checksums file
// can never vouch for each other.
import * as cache from '@actions/cache';
import * as core from '@actions/core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../exec';
import { requestOk } from '../http';
import { installVerifiedTool } from '../tool-install';
import type { BuiltImage } from './build';
import { insecureRegistry, registryHost } from './registry';

export type ScannerName = 'trivy' | 'grype';
export type ScanKind = 'vuln' | 'secret';

interface ScannerRelease {
  defaultVersion: string;
  /** SHA-256 of the linux archives of versions vouched for here, by Node's process.arch. */
  pinned: Record<string, Partial<Record<string, string>>>;
  /** Versions that must never run, and why. */
  refused: Record<string, string>;
  asset(version: string, arch: string): string;
  /** Path of a release's assets below the mirror, e.g. /aquasecurity/trivy/releases/download/v0.69.3 */
  releasePath(version: string): string;
  checksums(version: string): string;
  defaultDbRepositories: string[];
  informationUri: string;
  scans: ScanKind[];
}

const COMPROMISED = 'a malicious release (CVE-2026-33634); use 0.69.3 or 0.70.0 and later';

export const SCANNER_RELEASES: Record<ScannerName, ScannerRelease> = {
  trivy: {
    defaultVersion: '0.69.3',
    pinned: {
      '0.69.3': { x64: '1816b632dfe529869c740c0913e36bd1629cb7688bd5634f4a858c1d57c88b75', arm64: '7e3924a974e912e57b4a99f65ece7931f8079584dae12eb7845024f97087bdfd' },
    },
    refused: { '0.69.4': COMPROMISED, '0.69.5': COMPROMISED, '0.69.6': COMPROMISED },
    asset: (v, arch) => `trivy_${v}_Linux-${arch === 'arm64' ? 'ARM64' : '64bit'}.tar.gz`,
    releasePath: (v) => `/aquasecurity/trivy/releases/download/v${v}`,
    checksums: (v) => `trivy_${v}_checksums.txt`,
    defaultDbRepositories: ['mirror.gcr.io/aquasec/trivy-db:2', 'ghcr.io/aquasecurity/trivy-db:2'],
    informationUri: 'https://trivy.dev',
    scans: ['vuln', 'secret'],
  },
  grype: {
    defaultVersion: '0.110.0',
    pinned: {
      '0.110.0': { x64: 'aaa98d27d2d7efd9317c6a1ad6d9b15f3e65bab320e7d03bde41e251387bb71c', arm64: '804041ee69f119022e3e866741a558eae6f2df372a5dc1a5376d456d16f8c931' },
    },
    refused: {},
    asset: (v, arch) => `grype_${v}_linux_${arch === 'arm64' ? 'arm64' : 'amd64'}.tar.gz`,
    releasePath: (v) => `/anchore/grype/releases/download/v${v}`,
    checksums: (v) => `grype_${v}_checksums.txt`,
    defaultDbRepositories: ['https://grype.anchore.io/databases'],
    informationUri: 'https://github.com/anchore/grype',
    scans: ['vuln'],
  },
};

export interface ScannerSpec {
  name: ScannerName;
  version: string;
  /** The archive's SHA-256 from the user, which wins over the table above. */
  checksum?: string;
  /** Where releases are downloaded from, mirroring github.com's release paths. */
  mirror: string;
  /** Sent to the mirror (Basic credentials taken out of its URL). */
  mirrorHeaders?: Record<string, string>;
}

/** The expected SHA-256 of the archive and who vouches for it; a checksums file alone gets a warning. */
async function expectedChecksum(spec: ScannerSpec, asset: string, base: string): Promise<{ sha256: string; source: string }> {
  const release = SCANNER_RELEASES[spec.name];
  if (spec.checksum) return { sha256: spec.checksum.toLowerCase(), source: 'the scanner-checksum input' };
  const pinned = release.pinned[spec.version]?.[process.arch];
  if (pinned) return { sha256: pinned, source: `Slipway's pin of ${spec.name} ${spec.version}` };
  const url = `${base}/${release.checksums(spec.version)}`;
  const body = (await requestOk({ label: `${spec.name} ${spec.version} checksums`, url, headers: spec.mirrorHeaders }, { retries: 3, timeoutMs: 30_000 })).body;
  const line = body.split('\n').find((l) => l.trim().split(/\s+/)[1]?.replace(/^\*/, '') === asset);
  const sha256 = line?.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`${url} lists no SHA-256 for ${asset}`);
  core.warning(`${spec.name} ${spec.version} is not pinned by Slipway: its archive is checked only against the release's own ${release.checksums(spec.version)}. Set scanner-checksum to pin it.`);
  return { sha256, source: url };
}

/** The scanner's executable, installed through the tool cache after its SHA-256 is checked. */
export async function installScanner(spec: ScannerSpec): Promise<string> {
  const release = SCANNER_RELEASES[spec.name];
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) throw new Error(`${spec.name} is installed for Linux x64 and arm64 runners only, not ${process.platform}/${process.arch}`);
  const base = `${spec.mirror.replace(/\/+$/, '')}${release.releasePath(spec.version)}`;
  const asset = release.asset(spec.version, process.arch);
  const dir = await installVerifiedTool({ name: spec.name, version: spec.version, url: `${base}/${asset}`, checksum: () => expectedChecksum(spec, asset, base), headers: spec.mirrorHeaders });
  return join(dir, spec.name);
}

export interface DatabaseOptions {
  scanner: ScannerName;
  bin: string;
  cacheDir: string;
  repositories: string[];
  /** Save and restore it with the Actions cache, when the runner offers one. */
  actionsCache: boolean;
  now?: Date;
}

/** What the database step did, for the log and summary. */
export interface DatabaseResult {
  source: string;
  cacheKey?: string;
}

/** Grype is configured through its environment: where its database lives, and no update check of its own. */
const grypeEnv = (cacheDir: string): Record<string, string> => ({ GRYPE_DB_CACHE_DIR: cacheDir, GRYPE_CHECK_FOR_APP_UPDATE: 'false' });

/**
 * The vulnerability database in cacheDir: today's from the Actions cache, else downloaded from the
 * first repository that answers, else (all failing) an older cached one with a warning.
 */
export async function prepareDatabase(options: DatabaseOptions): Promise<DatabaseResult> {
  mkdirSync(options.cacheDir, { recursive: true });
  const prefix = `slipway-${options.scanner}-db-${process.platform}-${process.arch}-`;
  const key = `${prefix}${(options.now ?? new Date()).toISOString().slice(0, 10)}`;
  const useCache = options.actionsCache && cache.isFeatureAvailable();
  let restored: string | undefined;
  if (useCache) {
    restored = await cache.restoreCache([options.cacheDir], key, [prefix]).catch((error: unknown) => {
      core.warning(`Could not restore the ${options.scanner} database from the Actions cache: ${(error as Error).message}`);
      return undefined;
    });
    if (restored === key) return { source: `the Actions cache (${key})`, cacheKey: key };
  }
  const failures: string[] = [];
  for (const repository of options.repositories) {
    const args = options.scanner === 'trivy' ? ['image', '--download-db-only', ...TRIVY_QUIET, '--cache-dir', options.cacheDir, '--db-repository', repository, ...(insecureRegistry(registryHost(repository)) ? ['--insecure'] : [])] : ['db', 'update'];
    try {
      const env = options.scanner === 'grype' ? { ...process.env, ...grypeEnv(options.cacheDir), GRYPE_DB_UPDATE_URL: repository } : process.env;
      await exec(options.bin, args, { env, timeoutMs: 10 * 60_000 });
    } catch (error) {
      failures.push(`${repository}: ${(error as Error).message.split('\n').at(-1)}`);
      core.warning(`The ${options.scanner} database could not be fetched from ${repository}; trying the next repository`);
      continue;
    }
    if (useCache) {
      await cache.saveCache([options.cacheDir], key).catch((error: unknown) => core.info(`The ${options.scanner} database was not saved to the Actions cache: ${(error as Error).message}`));
    }
    return { source: repository, cacheKey: useCache ? key : undefined };
  }
  if (restored) {
    core.warning(`Every database repository failed; scanning with the cached database ${restored}, which is older than today's.`);
    return { source: `the Actions cache (${restored}, stale)`, cacheKey: restored };
  }
  throw new Error(`the ${options.scanner} vulnerability database could not be fetched from any of db-repository:\n  ${failures.join('\n  ')}`);
}

export interface ScanOptions {
  scanner: ScannerName;
  bin: string;
  cacheDir: string;
  target: BuiltImage['scanTarget'];
  scans: ScanKind[];
  platform?: string;
  /** The registry is plain HTTP (loopback). */
  insecure: boolean;
  /** Registry credentials for the scanner. */
  env: Record<string, string>;
  /** Where the JSON report goes. */
  report: string;
  /** An empty ignore file: Slipway applies ignore rules itself, so Trivy must not read a .trivyignore of its own. */
  emptyIgnoreFile: string;
  /** Trivy only: also write a CycloneDX SBOM here. */
  sbom?: string;
  secrets: readonly string[];
  /** Stops the scanner, e.g. when the job is cancelled. */
  signal?: AbortSignal;
}

/** No progress bars in logs, and no calls home: the version is pinned, announcements are not needed. */
const TRIVY_QUIET = ['--no-progress', '--skip-version-check', '--disable-telemetry'];

function trivyTarget(target: ScanOptions['target']): string[] {
  return target.kind === 'oci-layout' ? ['--input', target.ref] : ['--image-src', target.kind === 'registry' ? 'remote' : 'docker', target.ref];
}

/** The scanner's command lines: the report, then (Trivy) the SBOM. */
export function scanCommands(o: ScanOptions): string[][] {
  if (o.scanner === 'grype') {
    const source = { registry: 'registry', docker: 'docker', 'oci-layout': 'oci-dir' }[o.target.kind];
    return [[`${source}:${o.target.ref}`, '--output', 'json', '--file', o.report, ...(o.platform ? ['--platform', o.platform] : [])]];
  }
  const common = ['--cache-dir', o.cacheDir, '--skip-db-update', ...TRIVY_QUIET, '--timeout', '15m', ...(o.insecure ? ['--insecure'] : []), ...(o.platform ? ['--platform', o.platform] : [])];
  return [
    ['image', ...common, '--scanners', o.scans.join(','), '--ignorefile', o.emptyIgnoreFile, '--format', 'json', '--output', o.report, ...trivyTarget(o.target)],
    ...(o.sbom ? [['image', ...common, '--format', 'cyclonedx', '--output', o.sbom, ...trivyTarget(o.target)]] : []),
  ];
}

/** Runs the scan; the scanner exits 0 whatever it finds, as the gate is Slipway's. */
export async function scanImage(o: ScanOptions): Promise<void> {
  writeFileSync(o.emptyIgnoreFile, '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...o.env,
    // The database was prepared beforehand (and may be a stale cached one, said so then).
    ...(o.scanner === 'grype' ? { ...grypeEnv(o.cacheDir), GRYPE_DB_AUTO_UPDATE: 'false', GRYPE_DB_VALIDATE_AGE: 'false', ...(o.insecure ? { GRYPE_REGISTRY_INSECURE_USE_HTTP: 'true' } : {}) } : {}),
  };
  for (const args of scanCommands(o)) await exec(o.bin, args, { env, secrets: o.secrets, timeoutMs: 20 * 60_000, signal: o.signal });
}
