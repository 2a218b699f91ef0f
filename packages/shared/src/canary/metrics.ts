// The metrics canary-analyze compares, as PromQL with `{{ selector }}` (the canary's or stable's label
// matchers) and `{{ window }}` (the rate window).
import type { Direction, EffectSize } from './judge';

export interface MetricDefinition {
  name: string;
  query: string;
  direction: Direction;
  weight: number;
  critical: boolean;
  /** A fixed limit on the canary's value, in the bad direction (custom metrics). */
  threshold?: number;
  /** Built-ins judged by the seed's threshold rules. */
  rule?: 'error-rate' | 'p95-latency';
  /** The statistical judge's effect size; none when absent. */
  effect?: EffectSize;
}

export interface MetricNames {
  requests: string;
  duration: string;
  /** The requests counter's label holding the HTTP status code (`status`, `code`). */
  statusLabel: string;
}

export const DEFAULT_METRIC_NAMES: MetricNames = { requests: 'http_requests_total', duration: 'http_request_duration_seconds', statusLabel: 'status' };

export const BUILTIN_METRICS = ['error-rate', 'p95-latency', 'cpu', 'memory'] as const;
export type BuiltinMetric = (typeof BUILTIN_METRICS)[number];

/**
 * CPU and memory differ between healthy instances (traffic share, heap growth, JIT): two identical
 * instances under the same load differed by 45 % in CPU in this project's A/A test. They are not in the
 * seed's rules either, so the built-ins are reported and charted with weight 0; given a weight, they
 * fail the statistical judge only beyond 25 % above stable.
 */
const RESOURCE_EFFECT: EffectSize = { allowedIncrease: 1.25, allowedDecrease: 1 };

/** Requests in the window, for the min-requests check. */
export function requestCountQuery(names: MetricNames = DEFAULT_METRIC_NAMES): string {
  return `sum(increase(${names.requests}{{{ selector }}}[{{ window }}]))`;
}

/**
 * The built-in metrics from a prom-client style service. The error rate's numerator falls back to 0
 * (`or vector(0)`): no 5xx series means no errors, while no request series at all stays no data.
 */
export function builtinMetrics(names: MetricNames = DEFAULT_METRIC_NAMES): Record<BuiltinMetric, MetricDefinition> {
  return {
    'error-rate': {
      name: 'error-rate',
      query: `(sum(rate(${names.requests}{{{ selector }},${names.statusLabel}=~"5.."}[{{ window }}])) or vector(0)) / sum(rate(${names.requests}{{{ selector }}}[{{ window }}]))`,
      direction: 'increase',
      weight: 1,
      critical: true,
      rule: 'error-rate',
    },
    'p95-latency': {
      name: 'p95-latency',
      query: `histogram_quantile(0.95, sum by (le) (rate(${names.duration}_bucket{{{ selector }}}[{{ window }}])))`,
      direction: 'increase',
      weight: 1,
      critical: false,
      rule: 'p95-latency',
    },
    // Per instance, so a side with more instances does not look heavier.
    cpu: { name: 'cpu', query: 'avg(rate(process_cpu_seconds_total{{{ selector }}}[{{ window }}]))', direction: 'increase', weight: 0, critical: false, effect: RESOURCE_EFFECT },
    memory: { name: 'memory', query: 'avg(process_resident_memory_bytes{{{ selector }}})', direction: 'increase', weight: 0, critical: false, effect: RESOURCE_EFFECT },
  };
}

/** The query for one side: `{{ selector }}` and `{{ window }}` replaced. */
export function renderQuery(definition: MetricDefinition, selector: string, window: string): string {
  return definition.query.replace(/\{\{\s*selector\s*\}\}/g, selector).replace(/\{\{\s*window\s*\}\}/g, window);
}
