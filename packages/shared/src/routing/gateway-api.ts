import { formatDuration } from '../duration';
import { sleep } from '../retry';
import { annotationOps, readRecord, recordAnnotations, type Kubectl } from './kubectl';
import { checkWeights, unreadyTargets, type ApplyOptions, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

interface BackendRef {
  name: string;
  kind?: string;
  weight?: number;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
interface HttpRoute {
  metadata: { annotations?: Record<string, string>; generation?: number };
  spec: { rules?: { backendRefs?: BackendRef[] }[] };
  status?: { parents?: { controllerName?: string; parentRef?: { name?: string }; conditions?: Condition[] }[] };
}

/** What the route's status says of one generation: served, refused (with why), or not reported yet. */
function routeStatus(route: HttpRoute, generation: number): { state: 'served' | 'refused' | 'pending'; detail: string } {
  const parents = route.status?.parents ?? [];
  if (parents.length === 0) return { state: 'pending', detail: 'no Gateway controller has reported on it (status.parents is empty)' };
  const details: string[] = [];
  let pending = false;
  for (const parent of parents) {
    const who = `${parent.controllerName ?? 'a controller'} for gateway ${parent.parentRef?.name ?? '?'}`;
    for (const type of ['Accepted', 'ResolvedRefs']) {
      const c = parent.conditions?.find((x) => x.type === type);
      if (!c || (c.observedGeneration ?? 0) < generation) {
        pending = true;
        details.push(`${who}: ${type} not yet at generation ${generation}${c ? ` (at ${c.observedGeneration ?? '?'})` : ''}`);
      } else if (c.status !== 'True') {
        return { state: 'refused', detail: `${who}: ${type} is ${c.status} at generation ${generation}${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}` };
      }
    }
  }
  return pending ? { state: 'pending', detail: details.join('; ') } : { state: 'served', detail: `${parents.length === 1 ? 'its Gateway controller' : `all ${parents.length} parents`} accepted generation ${generation} with resolved backends` };
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

  async apply(weights: Weights, record: SwitchRecord, options: ApplyOptions = {}): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const route = await this.kubectl.get<HttpRoute>('httproute.gateway.networking.k8s.io', this.route);
    const rules = this.splitRules(route);
    if (rules.length === 0) throw new Error(`httproute/${this.route} has no rule with backendRefs to both ${this.backends.map((b) => this.services[b]).join(' and ')}`);
    const unready = await unreadyTargets(this, weights, options);
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

  /** The route's generation now, and every parent's Accepted and ResolvedRefs conditions true at it. */
  async confirmServing(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const route = await this.kubectl.get<HttpRoute>('httproute.gateway.networking.k8s.io', this.route);
      const status = routeStatus(route, route.metadata.generation ?? 0);
      if (status.state === 'served') return `httproute/${this.route}: ${status.detail}`;
      if (status.state === 'refused') throw new Error(`httproute/${this.route} is not served as written: ${status.detail}`);
      if (Date.now() >= deadline) throw new Error(`httproute/${this.route} was not confirmed within ${formatDuration(timeoutMs)}: ${status.detail}; is a Gateway controller running for its parent Gateway?`);
      await sleep(250);
    }
  }
}
