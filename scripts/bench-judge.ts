// Judge quality (no timing): the analysis canary-analyze runs, fed synthetic metrics with realistic
// noise. Over 100 A/A runs (canary identical to stable) how often would it roll back (goal ≤ 2 %);
// over 100 A/B runs (canary at 5 % errors against 1 %, or 1.5× latency) how often does it catch it
// (goal ≥ 95 %); for the thresholds, mann-whitney and both judges.
import { Analysis, type Judge, type MetricSource } from '../packages/shared/src/canary/analysis';
import { analysisConfig } from '../test/helpers/canary';

// The issue asks for 100 runs; 1,000 make a rate near 2 % distinguishable from 4 %.
const RUNS = Number(process.env.BENCH_JUDGE_RUNS ?? 1000);
/**
 * One step with canary-analyze's defaults (step-duration 5m, interval 1m, query-window 1m): 5
 * measurements, and 5 judge samples per side (one per interval from one window into the step).
 */
const MEASUREMENTS = 5;
const RANGE_POINTS = 5;
/** Requests per side in a 1-minute window: 10 req/s. */
const REQUESTS = 600;

/** mulberry32: a small seeded generator, so every run of the benchmark sees the same data. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Truth {
  errorRate: number;
  /** Median latency; p95 of a window is drawn around 2.5× it. */
  latency: number;
}

/** A source whose every query answers a fresh, noisy observation of the side it names. */
function syntheticSource(canary: Truth, stable: Truth, random: () => number): MetricSource {
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const observe = (query: string): number => {
    const truth = query.includes('version="canary"') ? canary : stable;
    if (query.startsWith('sum(increase')) return REQUESTS;
    if (query.includes('status=~"5.."')) {
      let errors = 0;
      for (let i = 0; i < REQUESTS; i++) if (random() < truth.errorRate) errors++;
      return errors / REQUESTS;
    }
    // The p95 of 600 latencies varies by a few percent from window to window.
    return truth.latency * 2.5 * Math.exp(0.04 * normal());
  };
  return {
    instant: async (query) => observe(query),
    range: async (query) => Array.from({ length: RANGE_POINTS }, () => observe(query)),
  };
}

const config = (judge: Judge) => analysisConfig({ judge, minRequests: 50 });

/** Would one step of analysis roll back? Thresholds: any measurement failed; statistics: score fails. */
async function rollsBack(judge: Judge, canary: Truth, stable: Truth, seed: number): Promise<boolean> {
  const analysis = new Analysis(config(judge), syntheticSource(canary, stable, rng(seed)));
  for (let i = 0; i < MEASUREMENTS; i++) await analysis.measure();
  const thresholdsFail = analysis.status === 'failure';
  if (judge === 'thresholds') return thresholdsFail;
  const statisticsFail = (await analysis.judge(new Date(60_000), new Date(300_000), 60)).score.verdict === 'fail';
  return judge === 'mann-whitney' ? statisticsFail : thresholdsFail || statisticsFail;
}

const stable: Truth = { errorRate: 0.01, latency: 0.12 };
const scenarios = [
  { name: 'A/A: canary = stable (1 % errors, p95 ≈ 300 ms)', canary: stable, want: 'false rollbacks (goal ≤ 2 %)' },
  { name: 'A/B: canary at 5 % errors', canary: { ...stable, errorRate: 0.05 }, want: 'detected (goal ≥ 95 %)' },
  { name: 'A/B: canary 1.5× latency', canary: { ...stable, latency: stable.latency * 1.5 }, want: 'detected (goal ≥ 95 %)' },
];

console.log(`\nJudge quality: ${RUNS} runs per scenario, one 5-minute step (5 measurements, 5 judge samples per side), seeded\n`);
console.log('| scenario | measure | thresholds | mann-whitney | both |');
console.log('|---|---|---:|---:|---:|');
for (const [s, scenario] of scenarios.entries()) {
  const rates: string[] = [];
  for (const judge of ['thresholds', 'mann-whitney', 'both'] as const) {
    let count = 0;
    for (let run = 0; run < RUNS; run++) if (await rollsBack(judge, scenario.canary, stable, 1000 * s + run)) count++;
    rates.push(`${((100 * count) / RUNS).toFixed(1)} %`);
  }
  console.log(`| ${scenario.name} | ${scenario.want} | ${rates.join(' | ')} |`);
}
