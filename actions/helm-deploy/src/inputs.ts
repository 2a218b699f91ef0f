import { existsSync } from 'node:fs';
import { InputError, checkEndpoint, checkUrl, getBoolean, getDuration, getEnum, getInteger, getList, getString } from '@slipway/shared';
import { isReleaseName, type ChartSource, type ValuesSpec } from '@slipway/shared/helm';

export interface HelmDeployConfig {
  release: string;
  namespace: string;
  createNamespace: boolean;
  chart: ChartSource;
  chartVersion?: string;
  values: ValuesSpec;
  wait: boolean;
  /** Helm's --timeout, e.g. `600s`. */
  timeout: string;
  timeoutMs: number;
  rollbackOnFailure: boolean;
  historyMax: number;
  dryRun?: 'client' | 'server';
  diff: boolean;
  helmTest: boolean;
  verifyRollout: boolean;
  kubeconfig: string;
  kubeContext: string;
  helmVersion?: string;
  /** The Helm archive's SHA-256 from the user, for a version Slipway does not pin. */
  helmChecksum?: string;
  helmMirror: string;
  /** Basic credentials from helm-mirror's user-info. */
  helmMirrorHeaders: Record<string, string>;
  github?: { token: string; environment: string; environmentUrl?: string };
  summary: boolean;
}

/** Release names as Helm accepts them (DNS-1123 label, at most 53 characters). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Reads and checks every input before Helm or the cluster is touched. */
export function readInputs(): HelmDeployConfig {
  const release = getString('release', { required: 'a Helm release name, e.g. `shop`' });
  if (!isReleaseName(release)) throw new InputError('release', release, 'a release name of lowercase letters, digits and `-`, at most 53 characters');
  const namespace = getString('namespace') || 'default';
  if (!NAMESPACE.test(namespace) || namespace.length > 63) throw new InputError('namespace', namespace, 'a namespace name of lowercase letters, digits and `-`, at most 63 characters');

  const chart = getString('chart', { required: 'a local chart folder or archive, a chart name in `repo`, or an `oci://` reference' });
  const repoInput = getString('repo');
  const oci = chart.startsWith('oci://');
  if (repoInput && oci) throw new InputError('repo', repoInput, 'empty with an `oci://` chart, which names its registry itself');
  // user:password@ in the URL moves to --username and --password-stdin (registered as secrets first).
  const repo = repoInput ? repoCredentials(repoInput) : undefined;
  if (!repo && !oci && !existsSync(chart)) throw new InputError('chart', chart, 'an existing chart folder or .tgz (relative to the workspace), a chart name with `repo`, or an `oci://` reference');
  let username = getString('repo-username');
  let password = getString('repo-password', { secret: true });
  if (repo?.username) {
    if (username || password) throw new InputError('repo', repoInput, 'a URL without `user:password@` when repo-username or repo-password is set (give the credentials once)', true);
    ({ username, password } = repo);
  }
  if (password && !username) throw new InputError('repo-username', '', 'the username that goes with repo-password');
  const chartVersion = getString('chart-version') || undefined;
  if (chartVersion && !repo && !oci) throw new InputError('chart-version', chartVersion, 'empty for a local chart, whose folder is its version');

  const timeoutMs = getDuration('timeout', '10m');
  const dryRun = getEnum('dry-run', ['false', 'client', 'server'] as const, 'false');
  const helmVersion = getString('helm-version') || undefined;
  if (helmVersion && !/^v?[34]\.\d+\.\d+$/.test(helmVersion)) throw new InputError('helm-version', helmVersion, 'a Helm 3 or 4 release such as `v3.19.0` or `v4.1.4`');
  const helmChecksum = getString('helm-checksum').toLowerCase() || undefined;
  if (helmChecksum && !/^[0-9a-f]{64}$/.test(helmChecksum)) throw new InputError('helm-checksum', helmChecksum, 'the SHA-256 of the Helm release archive, 64 hex digits');
  if (helmChecksum && !helmVersion) throw new InputError('helm-version', '', 'the Helm release that helm-checksum is the archive checksum of');
  const token = getString('github-token', { secret: true });
  const environment = getString('environment');
  if (environment && !token) throw new InputError('github-token', '', 'a token with `deployments: write` (e.g. `${{ github.token }}`), since environment is set');
  const environmentUrl = getString('environment-url') || undefined;
  if (environmentUrl) checkUrl('environment-url', environmentUrl, { allowInsecure: true });
  const helmMirror = checkEndpoint('helm-mirror', getString('helm-mirror') || 'https://get.helm.sh', { allowInsecure: false });

  return {
    release,
    namespace,
    createNamespace: getBoolean('create-namespace', false),
    chart: { chart, repo: repo?.url, username: username || undefined, password: password || undefined },
    chartVersion,
    values: {
      valuesFiles: getList('values-files').map((file) => {
        if (!existsSync(file)) throw new InputError('values-files', file, 'values files that exist (relative to the workspace)');
        return file;
      }),
      values: getString('values'),
      set: getList('set', { separator: 'newline' }),
      imageRepository: getString('image-repository') || undefined,
      imageTag: getString('image-tag') || undefined,
    },
    wait: getBoolean('wait', true),
    timeout: `${Math.ceil(timeoutMs / 1000)}s`,
    timeoutMs,
    rollbackOnFailure: getBoolean('rollback-on-failure', true),
    historyMax: getInteger('history-max', 10, { min: 0, max: 10_000 }),
    dryRun: dryRun === 'false' ? undefined : dryRun,
    diff: getBoolean('diff', true),
    helmTest: getBoolean('helm-test', true),
    verifyRollout: getBoolean('verify-rollout', true),
    kubeconfig: getString('kubeconfig', { secret: true }),
    kubeContext: getString('kube-context'),
    helmVersion: helmVersion && !helmVersion.startsWith('v') ? `v${helmVersion}` : helmVersion,
    helmChecksum,
    helmMirror: helmMirror.url.toString().replace(/\/$/, ''),
    helmMirrorHeaders: helmMirror.headers,
    github: token && environment ? { token, environment, environmentUrl } : undefined,
    summary: getBoolean('summary', true),
  };
}

/** The repository URL without user-info, and the user and password that were in it (decoded). */
function repoCredentials(value: string): { url: string; username: string; password: string } {
  // The path or query may be the credential (a Cloudsmith entitlement, `?token=`), and Helm's errors quote the URL.
  const { url } = checkEndpoint('repo', value, { protocols: ['https:', 'http:'], secretPath: true });
  const given = new URL(value);
  if (!given.username && !given.password) return { url: value, username: '', password: '' };
  if (!given.username) throw new InputError('repo', value, 'a URL whose `user:password@` names a user', true);
  return { url: url.href, username: decode(given.username), password: decode(given.password) };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
