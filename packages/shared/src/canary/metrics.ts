// The metrics canary-analyze compares, as PromQL with `{{ selector }}` (the canary's or stable's label
// matchers) and `{{ window }}` (the rate window).
import type { Direction } from './judge';

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
}

export interface MetricNames {
  requests: string;
  duration: string;
}

export const DEFAULT_METRIC_NAMES: MetricNames = { requests: 'http_requests_total', duration: 'http_request_duration_seconds' };

/** Requests in the window, for the min-requests check. */
export function requestCountQuery(names: MetricNames = DEFAULT_METRIC_NAMES): string {
  return `sum(increase(${names.requests}{{{ selector }}}[{{ window }}]))`;
}

/**
 * The built-in metrics from a prom-client style service. The error rate's numerator falls back to 0
 * (`or vector(0)`): no 5xx series means no errors, while no request series at all stays no data.
 */
export function builtinMetrics(names: MetricNames = DEFAULT_METRIC_NAMES): Record<'error-rate' | 'p95-latency' | 'cpu' | 'memory', MetricDefinition> {
  return {
    'error-rate': {
      name: 'error-rate',
      query: `(sum(rate(${names.requests}{{{ selector }},status=~"5.."}[{{ window }}])) or vector(0)) / sum(rate(${names.requests}{{{ selector }}}[{{ window }}]))`,
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
    cpu: { name: 'cpu', query: 'sum(rate(process_cpu_seconds_total{{{ selector }}}[{{ window }}]))', direction: 'increase', weight: 1, critical: false },
    memory: { name: 'memory', query: 'sum(process_resident_memory_bytes{{{ selector }}})', direction: 'increase', weight: 1, critical: false },
  };
}

/** The query for one side: `{{ selector }}` and `{{ window }}` replaced. */
export function renderQuery(definition: MetricDefinition, selector: string, window: string): string {
  return definition.query.replace(/\{\{\s*selector\s*\}\}/g, selector).replace(/\{\{\s*window\s*\}\}/g, window);
}
