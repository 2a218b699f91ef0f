import { existsSync, readFileSync } from 'node:fs';
import { InputError, checkEndpoint, checkUrl, getBoolean, getEnum, getKeyValues, getList, getPairs, getString, type RunContext } from '@slipway/shared';
import { DEFAULT_TAG_RULES, SCANNER_RELEASES, computeTags, isImageName, parseIgnoreFile, parseSeverities, parseTagRule, registryHost, type Builder, type CacheMode, type Credentials, type IgnoreRule, type ScanKind, type ScannerName, type Severity } from '@slipway/shared/image';

export interface BuildScanConfig {
  context: string;
  file?: string;
  image: string;
  platforms: string[];
  buildArgs: [string, string][];
  secrets: [string, string][];
  labels: Record<string, string>;
  tags: string[];
  push: boolean;
  /** With push and scan: push only after the local image passes the gate; false pushes first and scans the pushed image. */
  scanBeforePush: boolean;
  registry: string;
  credentials?: Credentials;
  cache: CacheMode;
  builder: Builder;
  scan?: {
    scanner: ScannerName;
    version: string;
    checksum?: string;
    mirror: string;
    mirrorHeaders: Record<string, string>;
    scans: ScanKind[];
    /** Empty: report only. */
    failOn: Severity[];
    ignoreUnfixed: boolean;
    ignore: IgnoreRule[];
    ignoreFile?: string;
    dbRepositories: string[];
    sbom: boolean;
  };
  sarifFile: string;
  uploadSarif: boolean;
  githubToken: string;
  summary: boolean;
}

const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;

