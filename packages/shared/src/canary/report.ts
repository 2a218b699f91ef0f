// What a canary run tells people: the `results` output (JSON) and the job summary (tables per step
// and metric, the statistical judgement, and a chart of canary against stable per metric).
import * as core from '@actions/core';
import { formatDuration } from '../duration';
import { addMermaid, addTable, escapeHtml } from '../summary';
import type { ThresholdRules } from './judge';
import type { MetricDefinition } from './metrics';
import type { CanaryResult, StepRecord } from './progression';

/** How a metric's values are shown: error rates in %, latencies in ms, memory in MiB, others as they are. */
function unitOf(metric: MetricDefinition): { scale: number; unit: string } {
  if (metric.rule === 'error-rate') return { scale: 100, unit: '%' };
  if (metric.rule === 'p95-latency') return { scale: 1000, unit: 'ms' };
  if (metric.query.includes('process_resident_memory_bytes')) return { scale: 1 / 1024 / 1024, unit: 'MiB' };
  return { scale: 1, unit: '' };
}

export function formatValue(metric: MetricDefinition, value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return 'no data';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  const { scale, unit } = unitOf(metric);
  if (unit === 'ms' && value >= 1) return `${value.toFixed(2)} s`;
  return unit ? `${(value * scale).toFixed(unit === '%' ? 2 : 1)} ${unit}` : Number(value.toPrecision(4)).toString();
}

/** The rule a metric is held to, in words. */
export function describeRule(metric: MetricDefinition, rules: ThresholdRules): string {
  const tags = [metric.critical ? 'critical' : '', metric.weight === 0 ? 'weight 0: reported only' : metric.weight !== 1 ? `weight ${metric.weight}` : ''].filter(Boolean);
  let rule: string;
  if (metric.rule === 'error-rate') rule = `≤ ${rules.maxErrorRate * 100} % and ≤ stable + ${rules.maxErrorRateIncrease * 100} points`;
  else if (metric.rule === 'p95-latency') rule = `≤ ${rules.maxP95LatencySeconds} s and ≤ ${rules.maxLatencyRatio}× stable`;
  else if (metric.threshold !== undefined) rule = `${{ increase: '≤', decrease: '≥', either: '=' }[metric.direction]} ${metric.threshold}`;
  else rule = `statistical only (bad when it ${metric.direction === 'either' ? 'changes' : `${metric.direction}s`}${metric.effect && metric.effect.allowedIncrease !== 1 ? ` beyond ${metric.effect.allowedIncrease}×` : ''})`;
  return tags.length ? `${rule}; ${tags.join(', ')}` : rule;
}

const round = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? null : Number(x.toPrecision(6)));

/** The `results` output: every step, measurement and judgement, as plain JSON. */
export function resultsJson(result: CanaryResult): string {
  return JSON.stringify({
    verdict: result.verdict,
    outcome: result.outcome,
    reason: result.reason,
    score: round(result.score),
    finalWeight: result.finalWeight ?? null,
    rolledBack: result.rolledBack,
    rollback: result.rollback ? { how: result.rollback.how, stableReady: result.rollback.stableReady ?? null, stableHealth: result.rollback.stableHealth } : null,
    steps: result.steps.map((step) => ({
      weight: step.weight ?? null,
      status: step.status,
      reason: step.reason ?? null,
      startedAt: step.startedAt.toISOString(),
      endedAt: step.endedAt?.toISOString() ?? null,
      measurements: step.ticks.map((tick) => ({
        at: tick.at.toISOString(),
        canaryRequests: round(tick.requests),
        metrics: Object.fromEntries(tick.measurements.map((m) => [m.metric, { canary: round(m.canary), stable: round(m.stable), result: m.judged?.measurement ?? null, reason: m.judged?.reason ?? null }])),
      })),
      judgement: step.judgement
        ? {
            score: round(step.judgement.score.score),
            verdict: step.judgement.score.verdict,
            criticalFailed: step.judgement.score.criticalFailed,
            metrics: Object.fromEntries(step.judgement.metrics.map(({ name, result: r }) => [name, {
              classification: r.classification,
              failed: r.failed,
              estimate: round(r.test?.estimate),
              interval: r.test ? r.test.interval.map(round) : null,
              pValue: round(r.test?.pValue),
              meanRatio: round(r.meanRatio),
              reason: r.reason,
            }])),
          }
        : null,
    })),
  });
}

const MAX_POINTS = 60;

/**
 * canary (red) and stable (blue) over the run, one chart per metric. xychart-beta has no legend, so the
 * title says which line is which; points where either side had no data are left out.
 */
