// One canary analysis: measurements every interval (the seed's thresholds, per metric, counted as Argo
// Rollouts counts them) and, at the end of a window, the statistical judgement of every metric (as
// Kayenta makes it). Where the numbers come from is a MetricSource: Prometheus for the action,
// synthetic series for the judge benchmark.
import { classify, judgeThresholds, Outcome, score, type Judged, type Measurement, type MetricClassification, type OutcomeLimits, type Score, type ThresholdRules } from './judge';
import { queryRange, queryValue, type PrometheusEndpoint } from '../prometheus';
import { renderQuery, type MetricDefinition } from './metrics';

export interface MetricSource {
  /** The query's single value now; undefined when it has no data. Throws when the source fails. */
  instant(query: string): Promise<number | undefined>;
  range(query: string, start: Date, end: Date, stepSeconds: number): Promise<number[]>;
}

/** Prometheus as a MetricSource. */
export function prometheusSource(endpoint: PrometheusEndpoint): MetricSource {
  return {
    instant: (query) => queryValue(endpoint, query),
    range: (query, start, end, step) => queryRange(endpoint, query, start, end, step),
  };
}

export type Judge = 'thresholds' | 'mann-whitney' | 'both';

export interface AnalysisConfig {
  metrics: MetricDefinition[];
  canarySelector: string;
  stableSelector: string;
  /** Rate window of the queries, e.g. `1m`. */
  window: string;
  judge: Judge;
  rules: ThresholdRules;
  confidence: number;
  passScore: number;
  marginalScore: number;
  limits: OutcomeLimits;
  /** Canary requests in the window below which a measurement has no data. */
  minRequests: number;
  /** The query counting the canary's requests in the window, with {{ selector }} and {{ window }}. */
  requestsQuery: string;
  onNoData: 'inconclusive' | 'fail' | 'pass';
}

export interface MetricMeasurement {
  metric: string;
  canary?: number;
  stable?: number;
  /** Absent for metrics only the statistical judge looks at. */
  judged?: Judged;
}

export interface Tick {
  at: Date;
  /** Canary requests in the window; undefined when the source failed. */
  requests?: number;
  measurements: MetricMeasurement[];
}

export type AnalysisStatus = 'running' | 'failure' | 'inconclusive' | 'error';

export interface Judgement {
  metrics: { name: string; result: MetricClassification }[];
  score: Score;
  passScore: number;
  marginalScore: number;
}

const noData = (config: AnalysisConfig, reason: string): Judged =>
  config.onNoData === 'pass' ? { measurement: 'success', reason: `${reason} (on-no-data: pass)` } : config.onNoData === 'fail' ? { measurement: 'failure', reason: `${reason} (on-no-data: fail)` } : { measurement: 'inconclusive', reason };

/** A custom metric's fixed limit, in its bad direction. */
function judgeLimit(metric: MetricDefinition, canary: number | undefined): Judged {
  if (canary === undefined || Number.isNaN(canary)) return { measurement: 'inconclusive', reason: 'no data for the canary' };
  const limit = metric.threshold as number;
  const over = metric.direction === 'decrease' ? canary < limit : metric.direction === 'increase' ? canary > limit : canary !== limit;
  return { measurement: over ? 'failure' : 'success', reason: `${canary} (limit ${limit}, bad when it ${metric.direction === 'either' ? 'changes' : `${metric.direction}s`})` };
}

export class Analysis {
  private readonly outcomes = new Map<string, Outcome>();
  readonly ticks: Tick[] = [];

  constructor(
    private readonly config: AnalysisConfig,
    private readonly source: MetricSource,
  ) {
    for (const metric of this.judged()) this.outcomes.set(metric.name, new Outcome(config.limits));
  }

  /** Metrics judged every interval: the seed's rules and custom metrics with a threshold. */
  private judged(): MetricDefinition[] {
    if (this.config.judge === 'mann-whitney') return [];
    return this.config.metrics.filter((m) => m.rule || m.threshold !== undefined);
  }

  private query(metric: MetricDefinition | string, selector: string): string {
    const definition = typeof metric === 'string' ? { query: metric } : metric;
    return renderQuery(definition as MetricDefinition, selector, this.config.window);
  }

  /**
   * One measurement: every metric's canary and stable values (for the record and the charts), and a
   * judgement of the judged ones. A failing source is an error measurement, not a crash.
   */
  async measure(at = new Date()): Promise<Tick> {
    let requests: number | undefined;
    let sourceError: string | undefined;
    try {
      requests = await this.source.instant(this.query(this.config.requestsQuery, this.config.canarySelector));
    } catch (error) {
      sourceError = (error as Error).message;
    }
    const judged = new Set(this.judged());
    const measurements = await Promise.all(
      this.config.metrics.map(async (metric): Promise<MetricMeasurement> => {
        const judge = (result: () => Judged) => (judged.has(metric) ? { judged: result() } : {});
        if (sourceError !== undefined) return { metric: metric.name, ...judge(() => ({ measurement: 'error', reason: sourceError as string })) };
        let canary: number | undefined;
        let stable: number | undefined;
        try {
          [canary, stable] = await Promise.all([this.source.instant(this.query(metric, this.config.canarySelector)), this.source.instant(this.query(metric, this.config.stableSelector))]);
        } catch (error) {
          return { metric: metric.name, ...judge(() => ({ measurement: 'error', reason: (error as Error).message })) };
        }
        return {
          metric: metric.name,
          canary,
          stable,
          ...judge(() => {
            if ((requests ?? 0) < this.config.minRequests) return noData(this.config, `${Math.round(requests ?? 0)} canary requests in ${this.config.window}, fewer than min-requests ${this.config.minRequests}`);
            const result = metric.rule ? judgeThresholds(metric.rule, canary, stable, this.config.rules) : judgeLimit(metric, canary);
            return result.measurement === 'inconclusive' ? noData(this.config, result.reason) : result;
          }),
        };
      }),
    );
    for (const m of measurements) if (m.judged) this.outcomes.get(m.metric)?.add(m.judged.measurement);
    const tick = { at, requests, measurements };
    this.ticks.push(tick);
    return tick;
  }

  /** Failure if any metric failed, else error, else inconclusive, else running. */
  get status(): AnalysisStatus {
    const statuses = [...this.outcomes.values()].map((o) => o.status);
    for (const status of ['failure', 'error', 'inconclusive'] as const) if (statuses.includes(status)) return status;
    return 'running';
  }

  tally(metric: string): Readonly<Record<Measurement, number>> | undefined {
    return this.outcomes.get(metric)?.tally;
  }

  /** The statistical judgement of every metric over [start, end], sampled every step. */
  async judge(start: Date, end: Date, stepSeconds: number): Promise<Judgement> {
    const metrics = await Promise.all(
      this.config.metrics.map(async (metric) => {
        const [canary, stable] = await Promise.all([
          this.source.range(this.query(metric, this.config.canarySelector), start, end, stepSeconds),
          this.source.range(this.query(metric, this.config.stableSelector), start, end, stepSeconds),
        ]);
        return { name: metric.name, weight: metric.weight, critical: metric.critical, result: classify(canary, stable, metric.direction, this.config.confidence, metric.effect) };
      }),
    );
    const { passScore, marginalScore } = this.config;
    return { metrics: metrics.map(({ name, result }) => ({ name, result })), score: score(metrics, passScore, marginalScore), passScore, marginalScore };
  }
}