/** Reads and checks every input before anything is built, logged in or downloaded. */
export function readInputs(ctx: RunContext & { defaultBranch?: string }, env: NodeJS.ProcessEnv = process.env): BuildScanConfig {
  const image = getString('image', { required: 'an image name without a tag, e.g. `ghcr.io/acme/shop`' });
  if (!isImageName(image)) {
    throw new InputError('image', image, 'an image name without tag or digest, lowercase, e.g. `ghcr.io/acme/shop` (tags come from the `tags` rules)');
  }
  const context = getString('context') || '.';
  if (!existsSync(context)) throw new InputError('context', context, 'an existing folder to build from (relative to the workspace)');
  const file = getString('file') || undefined;
  if (file && !existsSync(file)) throw new InputError('file', file, 'an existing Dockerfile or Containerfile (relative to the workspace)');
  const platforms = getList('platforms');
  for (const p of platforms) if (!PLATFORM.test(p)) throw new InputError('platforms', getString('platforms'), 'platforms such as `linux/amd64,linux/arm64/v8`, comma- or newline-separated');

  const rules = getList('tags', { separator: 'newline' });
  const parsed = (rules.length ? rules : DEFAULT_TAG_RULES).map((line) => parseTagRule('tags', line));
  const tags = computeTags(parsed, { ref: ctx.ref, sha: ctx.sha, defaultBranch: ctx.defaultBranch });
  if (tags.length === 0) throw new InputError('tags', rules.join('\n'), `rules that give at least one tag for ${ctx.ref || 'this ref'} (e.g. \`type=sha\` or \`type=raw,value=edge\`)`);

  const builder = getEnum('builder', ['docker', 'buildah'] as const, 'docker');
  const push = getBoolean('push', false);
  const scanBeforePush = getBoolean('scan-before-push', true);
  const registry = getString('registry') || registryHost(image);
  let username = getString('username');
  let password = getString('password', { secret: true });
  const githubToken = getString('github-token', { secret: true });
  // GHCR takes the job's GITHUB_TOKEN (with `packages: write`) when no other credentials are given.
  if (!password && registry === 'ghcr.io' && githubToken) {
    username ||= ctx.actor;
    password = githubToken;
  }
  if (password && !username) throw new InputError('username', '', `the user name that goes with password for ${registry}`);

  const cacheInput = getString('cache') ? getEnum('cache', ['gha', 'registry', 'none'] as const, 'none') : undefined;
  const actionsCache = Boolean(env.ACTIONS_RUNTIME_TOKEN && (env.ACTIONS_CACHE_URL || env.ACTIONS_RESULTS_URL));
  if (cacheInput === 'gha' && builder === 'buildah') throw new InputError('cache', 'gha', '`registry` or `none` with builder buildah, which has no GitHub Actions cache backend');
  if (cacheInput === 'gha' && !actionsCache) throw new InputError('cache', 'gha', '`registry` or `none` here: the GitHub Actions cache service (ACTIONS_RUNTIME_TOKEN) is not available to this step');
  if (cacheInput === 'registry' && !push) throw new InputError('cache', 'registry', '`gha` or `none` when push is false: a registry cache is pushed beside the image');
  const cache: CacheMode = cacheInput ?? (builder === 'docker' && actionsCache ? 'gha' : 'none');

  const scanner = getEnum('scanner', ['trivy', 'grype'] as const, 'trivy');
  const release = SCANNER_RELEASES[scanner];
  const version = (getString('scanner-version') || release.defaultVersion).replace(/^v/, '');
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new InputError('scanner-version', version, `a ${scanner} release such as \`${release.defaultVersion}\``);
  const refused = release.refused[version];
  if (refused) throw new InputError('scanner-version', version, `any version but this one, which is ${refused}`);
  const checksum = getString('scanner-checksum') || undefined;
  if (checksum && !/^[0-9a-fA-F]{64}$/.test(checksum)) throw new InputError('scanner-checksum', checksum, `the SHA-256 (64 hex digits) of the ${scanner} ${version} release archive`);
  const mirror = checkEndpoint('scanner-mirror', getString('scanner-mirror') || 'https://github.com');
  const scansText = getList('scanners');
  const scans = (scansText.length ? scansText : release.scans) as ScanKind[];
  const unsupported = scans.filter((s) => !release.scans.includes(s));
  if (unsupported.length) throw new InputError('scanners', scansText.join(','), `${release.scans.map((s) => `\`${s}\``).join(' or ')} for ${scanner}`);
  const failOnText = getString('fail-on') || 'CRITICAL,HIGH';
  const failOn = failOnText.toLowerCase() === 'none' ? [] : parseSeverities('fail-on', failOnText);
  const sbom = getBoolean('sbom', false);
  if (sbom && scanner !== 'trivy') throw new InputError('sbom', 'true', '`false` with scanner grype (Trivy writes the SBOM)');
  const ignoreInput = getString('ignore-file');
  if (ignoreInput && !existsSync(ignoreInput)) throw new InputError('ignore-file', ignoreInput, 'an existing .trivyignore-style file (relative to the workspace)');
  const ignoreFile = ignoreInput || (existsSync('.trivyignore') ? '.trivyignore' : undefined);
  const dbRepositories = getList('db-repository');
  for (const repo of dbRepositories) if (scanner === 'grype') checkUrl('db-repository', repo);

  return {
    context,
    file,
    image,
    platforms,
    buildArgs: getPairs('build-args', { expected: '`NAME=value` lines, e.g. `VERSION=1.2.3`' }),
    secrets: getPairs('secrets', { secret: true, expected: '`id=value` lines, e.g. `npm_token=${{ secrets.NPM_TOKEN }}`' }),
    labels: Object.fromEntries(getKeyValues('labels')),
    tags,
    push,
    scanBeforePush,
    registry,
    credentials: password ? { username, password } : undefined,
    cache,
    builder,
    scan: getBoolean('scan', true)
      ? {
          scanner,
          version,
          checksum,
          mirror: mirror.url.toString().replace(/\/+$/, ''),
          mirrorHeaders: mirror.headers,
          scans,
          failOn,
          ignoreUnfixed: getBoolean('ignore-unfixed', false),
          ignore: ignoreFile ? parseIgnoreFile(ignoreInput ? 'ignore-file' : 'ignore-file (.trivyignore)', readFileSync(ignoreFile, 'utf8')) : [],
          ignoreFile,
          dbRepositories: dbRepositories.length ? dbRepositories : release.defaultDbRepositories,
          sbom,
        }
      : undefined,
    sarifFile: getString('sarif-file'),
    uploadSarif: getBoolean('upload-sarif', true),
    githubToken,
    summary: getBoolean('summary', true),
  };
}
