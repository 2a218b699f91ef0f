// The built-in metrics' PromQL against a real Prometheus (Debian) scraping two instances of the demo
// service, labelled version="stable" and version="canary", with traffic sent to both.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Analysis, prometheusSource } from '../src/canary/analysis';
import { builtinMetrics, renderQuery } from '../src/canary/metrics';
import { queryRange, queryValue } from '../src/prometheus';
import { startDemoApp, type DemoApp } from '../../../test/services/demo-app';
import { startPrometheus } from '../../../test/services/prometheus';
import type { Service } from '../../../test/services/process';
import { analysisConfig } from '../../../test/helpers/canary';

let stable: DemoApp;
let canary: DemoApp;
let prometheus: Service;
let loadStart: Date;
let loadEnd: Date;
const METRICS = builtinMetrics();
const value = (metric: keyof typeof METRICS, selector: string) => queryValue({ url: prometheus.url }, renderQuery(METRICS[metric], selector, '10s'));

beforeAll(async () => {
  [stable, canary] = await Promise.all([startDemoApp({ color: 'blue', version: 'stable' }), startDemoApp({ color: 'blue', version: 'canary' })]);
  prometheus = await startPrometheus([{ address: stable.address }, { address: canary.address }]);
  await canary.fail(0.2);
  // Prometheus scrapes a few seconds after it listens: start the load once both targets are up.
  await vi.waitFor(async () => expect(await queryValue({ url: prometheus.url }, 'sum(up)')).toBe(2), { timeout: 30_000, interval: 250 });
  // About 40 requests a second to each for 8 s, so every rate window has data.
  loadStart = new Date();
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    await Promise.all([...Array.from({ length: 4 }, () => fetch(stable.url)), ...Array.from({ length: 4 }, () => fetch(canary.url))]);
    await new Promise((r) => setTimeout(r, 100));
  }
  loadEnd = new Date();
}, 60_000);
afterAll(async () => {
  await Promise.all([prometheus?.stop(), stable?.stop(), canary?.stop()]);
});

describe('built-in canary metrics on a real Prometheus', () => {
  it('error rate: the canary\'s injected share, 0 for stable (no errors is data), undefined without traffic', async () => {
    const canaryRate = await value('error-rate', 'version="canary"');
    expect(canaryRate).toBeGreaterThan(0.08);
    expect(canaryRate).toBeLessThan(0.35);
    expect(await value('error-rate', 'version="stable"')).toBe(0);
    expect(await value('error-rate', 'version="nothing-here"')).toBeUndefined();
  });

  it('p95 latency, CPU and memory have values for both; p95 without traffic is not a number', async () => {
    for (const selector of ['version="stable"', 'version="canary"']) {
      const p95 = await value('p95-latency', selector);
      expect(p95).toBeGreaterThan(0);
      expect(p95).toBeLessThan(1);
      expect(await value('cpu', selector)).toBeGreaterThanOrEqual(0);
      expect(await value('memory', selector)).toBeGreaterThan(10 * 1024 * 1024);
    }
    expect(await value('p95-latency', 'version="nothing-here"')).toBeUndefined();
  });

  it('an analysis through Prometheus fails the canary on its error rate, by threshold and by statistics', async () => {
    const analysis = new Analysis(analysisConfig({ window: '10s', minRequests: 10 }), prometheusSource({ url: prometheus.url }));
    const tick = await analysis.measure();
    expect(analysis.status).toBe('failure');
    expect(tick.measurements.find((m) => m.metric === 'error-rate')?.judged?.reason).toMatch(/^error rate \d+\.\d+ % > 5\.00 %$/);
    const judgement = await analysis.judge(new Date(loadStart.getTime() + 4000), loadEnd, 1);
    expect(judgement.metrics.find((m) => m.name === 'error-rate')?.result).toMatchObject({ classification: 'High', failed: true });
    expect(judgement.score.verdict).toBe('fail');
  });

  it('range queries give the samples the statistical judge compares', async () => {
    // The second half of the load, when a 4 s window holds several 1 s scrapes.
    const start = new Date(loadStart.getTime() + 4000);
    const end = loadEnd;
    const samples = await queryRange({ url: prometheus.url }, renderQuery(METRICS['error-rate'], 'version="canary"', '4s'), start, end, 1);
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples.filter((s) => s > 0).length).toBeGreaterThan(0);
    await expect(queryRange({ url: prometheus.url }, 'http_requests_total', start, end, 1)).rejects.toThrow(/returned \d+ series; it must return one/);
  });
});
