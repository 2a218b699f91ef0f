import { describe, expect, it } from 'vitest';
import { classify, judgeThresholds, Outcome, score, SEED_RULES, type ScoredMetric } from '../src/canary/judge';

const RULES = SEED_RULES;
/** Deterministic jitter so samples have no ties. */
const series = (base: number, spread: number, n = 20) => Array.from({ length: n }, (_, i) => base + spread * Math.sin(i * 2.3 + base));

describe('Mann–Whitney classification (Kayenta)', () => {
  it('passes samples of the same location, reporting the interval', () => {
    const result = classify(series(0.2, 0.01), series(0.2, 0.01), 'increase', 0.98);
    expect(result.classification).toBe('Pass');
    expect(result.failed).toBe(false);
    expect(result.reason).toMatch(/no significant difference \(shift .* in \[.*\] at 98 %, p = [\d.e-]+\)/);
  });

  it('fails a metric that got worse in its bad direction, and says so', () => {
    const result = classify(series(0.3, 0.01), series(0.2, 0.01), 'increase', 0.98);
    expect(result).toMatchObject({ classification: 'High', failed: true });
    expect(result.meanRatio).toBeCloseTo(1.5, 1);
  });

  it('lets a change in the harmless direction pass, but not with `either`', () => {
    expect(classify(series(0.1, 0.01), series(0.2, 0.01), 'increase', 0.98)).toMatchObject({ classification: 'Low', failed: false, reason: expect.stringMatching(/lower, which is fine/) });
    expect(classify(series(0.1, 0.01), series(0.2, 0.01), 'either', 0.98)).toMatchObject({ classification: 'Low', failed: true });
    expect(classify(series(0.1, 0.01), series(0.2, 0.01), 'decrease', 0.98)).toMatchObject({ classification: 'Low', failed: true });
  });

  it("passes a significant change within the effect size (Kayenta's allowedIncrease / allowedDecrease)", () => {
    const effect = { allowedIncrease: 1.25, allowedDecrease: 0.8 };
    // 10 % higher, significant, but below 1.25×: a pass that says why.
    expect(classify(series(0.22, 0.001), series(0.2, 0.001), 'increase', 0.98, effect)).toMatchObject({ classification: 'Pass', failed: false, reason: expect.stringMatching(/^canary higher but within the allowed ratio \(1\.10× stable, allowed 1\.25×; shift/) });
    expect(classify(series(0.3, 0.001), series(0.2, 0.001), 'increase', 0.98, effect)).toMatchObject({ classification: 'High', failed: true });
    expect(classify(series(0.18, 0.001), series(0.2, 0.001), 'decrease', 0.98, effect)).toMatchObject({ classification: 'Pass' });
    expect(classify(series(0.1, 0.001), series(0.2, 0.001), 'decrease', 0.98, effect)).toMatchObject({ classification: 'Low', failed: true });
  });

  it('treats missing and NaN samples as no data, never a pass', () => {
    expect(classify([], series(0.2, 0.01), 'increase', 0.98)).toMatchObject({ classification: 'NoData', failed: false, reason: 'no data for the canary' });
    expect(classify(series(0.2, 0.01), [Number.NaN, Number.NaN], 'increase', 0.98)).toMatchObject({ classification: 'NoData', reason: 'no data for stable' });
  });
});

describe('score', () => {
  const metric = (name: string, failed: boolean, weight = 1, critical = false, classification: 'Pass' | 'High' | 'NoData' = failed ? 'High' : 'Pass'): ScoredMetric => ({ name, weight, critical, result: { classification, failed, reason: '' } });

  it('is the weighted share of passing metrics among those with data', () => {
    expect(score([metric('errors', false, 3), metric('latency', true, 1), metric('cpu', false, 0, false, 'NoData')], 95, 75)).toEqual({ score: 75, criticalFailed: [], verdict: 'marginal' });
    expect(score([metric('errors', false), metric('latency', false)], 95, 75)).toMatchObject({ score: 100, verdict: 'pass' });
    expect(score([metric('errors', true), metric('latency', false)], 95, 75)).toMatchObject({ score: 50, verdict: 'fail' });
  });

  it('is 0 when a critical metric fails, and no data when nothing had data', () => {
    expect(score([metric('errors', true, 1, true), metric('a', false, 9), metric('b', false, 9)], 95, 75)).toEqual({ score: 0, criticalFailed: ['errors'], verdict: 'fail' });
    expect(score([metric('errors', false, 1, false, 'NoData')], 95, 75)).toEqual({ criticalFailed: [], verdict: 'nodata' });
  });
});

describe("the seed's threshold rules", () => {
  it('error rate: absolute limit, limit above stable, and no errors is data', () => {
    expect(judgeThresholds('error-rate', 0.08, 0.01, RULES)).toEqual({ measurement: 'failure', reason: 'error rate 8.00 % > 5.00 %' });
    expect(judgeThresholds('error-rate', 0.04, 0.005, RULES)).toMatchObject({ measurement: 'failure', reason: expect.stringMatching(/3\.50 % above stable's 0\.50 % \(limit \+3\.00 %\)/) });
    expect(judgeThresholds('error-rate', 0.02, 0.01, RULES).measurement).toBe('success');
    expect(judgeThresholds('error-rate', 0, 0, RULES)).toEqual({ measurement: 'success', reason: 'error rate 0.00 % (stable 0.00 %)' });
    expect(judgeThresholds('error-rate', undefined, 0.01, RULES)).toEqual({ measurement: 'inconclusive', reason: 'no data for the canary' });
    expect(judgeThresholds('error-rate', Number.NaN, 0.01, RULES).measurement).toBe('inconclusive');
  });

  it('p95 latency: absolute limit and ratio to stable', () => {
    expect(judgeThresholds('p95-latency', 2.5, 0.3, RULES)).toEqual({ measurement: 'failure', reason: 'p95 2.50 s > 2.00 s' });
    expect(judgeThresholds('p95-latency', 0.6, 0.3, RULES)).toEqual({ measurement: 'failure', reason: "p95 600 ms is 2.00× stable's 300 ms (limit 1.5×)" });
    expect(judgeThresholds('p95-latency', 0.4, 0.3, RULES).measurement).toBe('success');
    expect(judgeThresholds('p95-latency', 0.4, undefined, RULES)).toEqual({ measurement: 'success', reason: 'p95 400 ms' });
  });
});

describe('outcome of a run of measurements (Argo Rollouts)', () => {
  it('fails only when failures exceed the limit', () => {
    const strict = new Outcome({ failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 });
    strict.add('success');
    expect(strict.status).toBe('running');
    strict.add('failure');
    expect(strict.status).toBe('failure');
    const lenient = new Outcome({ failureLimit: 1, inconclusiveLimit: 0, consecutiveErrorLimit: 4 });
    lenient.add('failure');
    expect(lenient.status).toBe('running');
    lenient.add('failure');
    expect(lenient.status).toBe('failure');
  });

  it('is inconclusive past the inconclusive limit', () => {
    const outcome = new Outcome({ failureLimit: 0, inconclusiveLimit: 1, consecutiveErrorLimit: 4 });
    outcome.add('inconclusive');
    expect(outcome.status).toBe('running');
    outcome.add('inconclusive');
    expect(outcome.status).toBe('inconclusive');
  });

  it('errors after more consecutive errors than allowed; a good measurement resets the run', () => {
    const outcome = new Outcome({ failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 });
    for (let i = 0; i < 4; i++) outcome.add('error');
    outcome.add('success');
    for (let i = 0; i < 4; i++) outcome.add('error');
    expect(outcome.status).toBe('running');
    outcome.add('error');
    expect(outcome.status).toBe('error');
    expect(outcome.tally).toEqual({ success: 1, failure: 0, inconclusive: 0, error: 9 });
  });
});
