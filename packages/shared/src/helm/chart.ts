// Where the chart comes from: a local folder or archive, a chart repository (`repo` + name), or an
// OCI reference. Credentials go to Helm on stdin into a repository or registry config private to this
// run (never on the command line, never into the runner's own Helm config).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { displayUrl } from '../secrets/index';
import type { Helm } from './helm';

export interface ChartSource {
  chart: string;
  /** The repository URL without user-info (credentials go in username and password). */
  repo?: string;
  username?: string;
  password?: string;
}

/** HELM_* variables of a private config folder, for Helm's repository and registry credentials. */
export function privateHelmConfig(): { env: Record<string, string>; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-helm-'));
  return {
    env: { HELM_REPOSITORY_CONFIG: join(dir, 'repositories.yaml'), HELM_REPOSITORY_CACHE: join(dir, 'cache'), HELM_REGISTRY_CONFIG: join(dir, 'registry.json') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Adds the repository or logs in to the registry when needed; returns the chart reference for upgrade. */
export async function prepareChart(helm: Helm, source: ChartSource): Promise<string> {
  const login = source.username ? ['--username', source.username, '--password-stdin'] : [];
  if (source.repo) {
    // Logged as scheme + host: a repository's path may hold an access token (e.g. Cloudsmith's).
    const args = ['repo', 'add', 'slipway-chart-repo', source.repo, '--force-update', ...login];
    await helm.run(args, { input: source.password, shown: args.map((arg) => (arg === source.repo ? displayUrl(arg) : arg)) });
    return `slipway-chart-repo/${source.chart}`;
  }
  if (source.chart.startsWith('oci://') && source.username) {
    await helm.run(['registry', 'login', new URL(source.chart.replace(/^oci:/, 'https:')).host, ...login], { input: source.password });
  }
  return source.chart;
}
