// The incident record of a rolled-back canary, as a GitHub issue body: the verdict and why, the last
// measurement of each metric (canary against stable), stable's verification, and the run's link.
import type { WatchResult } from '../routing/probes';

interface ResultsMeasurement {
  at: string;
  metrics: Record<string, { canary: unknown; stable: unknown; result: string }>;
}
/** The part of canary-analyze's `results` output the record shows, as read from any JSON. */
export interface AnalysisResults {
  verdict?: string;
  outcome?: string;
  reason?: string;
  score?: number;
  rollback?: { how: string; stableHealth: string };
  steps: { weight: number | null; status: string; measurements: ResultsMeasurement[] }[];
}

const record = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/**
 * The results output as the record uses it, whatever the JSON holds: wrong types are dropped, never
 * thrown on, so the incident is opened even from a partial record.
 */
export function readResults(json: unknown): AnalysisResults {
  const r = record(json);
  const rollback = record(r.rollback);
  return {
    verdict: text(r.verdict),
    outcome: text(r.outcome),
    reason: text(r.reason),
    score: typeof r.score === 'number' ? r.score : undefined,
    rollback: text(rollback.how) ? { how: text(rollback.how) ?? '', stableHealth: text(rollback.stableHealth) ?? '' } : undefined,
    steps: list(r.steps).slice(0, 100).map((s) => {
      const step = record(s);
      return {
        weight: typeof step.weight === 'number' ? step.weight : null,
        status: text(step.status) ?? 'unknown',
        measurements: list(step.measurements).slice(-1).map((m) => ({
          at: text(record(m).at) ?? '',
          metrics: Object.fromEntries(Object.entries(record(record(m).metrics)).slice(0, 50).map(([name, v]) => [name, { canary: record(v).canary, stable: record(v).stable, result: text(record(v).result) ?? 'not judged' }])),
        })),
      };
    }),
  };
}

/**
 * Text from the run (reasons quote Prometheus errors and metric names) as an inline code span: no
 * @mention pings anyone, no `#1` links an issue, no link or image renders, and no pipe ends a cell.
 */
export function literal(value: unknown): string {
  const line = String(value ?? '—').replace(/[\r\n]+/g, ' ').replace(/`/g, "'").slice(0, 300);
  return `\`${line.replace(/\|/g, '\\|')}\``;
}

const number = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '—');

export function incidentBody(results: AnalysisResults, verification: WatchResult | undefined, runUrl: string): string {
  const lines = [`## Canary ${literal(results.verdict ?? 'inconclusive')} (${literal(results.outcome ?? 'error')})`, '', literal(results.reason ?? 'the analysis gave no reason'), ''];
  if (results.steps.length) lines.push('| Step | Status |', '| --- | --- |', ...results.steps.map((s) => `| ${s.weight === null ? 'analysis' : `${number(s.weight)} %`} | ${literal(s.status)} |`), '');
  const last = results.steps.flatMap((s) => s.measurements).at(-1);
  if (last) {
    lines.push(`Last measurement (${literal(last.at)}):`, '', '| Metric | Canary | Stable | Result |', '| --- | --- | --- | --- |');
    for (const [name, m] of Object.entries(last.metrics)) lines.push(`| ${literal(name)} | ${number(m.canary)} | ${number(m.stable)} | ${literal(m.result)} |`);
    lines.push('');
  }
  if (results.score !== undefined) lines.push(`Statistical judge's score: ${number(results.score)}`, '');
  if (results.rollback) lines.push(`Rollback: ${literal(results.rollback.how)}; stable: ${literal(results.rollback.stableHealth)}.`, '');
  lines.push(verification ? `Stable after the rollback: ${verification.ok ? 'verified' : '**not verified**'}: ${literal(verification.reason)}` : 'Stable after the rollback: not verified.', '');
  if (runUrl) lines.push(`Run: ${runUrl}`);
  return lines.join('\n');
}

/** The issue's title: one line of plain text (titles do not render Markdown or notify anyone). */
export function incidentTitle(results: AnalysisResults, fallbackVerdict: string, workflow: string): string {
  return `Canary ${results.verdict ?? fallbackVerdict}${workflow ? ` in ${workflow}` : ''}: ${results.reason ?? 'no reason given'}`.replace(/[\r\n]+/g, ' ').slice(0, 256);
}
