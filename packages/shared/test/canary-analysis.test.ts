// The analysis logic over a synthetic MetricSource (the same interface Prometheus is read through;
// canary-metrics.test.ts runs it on a real Prometheus).
import { describe, expect, it } from 'vitest';
import { Analysis, type AnalysisConfig, type MetricSource } from '../src/canary/analysis';
import { builtinMetrics } from '../src/canary/metrics';
import { analysisConfig } from '../../../test/helpers/canary';

const M = builtinMetrics();
const config = (overrides: Partial<AnalysisConfig> = {}) => analysisConfig({ minRequests: 50, ...overrides });

interface Side {
  requests: number;
  errorRate: number;
  p95: number;
}

/** Answers by which side and which metric a query asks for; range samples jitter deterministically. */
function source(canary: Side, stable: Side, fail?: () => boolean): MetricSource {
  const side = (query: string) => (query.includes('version="canary"') ? canary : stable);
  const pick = (query: string) => {
    if (fail?.()) throw new Error('connect ECONNREFUSED 127.0.0.1:9090');
    const s = side(query);
    if (query.startsWith('sum(increase')) return s.requests;
    if (query.includes('status=~"5.."')) return s.requests ? s.errorRate : undefined;
    return s.requests ? s.p95 : Number.NaN;
  };
  return {
    instant: async (query) => pick(query),
    range: async (query) => {
      const v = pick(query);
      return v === undefined ? [] : Array.from({ length: 30 }, (_, i) => v * (1 + 0.05 * Math.sin(i * 2.1 + (query.includes('canary') ? 1 : 0))));
    },
  };
}

const healthy: Side = { requests: 600, errorRate: 0.01, p95: 0.2 };

describe('canary analysis', () => {
  it('keeps running on a healthy canary and judges it a pass', async () => {
    const analysis = new Analysis(config(), source(healthy, healthy));
    for (let i = 0; i < 3; i++) await analysis.measure();
    expect(analysis.status).toBe('running');
    expect(analysis.tally('error-rate')).toEqual({ success: 3, failure: 0, inconclusive: 0, error: 0 });
    const judgement = await analysis.judge(new Date(0), new Date(60_000), 2);
    expect(judgement.score).toEqual({ score: 100, criticalFailed: [], verdict: 'pass' });
  });

  it('fails at the first measurement of a canary at 8 % errors', async () => {
    const analysis = new Analysis(config(), source({ ...healthy, errorRate: 0.08 }, healthy));
    const tick = await analysis.measure();
    expect(analysis.status).toBe('failure');
    expect(tick.measurements[0]?.judged).toEqual({ measurement: 'failure', reason: 'error rate 8.00 % > 5.00 %' });
    const judgement = await analysis.judge(new Date(0), new Date(60_000), 2);
    expect(judgement.score).toMatchObject({ score: 0, criticalFailed: ['error-rate'], verdict: 'fail' });
  });

  it('fails a canary twice as slow, through the latency ratio and the statistics', async () => {
    const analysis = new Analysis(config(), source({ ...healthy, p95: 0.4 }, healthy));
    await analysis.measure();
    expect(analysis.status).toBe('failure');
    const judgement = await analysis.judge(new Date(0), new Date(60_000), 2);
    expect(judgement.metrics.find((m) => m.name === 'p95-latency')?.result).toMatchObject({ classification: 'High', failed: true });
    expect(judgement.score).toMatchObject({ score: 50, verdict: 'fail' });
  });

  it('is inconclusive without traffic, never a pass, unless on-no-data says so', async () => {
    const idle = source({ requests: 0, errorRate: 0, p95: 0 }, healthy);
    const analysis = new Analysis(config(), idle);
    const tick = await analysis.measure();
    expect(analysis.status).toBe('inconclusive');
    expect(tick.measurements[0]?.judged?.reason).toBe('0 canary requests in 1m, fewer than min-requests 50');
    expect((await analysis.judge(new Date(0), new Date(60_000), 2)).score.verdict).toBe('nodata');
    const lenient = new Analysis(config({ onNoData: 'pass' }), idle);
    await lenient.measure();
    expect(lenient.status).toBe('running');
    const strict = new Analysis(config({ onNoData: 'fail' }), idle);
    await strict.measure();
    expect(strict.status).toBe('failure');
  });

  it('errors after more consecutive source failures than allowed', async () => {
    let down = true;
    const analysis = new Analysis(config(), source(healthy, healthy, () => down));
    for (let i = 0; i < 4; i++) await analysis.measure();
    expect(analysis.status).toBe('running');
    const tick = await analysis.measure();
    expect(analysis.status).toBe('error');
    expect(tick.measurements[0]?.judged).toEqual({ measurement: 'error', reason: 'connect ECONNREFUSED 127.0.0.1:9090' });
    down = false;
  });

  it('with judge: mann-whitney, records values every interval but judges none', async () => {
    const analysis = new Analysis(config({ judge: 'mann-whitney' }), source({ ...healthy, errorRate: 0.08 }, healthy));
    expect((await analysis.measure()).measurements).toEqual([
      { metric: 'error-rate', canary: 0.08, stable: 0.01 },
      { metric: 'p95-latency', canary: 0.2, stable: 0.2 },
    ]);
    expect(analysis.status).toBe('running');
  });

  it('records metrics without a rule or threshold, judging only the others', async () => {
    const cpu = { name: 'cpu', query: 'avg(rate(process_cpu_seconds_total{{{ selector }}}[{{ window }}]))', direction: 'increase' as const, weight: 1, critical: false };
    const analysis = new Analysis(config({ metrics: [M['error-rate'], cpu] }), source(healthy, healthy));
    const tick = await analysis.measure();
    expect(tick.requests).toBe(600);
    expect(tick.measurements[1]).toEqual({ metric: 'cpu', canary: 0.2, stable: 0.2 });
    expect(analysis.tally('cpu')).toBeUndefined();
  });
});
