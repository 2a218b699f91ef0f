import { queryValue, type PrometheusEndpoint } from '../prometheus';
import { sleep } from '../retry';

export interface ProbeSpec {
  url: string;
  expectStatus: number;
  /** Text the body must contain. */
  expectBody?: string;
  timeoutMs: number;
}

export interface ProbeResult {
  ok: boolean;
  at: Date;
  ms: number;
  /** `200`, `503: Service Unavailable`, `connection refused`, `body lacks "ok"` … */
  detail: string;
}

/** One HTTP GET, judged by status and body; never throws. */
export async function probe(spec: ProbeSpec): Promise<ProbeResult> {
  const at = new Date();
  const started = performance.now();
  const done = (ok: boolean, detail: string): ProbeResult => ({ ok, at, ms: Math.round(performance.now() - started), detail });
  try {
    const response = await fetch(spec.url, { signal: AbortSignal.timeout(spec.timeoutMs), redirect: 'manual', headers: { 'user-agent': 'slipway-probe' } });
    const body = await response.text();
    if (response.status !== spec.expectStatus) return done(false, `${response.status} (expected ${spec.expectStatus})`);
    if (spec.expectBody && !body.includes(spec.expectBody)) return done(false, `${response.status}, body lacks ${JSON.stringify(spec.expectBody)}`);
    return done(true, String(response.status));
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return done(false, (error as Error).name === 'TimeoutError' ? `no answer within ${spec.timeoutMs} ms` : (cause ?? (error as Error).message));
  }
}

export interface HealthGate extends ProbeSpec {
  /** Consecutive successes needed; a failure starts the count again. */
  successes: number;
  intervalMs: number;
  /** How long the gate may take in all. */
  deadlineMs: number;
}

/** Probes until `successes` in a row pass; the result says whether they did before the deadline. */
export async function waitHealthy(gate: HealthGate, onProbe: (result: ProbeResult, streak: number) => void = () => {}): Promise<{ healthy: boolean; probes: ProbeResult[] }> {
  const deadline = Date.now() + gate.deadlineMs;
  const probes: ProbeResult[] = [];
  let streak = 0;
  for (;;) {
    const result = await probe(gate);
    probes.push(result);
    streak = result.ok ? streak + 1 : 0;
    onProbe(result, streak);
    if (streak >= gate.successes) return { healthy: true, probes };
    if (Date.now() + gate.intervalMs > deadline) return { healthy: false, probes };
    await sleep(gate.intervalMs);
  }
}

export interface WatchSpec {
  durationMs: number;
  intervalMs: number;
  /** Errors / requests above which the watch fails (0.01 = 1 %). */
  maxErrorRate: number;
  /** Requests sent to the URL each interval. */
  url?: ProbeSpec;
  requestsPerTick?: number;
  /** A PromQL query whose single value is an error rate, compared with maxErrorRate. */
  prometheus?: PrometheusEndpoint & { query: string };
}

export interface WatchTick {
  at: Date;
  requests: number;
  errors: number;
  /** Cumulative over the watch so far (URL), or the query's value (Prometheus). */
  errorRate: number;
  detail: string;
}

/**
 * Watches the new colour after a switch: every interval, requests to the watch URL (the error rate is
 * cumulative, so one early failure weighs more than a late one) and/or the Prometheus query. Stops at
 * the first tick over the limit.
 */
export async function watchAfterSwitch(spec: WatchSpec, onTick: (tick: WatchTick) => void = () => {}): Promise<{ ok: boolean; ticks: WatchTick[] }> {
  const ticks: WatchTick[] = [];
  const end = Date.now() + spec.durationMs;
  let requests = 0;
  let errors = 0;
  for (;;) {
    const details: string[] = [];
    let rate = 0;
    if (spec.url) {
      const results = await Promise.all(Array.from({ length: spec.requestsPerTick ?? 5 }, () => probe(spec.url as ProbeSpec)));
      requests += results.length;
      errors += results.filter((r) => !r.ok).length;
      rate = errors / requests;
      const failed = results.filter((r) => !r.ok).map((r) => r.detail);
      details.push(`${results.length - failed.length}/${results.length} ok${failed.length ? ` (${[...new Set(failed)].join(', ')})` : ''}`);
    }
    if (spec.prometheus) {
      try {
        const value = await queryValue(spec.prometheus, spec.prometheus.query);
        if (value === undefined || Number.isNaN(value)) details.push('query: no data');
        else {
          rate = Math.max(rate, value);
          details.push(`query = ${value}`);
        }
      } catch (error) {
        details.push(`Prometheus: ${(error as Error).message}`);
      }
    }
    const tick = { at: new Date(), requests, errors, errorRate: rate, detail: details.join('; ') };
    ticks.push(tick);
    onTick(tick);
    if (rate > spec.maxErrorRate) return { ok: false, ticks };
    if (Date.now() + spec.intervalMs > end) return { ok: true, ticks };
    await sleep(spec.intervalMs);
  }
}
