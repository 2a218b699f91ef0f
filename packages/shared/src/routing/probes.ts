import { Outcome, type Measurement } from '../canary/judge';
import { formatDuration } from '../duration';
import { queryValue, type PrometheusEndpoint } from '../prometheus';
import { setTimeout as wait } from 'node:timers/promises';
import { sleep } from '../retry';

/** Waits ms, or less when the signal aborts; says whether it was aborted. */
async function pause(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (!signal) {
    await sleep(ms);
    return false;
  }
  return wait(ms, false, { signal }).catch(() => true);
}

export interface ProbeSpec {
  url: string;
  /** Sent with each probe (Basic credentials taken out of the URL). */
  headers?: Record<string, string>;
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
    const response = await fetch(spec.url, { signal: AbortSignal.timeout(spec.timeoutMs), redirect: 'manual', headers: { 'user-agent': 'slipway-probe', ...spec.headers } });
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
export async function waitHealthy(gate: HealthGate, onProbe: (result: ProbeResult, streak: number) => void = () => {}, signal?: AbortSignal): Promise<{ healthy: boolean; probes: ProbeResult[] }> {
  const deadline = Date.now() + gate.deadlineMs;
  const probes: ProbeResult[] = [];
  let streak = 0;
  for (;;) {
    const result = await probe(gate);
    probes.push(result);
    streak = result.ok ? streak + 1 : 0;
    onProbe(result, streak);
    if (streak >= gate.successes) return { healthy: true, probes };
    if (Date.now() + gate.intervalMs > deadline || signal?.aborted) return { healthy: false, probes };
    if (await pause(gate.intervalMs, signal)) return { healthy: false, probes };
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
  /** Failed queries in a row (Prometheus down, refused, several series) allowed before the watch fails. */
  consecutiveErrorLimit: number;
}

export interface WatchTick {
  at: Date;
  requests: number;
  errors: number;
  /** The worst rate measured: cumulative over the URL's requests, or the query's value; undefined when neither had one. */
  errorRate?: number;
  /** The query's result this tick, judged as canary-analyze judges a measurement. */
  query?: Measurement;
  detail: string;
}

export interface WatchResult {
  ok: boolean;
  ticks: WatchTick[];
  /** Why it passed or failed, in words. */
  reason: string;
}

const percent = (rate: number) => (Number.isFinite(rate) ? `${(rate * 100).toFixed(1)} %` : String(rate));

/**
 * Watches the new colour after a switch: every interval, requests to the watch URL (the error rate is
 * cumulative, so one early failure weighs more than a late one) and/or the Prometheus query. Fails at
 * the first tick over the limit, and once the query has failed more times in a row than allowed (as
 * canary-analyze counts errors). No data is never a pass: it is allowed while the colour's series
 * appear, but the watch passes only when its last query measured a rate.
 */
export async function watchAfterSwitch(spec: WatchSpec, onTick: (tick: WatchTick) => void = () => {}, signal?: AbortSignal): Promise<WatchResult> {
  const ticks: WatchTick[] = [];
  const end = Date.now() + spec.durationMs;
  const queries = new Outcome({ failureLimit: 0, inconclusiveLimit: Infinity, consecutiveErrorLimit: spec.consecutiveErrorLimit });
  let requests = 0;
  let errors = 0;
  for (;;) {
    const details: string[] = [];
    const rates: number[] = [];
    let query: Measurement | undefined;
    if (spec.url) {
      const results = await Promise.all(Array.from({ length: spec.requestsPerTick ?? 5 }, () => probe(spec.url as ProbeSpec)));
      requests += results.length;
      errors += results.filter((r) => !r.ok).length;
      rates.push(errors / requests);
      const failed = results.filter((r) => !r.ok).map((r) => r.detail);
      details.push(`${results.length - failed.length}/${results.length} ok${failed.length ? ` (${[...new Set(failed)].join(', ')})` : ''}`);
    }
    if (spec.prometheus) {
      try {
        const value = await queryValue(spec.prometheus, spec.prometheus.query);
        // NaN is 0/0 (no requests); +Inf is errors over no counted requests, above any limit.
        if (value === undefined || Number.isNaN(value)) {
          query = 'inconclusive';
          details.push(value === undefined ? 'query: no data' : `query: no data (${value})`);
        } else if (value < 0) {
          query = 'error';
          details.push(`query = ${value}, not an error rate (a rate is 0 or more: check the query)`);
        } else {
          query = value > spec.maxErrorRate ? 'failure' : 'success';
          rates.push(value);
          details.push(`query = ${value}`);
        }
      } catch (error) {
        query = 'error';
        details.push(`query failed: ${(error as Error).message}`);
      }
      queries.add(query);
    }
    const tick: WatchTick = { at: new Date(), requests, errors, errorRate: rates.length ? Math.max(...rates) : undefined, query, detail: details.join('; ') };
    ticks.push(tick);
    onTick(tick);
    const detail = tick.detail;
    if (tick.errorRate !== undefined && tick.errorRate > spec.maxErrorRate) return { ok: false, ticks, reason: `error rate ${percent(tick.errorRate)} > ${spec.maxErrorRate * 100} % (${detail})` };
    if (queries.status === 'error') return { ok: false, ticks, reason: `the watch query failed ${queries.errorsInARow} times in a row, more than the ${spec.consecutiveErrorLimit} allowed, so the new colour was not measured (${detail})` };
    if (Date.now() + spec.intervalMs > end) {
      if (query === 'inconclusive') return { ok: false, ticks, reason: `the watch query had no data at the end of the watch, so the new colour was not measured; no data is not a pass (${detail})` };
      if (query === 'error') return { ok: false, ticks, reason: `the watch query failed at the end of the watch, so the new colour was not measured (${detail})` };
      return { ok: true, ticks, reason: `error rate ${percent(tick.errorRate ?? 0)} ≤ ${spec.maxErrorRate * 100} % (${detail})` };
    }
    // A cancelled watch measured nothing more: never a pass.
    if (await pause(spec.intervalMs, signal)) return { ok: false, ticks, reason: 'the job was cancelled before the watch ended' };
  }
}

export interface AnswerCheck {
  /** Requested until `answers` in a row come from the colour. */
  url: string;
  headers?: Record<string, string>;
  color: string;
  /** A response header whose value is the colour serving the answer (case-insensitive). */
  header?: string;
  /** Text in the body of an answer from this colour only. */
  body?: string;
  answers: number;
  timeoutMs: number;
  deadlineMs: number;
}

/** Whether one answer says it came from the colour, and what it said otherwise. */
async function fromColor(check: AnswerCheck): Promise<{ ok: boolean; detail: string }> {
  try {
    const response = await fetch(check.url, { signal: AbortSignal.timeout(check.timeoutMs), redirect: 'manual', headers: { 'user-agent': 'slipway-probe', ...check.headers } });
    const body = await response.text();
    if (check.header) {
      const value = response.headers.get(check.header);
      if (value?.trim().toLowerCase() !== check.color.toLowerCase()) return { ok: false, detail: `${check.header}: ${value === null ? 'absent' : JSON.stringify(value.slice(0, 40))}` };
    }
    if (check.body && !body.includes(check.body)) return { ok: false, detail: `${response.status}, body without ${JSON.stringify(check.body)}` };
    return { ok: true, detail: String(response.status) };
  } catch (error) {
    return { ok: false, detail: (error as Error).name === 'TimeoutError' ? `no answer within ${check.timeoutMs} ms` : ((error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message) };
  }
}

/**
 * Asks the URL until `answers` answers in a row identify the colour (by header and/or body): then the
 * router sends this URL's traffic there. Resolves with how it knows; throws when not so by the deadline.
 */
export async function confirmAnswers(check: AnswerCheck): Promise<string> {
  const started = Date.now();
  let streak = 0;
  for (let asked = 1; ; asked++) {
    const answer = await fromColor(check);
    streak = answer.ok ? streak + 1 : 0;
    if (streak >= check.answers) return `${check.answers} answers in a row from ${check.color} (${asked} asked in ${formatDuration(Date.now() - started)})`;
    if (Date.now() - started >= check.deadlineMs) throw new Error(`${check.answers} answers in a row from ${check.color} did not come within ${formatDuration(check.deadlineMs)} (${asked} asked; last: ${answer.detail})`);
    await sleep(100);
  }
}
