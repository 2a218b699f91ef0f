import { annotationOps, readRecord, recordAnnotations, type Kubectl } from './kubectl';
import { checkWeights, unreadyTargets, type ApplyOptions, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

const CANARY = 'nginx.ingress.kubernetes.io/canary';
const WEIGHT = 'nginx.ingress.kubernetes.io/canary-weight';
const TOTAL = 'nginx.ingress.kubernetes.io/canary-weight-total';

interface Ingress {
  metadata: { annotations?: Record<string, string> };
  spec: { defaultBackend?: { service?: { name: string } }; rules?: { http?: { paths?: { backend: { service?: { name: string } } }[] } }[] };
}

/**
 * ingress-nginx's canary Ingress (a second Ingress for the same host, annotated `canary: "true"`):
 * its `canary-weight` out of `canary-weight-total` is the share of the backend it routes to; the main
 * Ingress gets the rest. ingress-nginx is retired upstream but still widely run.
 */
export class IngressNginxRouter implements Router {
  readonly kind = 'ingress-nginx';

  constructor(
    private readonly kubectl: Kubectl,
    /** The canary Ingress. */
    private readonly ingress: string,
    readonly backends: readonly [string, string],
    private readonly services: Record<string, string>,
  ) {}

  /** Which backend the canary Ingress routes to. */
  private canaryBackend(ingress: Ingress): string {
    const names = new Set([ingress.spec.defaultBackend?.service?.name, ...(ingress.spec.rules ?? []).flatMap((r) => r.http?.paths?.map((p) => p.backend.service?.name) ?? [])].filter(Boolean));
    const backend = this.backends.find((b) => names.has(this.services[b]));
    if (!backend) throw new Error(`ingress/${this.ingress} routes to ${[...names].join(', ') || 'no service'}, which is none of ${this.backends.map((b) => this.services[b]).join(', ')}`);
    return backend;
  }

  async read(): Promise<RoutingState> {
    const ingress = await this.kubectl.get<Ingress>('ingress', this.ingress);
    const a = ingress.metadata.annotations ?? {};
    const canary = this.canaryBackend(ingress);
    const percent = a[CANARY] === 'true' ? Math.round((100 * Number(a[WEIGHT] ?? 0)) / Number(a[TOTAL] ?? 100)) : 0;
    const other = this.backends.find((b) => b !== canary) as string;
    return { weights: { [canary]: percent, [other]: 100 - percent }, record: readRecord(a), snapshot: JSON.stringify({ annotations: ingress.metadata.annotations ?? null }) };
  }

  async apply(weights: Weights, record: SwitchRecord, options: ApplyOptions = {}): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const ingress = await this.kubectl.get<Ingress>('ingress', this.ingress);
    const canary = this.canaryBackend(ingress);
    const unready = await unreadyTargets(this, weights, options);
    if (unready.length) throw new Error(`not changing ingress/${this.ingress}: service ${unready.map((b) => this.services[b]).join(', ')} has no ready endpoints`);
    const values = { [CANARY]: 'true', [WEIGHT]: String(weights[canary]), [TOTAL]: '100', ...recordAnnotations(record, weights) };
    await this.kubectl.patch('ingress', this.ingress, annotationOps(ingress.metadata.annotations, values));
    return this.read();
  }

  async restore(snapshot: string, _record: SwitchRecord): Promise<void> {
    const saved = JSON.parse(snapshot) as { annotations: Record<string, string> | null };
    await this.kubectl.patch('ingress', this.ingress, [saved.annotations ? { op: 'add', path: '/metadata/annotations', value: saved.annotations } : { op: 'remove', path: '/metadata/annotations' }]);
  }

  async readyEndpoints(backend: string): Promise<number> {
    return this.kubectl.readyEndpoints(this.services[backend] ?? backend);
  }
}
