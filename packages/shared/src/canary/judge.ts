// How canary-analyze judges: per-metric classification by the Mann–Whitney test (as Kayenta does), a
// weighted score, fixed thresholds (the seed's rules), and the outcome of a run of measurements (as
// Argo Rollouts counts them). Pure functions: the Prometheus side only feeds them numbers.
import { mannWhitney, type MannWhitneyResult } from './statistics';

/** Which change of a metric is bad: `increase` (errors, latency), `decrease` (throughput), `either`. */
export type Direction = 'increase' | 'decrease' | 'either';
export type Classification = 'Pass' | 'High' | 'Low' | 'NoData';

export interface MetricClassification {
  classification: Classification;
  /** Whether this classification fails the metric, given its direction. */
  failed: boolean;
  test?: MannWhitneyResult;
  /** mean(canary) / mean(stable); undefined when the stable mean is 0. */
  meanRatio?: number;
  /** Why, for a person reading the summary. */
  reason: string;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const finite = (xs: readonly number[]) => xs.filter((x) => Number.isFinite(x));

/**
 * Kayenta's effect size: a significant change still passes while mean(canary) / mean(stable) stays
 * below allowedIncrease (for High) or above allowedDecrease (for Low). 1 and 1 make every significant
 * change count.
 */
export interface EffectSize {
  allowedIncrease: number;
  allowedDecrease: number;
}

export const NO_TOLERANCE: EffectSize = { allowedIncrease: 1, allowedDecrease: 1 };

/**
 * Canary against stable for one metric: High or Low when the two-sided test is significant at the
 * confidence (the interval of the shift then excludes 0) and the mean ratio is beyond the effect size,
 * Pass when not. A change in the harmless direction passes, and is said. NaN and infinite samples
 * (0/0 rates) are not data.
 */
export function classify(canaryValues: readonly number[], stableValues: readonly number[], direction: Direction, confidence: number, effect: EffectSize = NO_TOLERANCE): MetricClassification {
  const canary = finite(canaryValues);
  const stable = finite(stableValues);
  if (canary.length === 0 || stable.length === 0) {
    return { classification: 'NoData', failed: false, reason: `no data for ${canary.length === 0 ? 'the canary' : 'stable'}` };
  }
  const test = mannWhitney(canary, stable, confidence);
  const stableMean = mean(stable);
  const meanRatio = stableMean === 0 ? undefined : mean(canary) / stableMean;
  const [low, high] = test.interval;
  const shift = `shift ${test.estimate.toPrecision(3)} in [${low.toPrecision(3)}, ${high.toPrecision(3)}] at ${confidence * 100} %, p = ${test.pValue.toPrecision(2)}`;
  // Decided by the test, which the interval inverts: with tied, lattice-valued data (error rates) a
  // bound often sits exactly on 0, where "does the interval exclude 0" would turn on rounding.
  if (test.pValue >= 1 - confidence) return { classification: 'Pass', failed: false, test, meanRatio, reason: `no significant difference (${shift})` };
  const classification = test.w > (canary.length * stable.length) / 2 ? 'High' : 'Low';
  const allowed = classification === 'High' ? effect.allowedIncrease : effect.allowedDecrease;
  if (meanRatio !== undefined && (classification === 'High' ? meanRatio < allowed : meanRatio > allowed)) {
    return { classification: 'Pass', failed: false, test, meanRatio, reason: `canary ${classification === 'High' ? 'higher' : 'lower'} but within the allowed ratio (${meanRatio.toFixed(2)}× stable, allowed ${allowed}×; ${shift})` };
  }
  const failed = direction === 'either' || (direction === 'increase') === (classification === 'High');
  return { classification, failed, test, meanRatio, reason: `canary ${classification === 'High' ? 'higher' : 'lower'}${failed ? '' : ', which is fine for this metric'} (${shift})` };
}

export interface ScoredMetric {
  name: string;
  weight: number;
  critical: boolean;
  result: MetricClassification;
}

export interface Score {
  /** 0–100, undefined when no metric had data. */
  score?: number;
  /** Critical metrics that failed: any forces the score to 0. */
  criticalFailed: string[];
  verdict: 'pass' | 'marginal' | 'fail' | 'nodata';
}

/**
 * Weighted share of passing metrics among those with data, 0–100; a failed critical metric makes it 0.
 * ≥ passScore passes, ≥ marginalScore is marginal (neither promote nor roll back), else fails.
 */
export function score(metrics: readonly ScoredMetric[], passScore: number, marginalScore: number): Score {
  const withData = metrics.filter((m) => m.result.classification !== 'NoData');
  const criticalFailed = withData.filter((m) => m.critical && m.result.failed).map((m) => m.name);
  const total = withData.reduce((a, m) => a + m.weight, 0);
  if (total === 0) return { criticalFailed, verdict: 'nodata' };
  const value = criticalFailed.length ? 0 : (100 * withData.filter((m) => !m.result.failed).reduce((a, m) => a + m.weight, 0)) / total;
  return { score: value, criticalFailed, verdict: value >= passScore ? 'pass' : value >= marginalScore ? 'marginal' : 'fail' };
}

export type Measurement = 'success' | 'failure' | 'inconclusive' | 'error';

export interface ThresholdRules {
  maxErrorRate: number;
  maxP95LatencySeconds: number;
  maxErrorRateIncrease: number;
  maxLatencyRatio: number;
}

/** The seed's rules, canary-analyze's defaults: errors > 5 %, +3 points over stable, p95 > 2 s, 1.5× stable. */
export const SEED_RULES: ThresholdRules = { maxErrorRate: 0.05, maxP95LatencySeconds: 2, maxErrorRateIncrease: 0.03, maxLatencyRatio: 1.5 };

export interface Judged {
  measurement: Measurement;
  reason: string;
}

/**
 * The seed's rules on one measurement of canary and stable. `undefined` and NaN are no data (no
 * traffic, a missing series): inconclusive, never a pass. An error rate of 0 is data: "no errors".
 */
export function judgeThresholds(metric: 'error-rate' | 'p95-latency', canary: number | undefined, stable: number | undefined, rules: ThresholdRules): Judged {
  // NaN is 0/0, no data; +Inf (something over zero) is data above any limit.
  if (canary === undefined || Number.isNaN(canary)) return { measurement: 'inconclusive', reason: 'no data for the canary' };
  const hasStable = stable !== undefined && Number.isFinite(stable);
  if (metric === 'error-rate') {
    if (canary > rules.maxErrorRate) return { measurement: 'failure', reason: `error rate ${pct(canary)} > ${pct(rules.maxErrorRate)}` };
    if (hasStable && canary - stable > rules.maxErrorRateIncrease) {
      return { measurement: 'failure', reason: `error rate ${pct(canary)} is ${pct(canary - stable)} above stable's ${pct(stable)} (limit +${pct(rules.maxErrorRateIncrease)})` };
    }
    return { measurement: 'success', reason: `error rate ${pct(canary)}${hasStable ? ` (stable ${pct(stable)})` : ''}` };
  }
  if (canary > rules.maxP95LatencySeconds) return { measurement: 'failure', reason: `p95 ${secs(canary)} > ${secs(rules.maxP95LatencySeconds)}` };
  if (hasStable && stable > 0 && canary / stable > rules.maxLatencyRatio) {
    return { measurement: 'failure', reason: `p95 ${secs(canary)} is ${(canary / stable).toFixed(2)}× stable's ${secs(stable)} (limit ${rules.maxLatencyRatio}×)` };
  }
  return { measurement: 'success', reason: `p95 ${secs(canary)}${hasStable ? ` (stable ${secs(stable)})` : ''}` };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const secs = (x: number) => (x < 1 ? `${Math.round(x * 1000)} ms` : `${x.toFixed(2)} s`);

export interface OutcomeLimits {
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
}

/**
 * Argo Rollouts' outcome model over a run of measurements: it fails when failures exceed the failure
 * limit (strictly greater), is inconclusive when inconclusive measurements exceed theirs, errors after
 * more consecutive errors than allowed; otherwise it is still running (and succeeds when it ends so).
 */
export class Outcome {
  private counts = { success: 0, failure: 0, inconclusive: 0, error: 0 };
  private consecutiveErrors = 0;

  constructor(private readonly limits: OutcomeLimits) {}

  add(measurement: Measurement): void {
    this.counts[measurement]++;
    this.consecutiveErrors = measurement === 'error' ? this.consecutiveErrors + 1 : 0;
  }

  get tally(): Readonly<Record<Measurement, number>> {
    return this.counts;
  }

  /** Errors in a row at the end of the run so far. */
  get errorsInARow(): number {
    return this.consecutiveErrors;
  }

  get status(): 'running' | 'failure' | 'inconclusive' | 'error' {
    if (this.consecutiveErrors > this.limits.consecutiveErrorLimit) return 'error';
    if (this.counts.failure > this.limits.failureLimit) return 'failure';
    if (this.counts.inconclusive > this.limits.inconclusiveLimit) return 'inconclusive';
    return 'running';
  }
}