export function metricChart(metric: MetricDefinition, steps: readonly StepRecord[]): string | undefined {
  const start = steps[0]?.startedAt.getTime() ?? 0;
  let points = steps.flatMap((s) => s.ticks).flatMap((tick) => {
    const m = tick.measurements.find((x) => x.metric === metric.name);
    return m && Number.isFinite(m.canary) && Number.isFinite(m.stable) ? [{ at: tick.at.getTime() - start, canary: m.canary as number, stable: m.stable as number }] : [];
  });
  if (points.length < 2) return undefined;
  if (points.length > MAX_POINTS) points = points.filter((_, i) => i % Math.ceil(points.length / MAX_POINTS) === 0);
  const { scale, unit } = unitOf(metric);
  const series = (pick: (p: (typeof points)[number]) => number) => `[${points.map((p) => Number((pick(p) * scale).toPrecision(4))).join(', ')}]`;
  return [
    '%%{init: {"themeVariables": {"xyChart": {"plotColorPalette": "#d62728, #1f77b4"}}}}%%',
    'xychart-beta',
    `  title "${metric.name}${unit ? ` (${unit})` : ''}: canary (red) vs stable (blue)"`,
    `  x-axis "time into the run" [${points.map((p) => `"${formatDuration(p.at)}"`).join(', ')}]`,
    `  line ${series((p) => p.canary)}`,
    `  line ${series((p) => p.stable)}`,
  ].join('\n');
}

const SYMBOL = { success: '✅', failure: '❌', inconclusive: '❔', error: '⚠️' } as const;

export function addCanarySummary(result: CanaryResult, metrics: readonly MetricDefinition[], rules: ThresholdRules, mode: string): void {
  core.summary.addHeading(`canary-analyze: ${result.verdict} (${result.outcome})`, 3);
  core.summary.addRaw(`<p>${escapeHtml(result.reason)}</p>\n`);
  addTable(['', ''], [
    ['Mode', mode],
    ['Verdict', result.verdict],
    ['Outcome', result.outcome],
    ['Score', result.score === undefined ? '—' : result.score.toFixed(0)],
    ['Canary weight at the end', result.finalWeight === undefined ? '— (no router)' : `${result.finalWeight} %${result.rolledBack ? ' (rolled back)' : ''}`],
    ...(result.rollback ? [['Rollback', result.rollback.how], ['Stable after the rollback', `${result.rollback.stableReady === 0 ? '⚠️ ' : ''}${result.rollback.stableHealth}`]] : []),
  ]);

  core.summary.addHeading('Traffic steps', 4);
  addTable(['Step', 'Canary weight', 'Started', 'Duration', 'Measurements', 'Judge score', 'Result'], result.steps.map((step, i) => [
    String(i + 1),
    step.weight === undefined ? '—' : `${step.weight} %`,
    step.startedAt.toISOString(),
    formatDuration((step.endedAt ?? step.startedAt).getTime() - step.startedAt.getTime()),
    String(step.ticks.length),
    step.judgement?.score.score === undefined ? (step.judgement ? step.judgement.score.verdict : '—') : step.judgement.score.score.toFixed(0),
    step.reason ? `${step.status}: ${step.reason}` : step.status,
  ]));

  const ticks = result.steps.flatMap((s) => s.ticks);
  const judged = [...result.steps].reverse().find((s) => s.judgement)?.judgement;
  core.summary.addHeading('Metrics', 4);
  addTable(['Metric', 'Canary (last)', 'Stable (last)', 'Rule', 'Measurements ✅ ❌ ❔ ⚠️', 'Statistical judge'], metrics.map((metric) => {
    const last = [...ticks].reverse().map((t) => t.measurements.find((m) => m.metric === metric.name)).find((m) => m && (m.canary !== undefined || m.judged));
    const counts = { success: 0, failure: 0, inconclusive: 0, error: 0 };
    for (const t of ticks) {
      const j = t.measurements.find((m) => m.metric === metric.name)?.judged;
      if (j) counts[j.measurement]++;
    }
    const any = Object.values(counts).some(Boolean);
    const verdict = judged?.metrics.find((m) => m.name === metric.name)?.result;
    return [
      metric.name,
      formatValue(metric, last?.canary),
      formatValue(metric, last?.stable),
      describeRule(metric, rules),
      any ? (Object.keys(counts) as (keyof typeof counts)[]).map((k) => `${SYMBOL[k]} ${counts[k]}`).join(' ') : '—',
      verdict ? `${verdict.classification}${verdict.failed ? ' ❌' : ''}: ${verdict.reason}${verdict.meanRatio === undefined ? '' : `; mean ratio ${verdict.meanRatio.toFixed(2)}`}` : '—',
    ];
  }));

  for (const metric of metrics) {
    const chart = metricChart(metric, result.steps);
    if (chart) addMermaid(chart);
  }
}
