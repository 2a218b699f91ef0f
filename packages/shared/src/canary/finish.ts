// The end of a canary release. After a promotion stable has been upgraded to the canary's version:
// traffic goes back to it only once it answers, stays only when it is verified (else routing is put
// back exactly), and only then is the canary removed. After a rollback stable is verified as it is.
import { waitHealthy, watchAfterSwitch, type ProbeSpec, type WatchResult, type WatchTick } from '../routing/probes';
import { routingMayDiffer, type Router, type SwitchRecord } from '../routing/types';
import type { PrometheusEndpoint } from '../prometheus';

export interface StableVerification {
  health: ProbeSpec;
  durationMs: number;
  intervalMs: number;
  /** Stable's error rate (0–1) above which it fails, from the health URL's answers and from Prometheus. */
  maxErrorRate: number;
  /** Stable's error rate over the query window; no data fails the verification. */
  prometheus: PrometheusEndpoint & { query: string };
  consecutiveErrorLimit: number;
}

/** Stable answers its health URL and its error rate stays low over the window; no data is not a pass. */
export async function verifyStable(spec: StableVerification, onTick?: (tick: WatchTick) => void, signal?: AbortSignal): Promise<WatchResult> {
  const result = await watchAfterSwitch({ durationMs: spec.durationMs, intervalMs: spec.intervalMs, maxErrorRate: spec.maxErrorRate, url: spec.health, requestsPerTick: 3, prometheus: spec.prometheus, consecutiveErrorLimit: spec.consecutiveErrorLimit }, onTick, signal);
  return signal?.aborted && !result.ok ? { ...result, reason: 'the job was cancelled before stable was verified' } : result;
}

export type FinishStage = 'health-gate' | 'traffic-move' | 'verification' | 'revert';

export interface FinishReport {
  ok: boolean;
  /** Where it stopped when it failed. */
  failedAt?: FinishStage;
  reason: string;
  /** Stable's percent at the end. */
  stableWeight: number;
  /** Traffic was already all on stable (an earlier attempt moved it). */
  alreadyMoved: boolean;
  verification?: WatchResult;
}

/**
 * Moves all traffic from the canary to the upgraded stable: stable must answer its health URL first,
 * then stable gets 100 %, then it is verified; a failed verification puts routing back exactly as it
 * was (the canary serving), so this either completes or changes nothing.
 */
export async function moveTrafficToStable(router: Router, record: (reason: string) => SwitchRecord, verify: StableVerification, events: { gate?(detail: string): void; moved?(): void; tick?(tick: WatchTick): void } = {}, signal?: AbortSignal): Promise<FinishReport> {
  const [stable, canary] = router.backends;
  const before = await router.read();
  const alreadyMoved = before.weights[stable] === 100;
  const gate = await waitHealthy({ ...verify.health, successes: 3, intervalMs: Math.min(verify.intervalMs, 1000), deadlineMs: Math.max(verify.durationMs, 10_000) }, (r) => events.gate?.(`${r.detail} in ${r.ms} ms`), signal);
  if (signal?.aborted) return { ok: false, failedAt: 'health-gate', reason: 'the job was cancelled before stable got the traffic; nothing changed', stableWeight: before.weights[stable] ?? 0, alreadyMoved };
  if (!gate.healthy) {
    return { ok: false, failedAt: 'health-gate', reason: `stable does not answer its health URL (last: ${gate.probes.at(-1)?.detail ?? 'no probe'}), so the canary keeps its traffic`, stableWeight: before.weights[stable] ?? 0, alreadyMoved };
  }
  if (!alreadyMoved) {
    try {
      await router.apply({ [stable]: 100, [canary]: 0 }, record('canary finished: all traffic to the upgraded stable'));
    } catch (error) {
      // A reload that failed after nginx took the new file: what serves is unknown, said loudly by the caller.
      if (routingMayDiffer(error)) throw error;
      return { ok: false, failedAt: 'traffic-move', reason: `moving traffic to stable failed, routing unchanged: ${(error as Error).message}`, stableWeight: before.weights[stable] ?? 0, alreadyMoved };
    }
    events.moved?.();
  }
  // A cancelled job stops the verification at once, and is a failed one: routing goes back.
  const verification = await verifyStable(verify, events.tick, signal);
  if (verification.ok) return { ok: true, reason: `stable serves all traffic: ${verification.reason}`, stableWeight: 100, alreadyMoved, verification };
  if (alreadyMoved) return { ok: false, failedAt: 'verification', reason: `stable failed its verification: ${verification.reason}; traffic was already all on stable before this step, so it stays there`, stableWeight: 100, alreadyMoved, verification };
  try {
    await router.restore(before.snapshot, record('canary finish reverted: stable failed its verification'));
  } catch (error) {
    throw new Error(`stable failed its verification (${verification.reason}), and putting the canary's traffic back failed: ${(error as Error).message}`, { cause: error });
  }
  return { ok: false, failedAt: 'verification', reason: `stable failed its verification: ${verification.reason}; routing was put back as it was, the canary serving`, stableWeight: before.weights[stable] ?? 0, alreadyMoved, verification };
}
