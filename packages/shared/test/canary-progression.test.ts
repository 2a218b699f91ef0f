// The step logic over a synthetic MetricSource and a recording Traffic (the bundle test runs the same
// code with Prometheus and nginx); durations are tens of milliseconds.
import { describe, expect, it } from 'vitest';
import { Analysis, type AnalysisConfig, type MetricSource } from '../src/canary/analysis';
import { builtinMetrics } from '../src/canary/metrics';
import { runCanary, type ProgressionConfig } from '../src/canary/progression';
import { routerTraffic, type Traffic } from '../src/canary/traffic';
import { unreadyTargets, type ApplyOptions, type Router, type RoutingState, type SwitchRecord, type Weights } from '../src/routing/types';
import { analysisConfig as config } from '../../../test/helpers/canary';

const M = builtinMetrics();
const analysisConfig = (overrides: Partial<AnalysisConfig> = {}) => config({ limits: { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 2 }, minRequests: 10, ...overrides });
const progression = (overrides: Partial<ProgressionConfig> = {}): ProgressionConfig => ({
  steps: [10, 50, 100],
  stepDurationMs: 40,
  intervalMs: 10,
  windowMs: 10,
  judge: 'both',
  onNoData: 'inconclusive',
  consecutiveErrorLimit: 2,
  ...overrides,
});

/** The canary's error rate and latency as the test sets them; stable is healthy. Range samples jitter. */
function source(canary: { errorRate: number; p95: number; requests: number; down?: boolean }): MetricSource {
  const value = (query: string) => {
    if (canary.down) throw new Error('connect ECONNREFUSED 127.0.0.1:9090');
    const isCanary = query.includes('version="canary"');
    if (query.startsWith('sum(increase')) return isCanary ? canary.requests : 500;
    if (query.includes('5..')) return isCanary ? canary.errorRate : 0.01;
    return isCanary ? canary.p95 : 0.2;
  };
  return {
    instant: async (query) => value(query),
    range: async (query) => Array.from({ length: 12 }, (_, i) => value(query) * (1 + 0.02 * Math.sin(i * 1.7 + (query.includes('canary') ? 0.5 : 0)))),
  };
}

function recordingTraffic(log: string[], fail?: 'rollback'): Traffic {
  return {
    initialWeight: 0,
    setWeight: async (weight) => void log.push(`weight ${weight}`),
    rollback: async () => {
      log.push('rollback');
      if (fail) throw new Error('nginx -t failed');
      return { how: 'restored', stableReady: 1, stableHealth: '1 ready endpoint' };
    },
  };
}

