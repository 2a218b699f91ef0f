import { describe, expect, it } from 'vitest';
import { SEED_RULES } from '../src/canary/judge';
import { builtinMetrics } from '../src/canary/metrics';
import { describeRule, formatValue, metricChart, resultsJson } from '../src/canary/report';
import type { CanaryResult, StepRecord } from '../src/canary/progression';

const M = builtinMetrics();
const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 9, 0, s));
const step = (weight: number, values: [number | undefined, number | undefined][], start = 0): StepRecord => ({
  weight,
  startedAt: at(start),
  endedAt: at(start + values.length),
  status: 'passed',
  ticks: values.map(([canary, stable], i) => ({ at: at(start + i + 1), requests: 100, measurements: [{ metric: 'error-rate', canary, stable, judged: { measurement: 'success', reason: 'ok' } }] })),
});

describe('canary report', () => {
  it('shows values in the units people read', () => {
    expect(formatValue(M['error-rate'], 0.0123)).toBe('1.23 %');
    expect(formatValue(M['p95-latency'], 0.04875)).toBe('48.8 ms');
    expect(formatValue(M['p95-latency'], 2.5)).toBe('2.50 s');
    expect(formatValue(M.memory, 80 * 1024 * 1024)).toBe('80.0 MiB');
    expect(formatValue(M.cpu, 0.0123456)).toBe('0.01235');
    expect(formatValue(M.cpu, Number.NaN)).toBe('no data');
    expect(formatValue(M.cpu, undefined)).toBe('no data');
  });

  it('describes each rule', () => {
    expect(describeRule(M['error-rate'], SEED_RULES)).toBe('≤ 5 % and ≤ stable + 3 points; critical');
    expect(describeRule(M['p95-latency'], SEED_RULES)).toBe('≤ 2 s and ≤ 1.5× stable');
    expect(describeRule(M.cpu, SEED_RULES)).toBe('statistical only (bad when it increases beyond 1.25×); weight 0: reported only');
    expect(describeRule({ name: 'q', query: '', direction: 'decrease', weight: 2, critical: false, threshold: 10 }, SEED_RULES)).toBe('≥ 10; weight 2');
  });

  it('charts canary against stable, leaving out points without data on either side', () => {
    const chart = metricChart(M['error-rate'], [step(10, [[0.01, 0.02], [undefined, 0.02], [0.03, 0.01]]), step(50, [[0.02, Number.NaN], [0.04, 0.01]], 10)]);
    expect(chart).toBe([
      '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#d62728, #1f77b4"}}}}%%',
      'xychart-beta',
      '  title "error-rate (%): canary (red) vs stable (blue)"',
      '  x-axis "time into the run" ["1s", "3s", "12s"]',
      '  line [1, 3, 4]',
      '  line [2, 1, 1]',
    ].join('\n'));
    expect(metricChart(M['error-rate'], [step(10, [[0.01, 0.02]])])).toBeUndefined();
    // Long runs are thinned to at most 60 points.
    const long = metricChart(M['error-rate'], [step(10, Array.from({ length: 300 }, () => [0.01, 0.01] as [number, number]))]);
    expect(/line \[([^\]]*)\]/.exec(long ?? '')?.[1]?.split(', ').length).toBeLessThanOrEqual(60);
  });

  it('results are plain JSON with every step, measurement and judgement', () => {
    const result: CanaryResult = { verdict: 'rollback', outcome: 'failure', reason: 'error-rate: error rate 8.00 % > 5.00 %', steps: [{ ...step(10, [[0.08, 0.01]]), status: 'failure', reason: 'error-rate: …' }], finalWeight: 0, rolledBack: true, rollback: { how: 'routing restored exactly as it was before the run', stableReady: 0, stableHealth: 'no ready endpoint' } };
    expect(JSON.parse(resultsJson(result))).toEqual({
      verdict: 'rollback',
      outcome: 'failure',
      reason: 'error-rate: error rate 8.00 % > 5.00 %',
      score: null,
      finalWeight: 0,
      rolledBack: true,
      rollback: { how: 'routing restored exactly as it was before the run', stableReady: 0, stableHealth: 'no ready endpoint' },
      steps: [{
        weight: 10,
        status: 'failure',
        reason: 'error-rate: …',
        startedAt: '2026-11-23T09:00:00.000Z',
        endedAt: '2026-11-23T09:00:01.000Z',
        measurements: [{ at: '2026-11-23T09:00:01.000Z', canaryRequests: 100, metrics: { 'error-rate': { canary: 0.08, stable: 0.01, result: 'success', reason: 'ok' } } }],
        judgement: null,
      }],
    });
  });
});
