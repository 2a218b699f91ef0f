import { exec, ExecError } from '../exec';
import { KubeconfigFile } from '../kubeconfig';
import type { SwitchRecord } from './types';

export interface KubectlOptions {
  /** Kubeconfig content (a secret); empty uses the runner's KUBECONFIG or ~/.kube/config. */
  kubeconfig?: string;
  /** A kubeconfig file another tool shares (helm-deploy's Helm); its owner removes it. */
  kubeconfigFile?: KubeconfigFile;
  context?: string;
  namespace: string;
}

/** Annotations every router writes next to what it changed. */
export const ANNOTATIONS = {
  by: 'slipway.dev/switched-by',
  at: 'slipway.dev/switched-at',
  run: 'slipway.dev/run-url',
  reason: 'slipway.dev/reason',
  weights: 'slipway.dev/weights',
} as const;

/**
 * kubectl with a kubeconfig given as content: written to a 0600 file in a private folder, removed by
 * close(). Every call is an argv array with --kubeconfig, --context and --namespace set explicitly.
 */
export class Kubectl {
  private readonly file: KubeconfigFile;
  private readonly base: string[];

  constructor(private readonly options: KubectlOptions) {
    this.file = options.kubeconfigFile ?? new KubeconfigFile(options.kubeconfig);
    const base: string[] = [];
    if (this.file.path) base.push(`--kubeconfig=${this.file.path}`);
    if (options.context) base.push(`--context=${options.context}`);
    base.push(`--namespace=${options.namespace}`);
    this.base = base;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  async run(args: string[], input?: string): Promise<string> {
    try {
      return (await exec('kubectl', [...this.base, ...args], { silent: true, input, secrets: this.options.kubeconfig ? [this.options.kubeconfig] : [] })).stdout;
    } catch (error) {
      // Not started at all is an ExecError too: its errno says so.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('kubectl is not installed on this runner: install it (e.g. azure/setup-kubectl) before this step', { cause: error });
      if (error instanceof ExecError) throw new Error(`kubectl ${args.slice(0, 3).join(' ')} failed: ${error.result.stderr.trim() || error.message}`, { cause: error });
      throw error;
    }
  }

  async get<T>(kind: string, name: string): Promise<T> {
    return JSON.parse(await this.run(['get', kind, name, '-o', 'json'])) as T;
  }

  async list<T>(kind: string, selector: string): Promise<T[]> {
    return (JSON.parse(await this.run(['get', kind, '-l', selector, '-o', 'json'])) as { items: T[] }).items;
  }

  /** A JSON patch (RFC 6902): exact replacements, so a rollback restores exactly what was there. */
  async patch(kind: string, name: string, operations: object[]): Promise<void> {
    await this.run(['patch', kind, name, '--type=json', `--patch=${JSON.stringify(operations)}`]);
  }

  /** Ready endpoints of a Service, from its EndpointSlices. */
  async readyEndpoints(service: string): Promise<number> {
    type Slice = { endpoints?: { conditions?: { ready?: boolean } }[] };
    const slices = await this.list<Slice>('endpointslices.discovery.k8s.io', `kubernetes.io/service-name=${service}`);
    return slices.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
  }

  close(): void {
    if (!this.options.kubeconfigFile) this.file.remove();
  }
}

/** Annotation values recording a switch. */
export function recordAnnotations(record: SwitchRecord, weights: object): Record<string, string> {
  return {
    [ANNOTATIONS.by]: record.by,
    [ANNOTATIONS.at]: record.at,
    [ANNOTATIONS.run]: record.runUrl ?? '',
    [ANNOTATIONS.reason]: record.reason,
    [ANNOTATIONS.weights]: JSON.stringify(weights),
  };
}

/** A map key as one JSON-pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`). */
export const jsonPointerKey = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** JSON patch operations setting these annotations, creating the map when there is none. */
export function annotationOps(existing: Record<string, string> | undefined, values: Record<string, string>): object[] {
  if (!existing) return [{ op: 'add', path: '/metadata/annotations', value: values }];
  return Object.entries(values).map(([key, value]) => ({ op: 'add', path: `/metadata/annotations/${jsonPointerKey(key)}`, value }));
}

export function readRecord(annotations: Record<string, string> | undefined): SwitchRecord | undefined {
  const at = annotations?.[ANNOTATIONS.at];
  if (!annotations || !at) return undefined;
  return { by: annotations[ANNOTATIONS.by] ?? '', at, runUrl: annotations[ANNOTATIONS.run] || undefined, reason: annotations[ANNOTATIONS.reason] ?? '' };
}
