import { formatDuration } from '../duration';
import { sleep } from '../retry';
import { annotationOps, jsonPointerKey, readRecord, recordAnnotations, type Kubectl } from './kubectl';
import { checkWeights, unreadyTargets, type ApplyOptions, type Router, type RoutingState, type SwitchRecord, type Weights } from './types';

interface Service {
  metadata: { annotations?: Record<string, string> };
  spec: { selector?: Record<string, string> };
}
interface Pod {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}
interface EndpointSlice {
  endpoints?: { conditions?: { ready?: boolean }; targetRef?: { kind?: string; name?: string } }[];
}

/**
 * A Service whose selector picks the live colour by one label (`color: blue`). All or nothing: a
 * selector cannot split traffic, so weights other than 0/100 are refused.
 */
export class KubernetesServiceRouter implements Router {
  readonly kind = 'kubernetes-service';

  constructor(
    private readonly kubectl: Kubectl,
    private readonly service: string,
    private readonly colorLabel: string,
    readonly backends: readonly [string, string],
  ) {}

  async read(): Promise<RoutingState> {
    const svc = await this.kubectl.get<Service>('service', this.service);
    const live = svc.spec.selector?.[this.colorLabel];
    const weights = live && this.backends.includes(live) ? Object.fromEntries(this.backends.map((b) => [b, b === live ? 100 : 0])) : {};
    return { weights, record: readRecord(svc.metadata.annotations), snapshot: JSON.stringify({ selector: svc.spec.selector ?? null, annotations: svc.metadata.annotations ?? null }) };
  }

  async apply(weights: Weights, record: SwitchRecord, options: ApplyOptions = {}): Promise<RoutingState> {
    checkWeights(weights, this.backends);
    const target = this.backends.find((b) => weights[b] === 100);
    if (!target) throw new Error(`a Service selector sends all traffic to one colour; ${JSON.stringify(weights)} needs the gateway-api, ingress-nginx or nginx router`);
    const unready = await unreadyTargets(this, weights, options);
    if (unready.length) throw new Error(`not switching service/${this.service}: no ready pod has ${this.colorLabel}=${target}`);
    const svc = await this.kubectl.get<Service>('service', this.service);
    await this.kubectl.patch('service', this.service, [
      { op: 'add', path: `/spec/selector/${jsonPointerKey(this.colorLabel)}`, value: target },
      ...annotationOps(svc.metadata.annotations, recordAnnotations(record, weights)),
    ]);
    return this.read();
  }

  async restore(snapshot: string, _record: SwitchRecord): Promise<void> {
    const saved = JSON.parse(snapshot) as { selector: Record<string, string> | null; annotations: Record<string, string> | null };
    await this.kubectl.patch('service', this.service, [
      saved.selector ? { op: 'replace', path: '/spec/selector', value: saved.selector } : { op: 'remove', path: '/spec/selector' },
      saved.annotations ? { op: 'add', path: '/metadata/annotations', value: saved.annotations } : { op: 'remove', path: '/metadata/annotations' },
    ]);
  }

  /**
   * The Service's EndpointSlices (which kube-proxy and every mesh route by) hold only pods its selector
   * picks now, at least one of them ready: no connection goes to the previous colour's pods any more.
   */
  async confirmServing(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const svc = await this.kubectl.get<Service>('service', this.service);
      const selector = Object.entries(svc.spec.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      const [pods, slices] = await Promise.all([
        this.kubectl.list<Pod>('pods', selector),
        this.kubectl.list<EndpointSlice>('endpointslices.discovery.k8s.io', `kubernetes.io/service-name=${this.service}`),
      ]);
      const picked = new Set(pods.map((p) => p.metadata.name));
      const endpoints = slices.flatMap((s) => s.endpoints ?? []);
      const others = endpoints.filter((e) => e.targetRef?.kind !== 'Pod' || !picked.has(e.targetRef.name ?? ''));
      const ready = endpoints.filter((e) => e.conditions?.ready !== false).length;
      if (selector && others.length === 0 && ready > 0) return `service/${this.service}'s endpoints are ${ready} ready pod${ready === 1 ? '' : 's'} with ${selector}`;
      if (Date.now() >= deadline) {
        throw new Error(`service/${this.service}'s endpoints did not follow its selector ${selector} within ${formatDuration(timeoutMs)}: ${others.length ? `${others.length} endpoint(s) still point elsewhere (${others.map((e) => e.targetRef?.name ?? 'no pod').join(', ')})` : 'no ready endpoint'}`);
      }
      await sleep(250);
    }
  }

  /** Ready pods the selector would pick with this colour. */
  async readyEndpoints(backend: string): Promise<number> {
    const svc = await this.kubectl.get<Service>('service', this.service);
    const selector = { ...svc.spec.selector, [this.colorLabel]: backend };
    const pods = await this.kubectl.list<Pod>('pods', Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(','));
    return pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
  }
}
