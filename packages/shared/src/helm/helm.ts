// Helm 3 and Helm 4 behind one interface: the flags that differ between them are chosen here, every
// call is an argv array, and the kubeconfig, context and namespace are always explicit.
import * as core from '@actions/core';
import { exec, ExecError } from '../exec';
import { redact } from '../secrets/index';

export interface HelmTarget {
  kubeconfigPath?: string;
  context?: string;
  namespace: string;
  /** HELM_* variables, e.g. a private repository and registry config for this run. */
  env?: Record<string, string>;
}

export interface HelmRevision {
  revision: number;
  status: string;
  chart: string;
  app_version: string;
  description: string;
  updated: string;
}

export interface UpgradeOptions {
  release: string;
  /** A local path, `<repo-alias>/<name>`, or an oci:// reference. */
  chart: string;
  version?: string;
  createNamespace: boolean;
  valuesFiles: string[];
  /** `--set key=value` arguments, in order (later wins). */
  set: string[];
  /** `--set-literal key=value` arguments (Helm 3.12+), applied after every --set; the value is never parsed. */
  literal?: string[];
  wait: boolean;
  timeout: string;
  rollbackOnFailure: boolean;
  historyMax: number;
  dryRun?: 'client' | 'server';
}

export class HelmError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(message);
    this.name = 'HelmError';
  }
}

/** A name Helm accepts for a release: a DNS-1123 label of at most 53 characters. */
export const isReleaseName = (name: string): boolean => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 53;

/** No `helm` to run: the action says how it can install one. */
export class HelmNotInstalled extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HelmNotInstalled';
  }
}

export class Helm {
  private constructor(
    readonly binary: string,
    /** e.g. v4.1.4 */
    readonly version: string,
    private readonly target: HelmTarget,
    private readonly secrets: string[],
  ) {}

  /** The Helm at `binary`, asked for its version (works with Helm 3 and 4). */
  static async open(binary: string, target: HelmTarget, secrets: string[] = []): Promise<Helm> {
    let version: string;
    try {
      version = (await exec(binary, ['version', '--template', '{{.Version}}'], { silent: true })).stdout.trim();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new HelmNotInstalled(`helm is not installed on this runner (${binary}): install Helm 3 or 4 (e.g. azure/setup-helm) before this step`, { cause: error });
      throw error;
    }
    if (!/^v[34]\./.test(version)) throw new Error(`${binary} is Helm ${version}; Slipway drives Helm 3 and Helm 4`);
    return new Helm(binary, version, target, secrets);
  }

  get major(): 3 | 4 {
    return this.version.startsWith('v4.') ? 4 : 3;
  }

  /** The chart and its values, as upgrade and template take them (later values win). */
  private chartArgs(o: UpgradeOptions): string[] {
    const args = [o.chart];
    if (o.version) args.push('--version', o.version);
    for (const file of o.valuesFiles) args.push('--values', file);
    for (const value of o.set) args.push('--set', value);
    if (o.literal?.length && this.major === 3 && Number(/^v3\.(\d+)\./.exec(this.version)?.[1]) < 12) {
      throw new Error(`helm ${this.version} has no --set-literal (Helm 3.12 and later), which the image repository and tag are passed with: use a newer Helm`);
    }
    for (const value of o.literal ?? []) args.push('--set-literal', value);
    return args;
  }

  private globals(namespace = this.target.namespace): string[] {
    return [
      ...(this.target.kubeconfigPath ? [`--kubeconfig=${this.target.kubeconfigPath}`] : []),
      ...(this.target.context ? [`--kube-context=${this.target.context}`] : []),
      `--namespace=${namespace}`,
    ];
  }

  /**
   * Runs helm; output is captured (logged by the caller), errors carry Helm's own message. `shown` is
   * the command line to log instead of args, when an argument must not be printed whole.
   */
  async run(args: string[], options: { input?: string; echo?: boolean; shown?: string[] } = {}): Promise<string> {
    // A `--set db.password=…` line is shown as `--set db.password=***`, not left to the runner's mask.
    core.info(redact(`helm ${(options.shown ?? args).join(' ')}`, this.secrets));
    try {
      return (await exec(this.binary, [...args, ...this.globals()], { silent: !options.echo, input: options.input, secrets: this.secrets, env: { ...process.env, ...this.target.env } })).stdout;
    } catch (error) {
      if (error instanceof ExecError) throw new HelmError(`helm ${args[0]} failed: ${lastLines(error.result.stderr) || error.message}`, error.result.stderr, error.result.stdout);
      throw error;
    }
  }