describe('runCanary', () => {
  it('promotes through every step, judging each step where stable still has traffic', async () => {
    const log: string[] = [];
    const result = await runCanary(progression(), new Analysis(analysisConfig(), source({ errorRate: 0.01, p95: 0.2, requests: 100 })), recordingTraffic(log), {
      step: (s) => log.push(`step ${s.weight}`),
      judged: (j, s) => log.push(`judged ${s.weight} ${j.score.verdict}`),
    });
    expect(result).toMatchObject({ verdict: 'promote', outcome: 'success', finalWeight: 100, rolledBack: false, score: 100, reason: 'passed every step (10 → 50 → 100 %)' });
    expect(log).toEqual(['weight 10', 'step 10', 'judged 10 pass', 'weight 50', 'step 50', 'judged 50 pass', 'weight 100', 'step 100']);
    expect(result.steps.map((s) => s.status)).toEqual(['passed', 'passed', 'passed']);
    expect(result.steps.every((s) => s.ticks.length >= 3)).toBe(true);
  });

  it('takes the traffic away at the first failed measurement, and goes no further', async () => {
    const log: string[] = [];
    const canary = { errorRate: 0.01, p95: 0.2, requests: 100 };
    const result = await runCanary(progression(), new Analysis(analysisConfig(), source(canary)), recordingTraffic(log), {
      step: (s) => {
        if (s.weight === 50) canary.errorRate = 0.08;
      },
    });
    expect(result).toMatchObject({ verdict: 'rollback', outcome: 'failure', finalWeight: 0, rolledBack: true, reason: 'error-rate: error rate 8.00 % > 5.00 %' });
    expect(log).toEqual(['weight 10', 'weight 50', 'rollback']);
    expect(result.steps.map((s) => [s.weight, s.status])).toEqual([[10, 'passed'], [50, 'failure']]);
  });

  it('fails on the statistical judge alone, and is inconclusive when it is marginal', async () => {
    // 1.4× stable's latency: under the 1.5× rule, but significantly higher.
    const slow = { errorRate: 0.01, p95: 0.28, requests: 100 };
    const failed = await runCanary(progression(), new Analysis(analysisConfig(), source(slow)), recordingTraffic([]));
    expect(failed).toMatchObject({ verdict: 'rollback', outcome: 'failure', score: 50, reason: 'the statistical judge failed the canary: score 50 (pass ≥ 95, marginal ≥ 75)' });
    const weighted = analysisConfig({ metrics: [{ ...M['error-rate'], weight: 3 }, M['p95-latency']] });
    const marginal = await runCanary(progression(), new Analysis(weighted, source(slow)), recordingTraffic([]));
    expect(marginal).toMatchObject({ verdict: 'inconclusive', outcome: 'inconclusive', score: 75, rolledBack: true });
  });

  it('is inconclusive without traffic unless on-no-data says otherwise', async () => {
    const idle = { errorRate: 0, p95: 0.2, requests: 0 };
    const result = await runCanary(progression(), new Analysis(analysisConfig(), source(idle)), recordingTraffic([]));
    expect(result).toMatchObject({ verdict: 'inconclusive', outcome: 'inconclusive', reason: 'error-rate: 0 canary requests in 1m, fewer than min-requests 10' });
    const failing = await runCanary(progression({ onNoData: 'fail' }), new Analysis(analysisConfig({ onNoData: 'fail' }), source(idle)), recordingTraffic([]));
    expect(failing).toMatchObject({ verdict: 'rollback', outcome: 'failure' });
  });

  it('ends in error after more consecutive source errors than allowed', async () => {
    const canary = { errorRate: 0.01, p95: 0.2, requests: 100, down: false };
    const log: string[] = [];
    const result = await runCanary(progression({ stepDurationMs: 200 }), new Analysis(analysisConfig(), source(canary)), recordingTraffic(log), {
      tick: (_, s) => {
        if (s.ticks.length === 2) canary.down = true;
      },
    });
    expect(result).toMatchObject({ verdict: 'inconclusive', outcome: 'error', reason: 'error-rate: connect ECONNREFUSED 127.0.0.1:9090', finalWeight: 0 });
    expect(result.steps[0]?.ticks.map((t) => t.measurements[0]?.judged?.measurement)).toEqual(['success', 'success', 'error', 'error', 'error']);
    expect(log).toEqual(['weight 10', 'rollback']);
  });

  it('ends inconclusive at the deadline, and on cancellation, taking the traffic away', async () => {
    const healthy = () => new Analysis(analysisConfig(), source({ errorRate: 0.01, p95: 0.2, requests: 100 }));
    const late = await runCanary(progression({ deadlineMs: 60 }), healthy(), recordingTraffic([]));
    expect(late).toMatchObject({ verdict: 'inconclusive', outcome: 'inconclusive', reason: 'the deadline passed before the canary was decided', rolledBack: true });
    const controller = new AbortController();
    const log: string[] = [];
    const cancelled = await runCanary(progression({ stepDurationMs: 10_000 }), healthy(), recordingTraffic(log), { tick: () => controller.abort() }, controller.signal);
    expect(cancelled).toMatchObject({ outcome: 'error', reason: 'cancelled', rolledBack: true });
    expect(log).toEqual(['weight 10', 'rollback']);
  });

  it('says so when taking the traffic away fails', async () => {
    await expect(runCanary(progression(), new Analysis(analysisConfig(), source({ errorRate: 0.5, p95: 0.2, requests: 100 })), recordingTraffic([], 'rollback'))).rejects.toThrow(
      "error-rate: error rate 50.00 % > 5.00 %; and taking the canary's traffic away failed: nginx -t failed",
    );
  });

  it('in analyze mode, measures one window and touches no traffic', async () => {
    const result = await runCanary(progression({ steps: [] }), new Analysis(analysisConfig(), source({ errorRate: 0.01, p95: 0.2, requests: 100 })), undefined);
    expect(result).toMatchObject({ verdict: 'promote', finalWeight: undefined, rolledBack: false, reason: 'passed the analysis' });
    expect(result.steps).toHaveLength(1);
    expect(result.steps[0]?.judgement?.score.verdict).toBe('pass');
  });
});

