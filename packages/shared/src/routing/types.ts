/** The routers Slipway can drive; blue-green-switch and canary-analyze take the same ones. */
export const ROUTER_KINDS = ['nginx', 'kubernetes-service', 'gateway-api', 'ingress-nginx'] as const;
export type RouterKind = (typeof ROUTER_KINDS)[number];

/** Percent of traffic per backend (blue/green, or stable/canary); the values add up to 100. */
export type Weights = Record<string, number>;

/** Who changed routing, when and from which run: written next to the routing itself. */
export interface SwitchRecord {
  by: string;
  at: string;
  runUrl?: string;
  /** e.g. `switch`, `rollback`, `canary step 25 %`. */
  reason: string;
}

export interface RoutingState {
  /** Weights as the router has them now; empty when it has never been set (e.g. no nginx file yet). */
  weights: Weights;
  /** Everything needed to put routing back exactly as it was; opaque to callers. */
  snapshot: string;
  record?: SwitchRecord;
}

export interface ApplyOptions {
  /**
   * false: no readiness check. For taking traffic back to what served before (a rollback), which must
   * never be refused because that backend looks unready from here.
   */
  requireReady?: boolean;
}

export interface Router {
  readonly kind: RouterKind;
  /** The two backends, in the order of their inputs (blue, green / stable, canary). */
  readonly backends: readonly [string, string];
  read(): Promise<RoutingState>;
  /**
   * Sets the weights and records who did it. Refuses, changing nothing, to give traffic to a backend
   * with no ready endpoints (unless told not to check), and weights a router cannot express (a Service
   * selector is all or nothing).
   */
  apply(weights: Weights, record: SwitchRecord, options?: ApplyOptions): Promise<RoutingState>;
  /** Puts back a snapshot taken by read(), exactly; no readiness check, so a rollback always runs. */
  restore(snapshot: string, record: SwitchRecord): Promise<void>;
  /** Ready endpoints behind a backend. */
  readyEndpoints(backend: string): Promise<number>;
  /**
   * Waits until the routing last written is what serves (nginx: the workers of the old configuration
   * have exited; Gateway API: the route's status accepts its new generation; a Service: its endpoints
   * are the new colour's pods) and says how it knows; throws when that is not so within timeoutMs.
   * Absent when the router reports nothing of the kind (ingress-nginx).
   */
  confirmServing?(timeoutMs: number): Promise<string>;
  /** Why confirmServing cannot work here, asked before anything changes; undefined when it can. */
  cannotConfirm?(): Promise<string | undefined>;
  /**
   * Claims the router for this run until the returned release is called, so that two runs never switch
   * it at once (one's rollback would silently undo the other's switch, whose watch then measures the
   * wrong backend). Throws, changing nothing, when another live run holds it. Absent: not guarded.
   */
  claim?(record: SwitchRecord): () => void;
}

/**
 * Routing could not be put back after a failure: what serves and what the router's state says may
 * differ. Actions say so loudly (error and job summary); nothing can be assumed about the live backend.
 */
export class RoutingMayDifferError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RoutingMayDifferError';
  }
}

/** Whether an error, or one it was caused by, says that routing may differ from its record. */
export function routingMayDiffer(error: unknown): boolean {
  for (let e = error; e instanceof Error; e = e.cause) if (e instanceof RoutingMayDifferError) return true;
  return false;
}

/** Checks weights are whole percents for exactly these two backends, adding up to 100. */
export function checkWeights(weights: Weights, backends: readonly [string, string]): void {
  const names = Object.keys(weights).sort();
  const values = backends.map((b) => weights[b]);
  if (names.join() !== [...backends].sort().join() || values.some((v) => v === undefined || !Number.isInteger(v) || v < 0 || v > 100) || (values[0] ?? 0) + (values[1] ?? 0) !== 100) {
    throw new Error(`weights must be whole percents for ${backends.join(' and ')} adding up to 100, got ${JSON.stringify(weights)}`);
  }
}

/** The backends given traffic that have no ready endpoint: sending traffic there would fail it. */
export async function unreadyTargets(router: Router, weights: Weights, options: ApplyOptions = {}): Promise<string[]> {
  if (options.requireReady === false) return [];
  const targets = router.backends.filter((b) => (weights[b] ?? 0) > 0);
  const counts = await Promise.all(targets.map((b) => router.readyEndpoints(b)));
  return targets.filter((_, i) => counts[i] === 0);
}