  /** The release's revisions, oldest first; empty when it does not exist. */
  async history(release: string): Promise<HelmRevision[]> {
    try {
      return JSON.parse(await this.run(['history', release, '--max', '256', '-o', 'json'])) as HelmRevision[];
    } catch (error) {
      if (error instanceof HelmError && /release: not found/.test(error.stderr)) return [];
      throw error;
    }
  }

  /** The values a revision was given (its values files, values and set lines, merged); null for none. */
  async values(release: string, revision: number): Promise<unknown> {
    return JSON.parse(await this.run(['get', 'values', release, '--revision', String(revision), '-o', 'json'])) as unknown;
  }

  async manifest(release: string, revision?: number): Promise<string> {
    return this.run(['get', 'manifest', release, ...(revision ? ['--revision', String(revision)] : [])]);
  }

  /** `helm upgrade --install`, with the rollback and wait flags of this Helm's major version. */
  upgradeArgs(o: UpgradeOptions): string[] {
    const args = ['upgrade', o.release, ...this.chartArgs(o), '--install', '--history-max', String(o.historyMax), '--timeout', o.timeout];
    if (o.createNamespace) args.push('--create-namespace');
    if (o.dryRun) args.push(`--dry-run=${o.dryRun}`, '--output', 'json');
    else if (this.major === 4) {
      // Helm 4: --atomic became --rollback-on-failure, and --wait takes a strategy (watcher: kstatus).
      if (o.rollbackOnFailure) args.push('--rollback-on-failure');
      if (o.wait || o.rollbackOnFailure) args.push('--wait=watcher');
    } else {
      if (o.rollbackOnFailure) args.push('--atomic');
      if (o.wait) args.push('--wait');
    }
    if (o.rollbackOnFailure && !o.dryRun) args.push('--cleanup-on-fail');
    return args;
  }

  async upgrade(o: UpgradeOptions): Promise<string> {
    return this.run(this.upgradeArgs(o), { echo: !o.dryRun });
  }

  /**
   * The manifest a dry run would install: `helm template` for a client-side one (an upgrade's dry run
   * still asks the cluster for the release), an upgrade's server-side dry run otherwise.
   */
  async render(o: UpgradeOptions & { dryRun: 'client' | 'server' }): Promise<string> {
    if (o.dryRun === 'client') return this.run(['template', o.release, ...this.chartArgs(o)]);
    const release = JSON.parse(await this.run(this.upgradeArgs(o))) as { manifest?: string; hooks?: { manifest: string }[] };
    return [release.manifest ?? '', ...(release.hooks ?? []).map((h) => h.manifest)].join('\n---\n');
  }

  async rollback(release: string, revision: number, timeout: string): Promise<void> {
    await this.run(['rollback', release, String(revision), '--wait', '--timeout', timeout], { echo: true });
  }

  async uninstall(release: string, timeout: string): Promise<void> {
    await this.run(['uninstall', release, '--wait', '--timeout', timeout], { echo: true });
  }

  /**
   * `helm test`; resolves with its output, throws HelmError when a test fails. Without `--logs`: a
   * cluster that cannot serve logs would fail passing tests; testPods() names the pods to read them from.
   */
  async test(release: string, timeout: string): Promise<string> {
    return this.run(['test', release, '--timeout', timeout]);
  }
}

/** The test pods `helm test` reports (`TEST SUITE: <pod>`), to read their logs. */
export function testPods(output: string): string[] {
  return [...output.matchAll(/^TEST SUITE:\s+(\S+)$/gm)].map((m) => m[1] as string).filter((name) => name !== 'None');
}

const lastLines = (text: string, n = 8) => text.trim().split('\n').slice(-n).join('\n');