describe('routerTraffic', () => {
  /**
   * A router that keeps weights in memory, logs what it is asked, and refuses (as every router does)
   * to give traffic to a backend with no ready endpoints unless told not to check.
   */
  function memoryRouter(weights: Weights, log: string[], ready: Record<string, number> = { stable: 1, canary: 1 }): Router {
    let state = weights;
    const router: Router = {
      kind: 'nginx',
      backends: ['stable', 'canary'],
      read: async (): Promise<RoutingState> => ({ weights: state, snapshot: JSON.stringify(state) }),
      apply: async (w: Weights, r: SwitchRecord, options?: ApplyOptions) => {
        const unready = await unreadyTargets(router, w, options);
        if (unready.length) throw new Error(`not switching: ${unready.join(', ')} has no ready endpoints`);
        log.push(`apply ${JSON.stringify(w)} (${r.reason})${options?.requireReady === false ? ' unchecked' : ''}`);
        state = w;
        return { weights: w, snapshot: '' };
      },
      restore: async (snapshot: string) => {
        log.push(`restore ${snapshot}`);
        state = JSON.parse(snapshot) as Weights;
      },
      readyEndpoints: async (backend) => ready[backend] ?? 0,
    };
    return router;
  }
  const record = (reason: string): SwitchRecord => ({ by: 'octocat', at: '2026-11-23T00:00:00Z', reason });

  it('restores routing exactly when the canary had no traffic before, else sends everything to stable', async () => {
    const log: string[] = [];
    const fresh = await routerTraffic(memoryRouter({ stable: 100, canary: 0 }, log), record);
    await fresh.setWeight(25);
    expect(await fresh.rollback()).toEqual({ how: 'routing restored exactly as it was before the run', stableReady: 1, stableHealth: '1 ready endpoint' });
    expect(log).toEqual(['apply {"stable":75,"canary":25} (canary step 25 %)', 'restore {"stable":100,"canary":0}']);

    log.length = 0;
    const already = await routerTraffic(memoryRouter({ stable: 50, canary: 50 }, log), record);
    expect(already.initialWeight).toBe(50);
    await already.rollback();
    expect(log).toEqual(['apply {"stable":100,"canary":0} (canary rollback) unchecked']);
  });

  it('restores the routing found at the start when it had no recorded weights, even with stable looking unready, and says stable is unready', async () => {
    const log: string[] = [];
    const ready = { stable: 1, canary: 1 };
    const traffic = await routerTraffic(memoryRouter({}, log, ready), record);
    await traffic.setWeight(10);
    ready.stable = 0;
    const report = await traffic.rollback();
    expect(log).toEqual(['apply {"stable":90,"canary":10} (canary step 10 %)', 'restore {}']);
    expect(report).toEqual({ how: 'routing restored exactly as it was before the run', stableReady: 0, stableHealth: 'no ready endpoint: stable may not be serving the traffic it got back' });
  });

  it('sends everything to stable without a readiness check when the canary had a share at the start', async () => {
    const log: string[] = [];
    const ready = { stable: 1, canary: 1 };
    const traffic = await routerTraffic(memoryRouter({ stable: 70, canary: 30 }, log, ready), record);
    await traffic.setWeight(50);
    ready.stable = 0;
    expect((await traffic.rollback()).stableReady).toBe(0);
    expect(log.at(-1)).toBe('apply {"stable":100,"canary":0} (canary rollback) unchecked');
  });

  it('reports what the rollback did and stable\'s health in the result', async () => {
    const result = await runCanary(progression(), new Analysis(analysisConfig(), source({ errorRate: 0.5, p95: 0.2, requests: 100 })), recordingTraffic([]));
    expect(result).toMatchObject({ rolledBack: true, rollback: { how: 'restored', stableHealth: '1 ready endpoint' } });
  });
});
