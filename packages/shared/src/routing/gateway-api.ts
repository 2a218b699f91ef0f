import { annotationOps, readRecord, recordAnnotations, type Kubectl } from './kubectl';
import { checkWeights, unreadyTargets, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

interface BackendRef {
  name: string;
  kind?: string;
  weight?: number;
}
interface HttpRoute {
  metadata: { annotations?: Record<string, string> };
  spec: { rules?: { backendRefs?: BackendRef[] }[] };
}

/**
 * An HTTPRoute whose rules send traffic to both backends' Services. Both weights are always written:
 * they are relative (not percents) and an absent weight counts as 1, so one alone would not say much.
 */
export class GatewayApiRouter implements Router {
  readonly kind = 'gateway-api';

  constructor(
    private readonly kubectl: Kubectl,
    private readonly route: string,
    readonly backends: readonly [string, string],
    /** The Service each backend is. */
    private readonly services: Record<string, string>,
  ) {}

  private isService = (ref: BackendRef, backend: string) => ref.name === this.services[backend] && (ref.kind ?? 'Service') === 'Service';

  /** Rules (by index) that route to both backends: the ones a switch changes. */
  private splitRules(route: HttpRoute): number[] {
    const rules = route.spec.rules ?? [];
    return rules.flatMap((rule, i) => (this.backends.every((b) => rule.backendRefs?.some((ref) => this.isService(ref, b))) ? [i] : []));
  }

  async read(): Promise<RoutingState> {
    const route = await this.kubectl.get<HttpRoute>('httproute.gateway.networking.k8s.io', this.route);
    const first = route.spec.rules?.[this.splitRules(route)[0] ?? -1];
    let weights: Weights = {};
    if (first) {
      const raw = this.backends.map((b) => first.backendRefs?.filter((ref) => this.isService(ref, b)).reduce((sum, ref) => sum + (ref.weight ?? 1), 0) ?? 0);
      const total = raw.reduce((a, b) => a + b, 0);
      if (total > 0) weights = { [this.backends[0]]: Math.round((100 * (raw[0] ?? 0)) / total), [this.backends[1]]: 100 - Math.round((100 * (raw[0] ?? 0)) / total) };
    }
    return { weights, record: readRecord(route.metadata.annotations), snapshot: JSON.stringify({ rules: route.spec.rules ?? null, annotations: route.metadata.annotations ?? null }) };
  }

  async apply(weights: Weights, record: SwitchRecord): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const route = await this.kubectl.get<HttpRoute>('httproute.gateway.networking.k8s.io', this.route);
    const rules = this.splitRules(route);
    if (rules.length === 0) throw new Error(`httproute/${this.route} has no rule with backendRefs to both ${this.backends.map((b) => this.services[b]).join(' and ')}`);
    const unready = await unreadyTargets(this, weights);
    if (unready.length) throw new Error(`not changing httproute/${this.route}: service ${unready.map((b) => this.services[b]).join(', ')} has no ready endpoints`);
    const ops: object[] = [];
    for (const r of rules) {
      route.spec.rules?.[r]?.backendRefs?.forEach((ref, i) => {
        const backend = this.backends.find((b) => this.isService(ref, b));
        if (backend) ops.push({ op: 'add', path: `/spec/rules/${r}/backendRefs/${i}/weight`, value: weights[backend] });
      });
    }
    await this.kubectl.patch('httproute.gateway.networking.k8s.io', this.route, [...ops, ...annotationOps(route.metadata.annotations, recordAnnotations(record, weights))]);
    return this.read();
  }

  async restore(snapshot: string, _record: SwitchRecord): Promise<void> {
    const saved = JSON.parse(snapshot) as { rules: unknown[] | null; annotations: Record<string, string> | null };
    await this.kubectl.patch('httproute.gateway.networking.k8s.io', this.route, [
      saved.rules ? { op: 'replace', path: '/spec/rules', value: saved.rules } : { op: 'remove', path: '/spec/rules' },
      saved.annotations ? { op: 'add', path: '/metadata/annotations', value: saved.annotations } : { op: 'remove', path: '/metadata/annotations' },
    ]);
  }

  async readyEndpoints(backend: string): Promise<number> {
    return this.kubectl.readyEndpoints(this.services[backend] ?? backend);
  }
}
