import { writeFileSync } from 'node:fs';
import { vi, expect } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { queryValue } from '../../packages/shared/src/prometheus';
import { renderUpstream, type Weights } from '../../packages/shared/src/routing/index';
import { startDemoApp, type DemoApp } from './demo-app';
import { startNginx, type Nginx } from './nginx';
import { startPrometheus } from './prometheus';
import type { Service } from './process';

/**
 * The canary-analyze bundle tests' services: a stable and a canary instance of the demo service
 * (label `version`) behind one real nginx (upstream `app`), both scraped by Prometheus.
 */
export interface CanaryPair {
  stable: DemoApp;
  canary: DemoApp;
  nginx: Nginx;
  prometheus: Service;
  /** Routing as an operator (or an earlier step) left it, applied to the running nginx. */
  route(weights: Weights): Promise<void>;
  /** canary-analyze's Prometheus and nginx router inputs for this pair. */
  inputs(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startCanaryPair(initial: Weights): Promise<CanaryPair> {
  const [stable, canary] = await Promise.all([startDemoApp({ color: 'stable', version: 'stable' }), startDemoApp({ color: 'canary', version: 'canary' })]);
  const upstream = (weights: Weights) =>
    renderUpstream({ upstream: 'app', backends: ['stable', 'canary'], servers: { stable: [stable.address], canary: [canary.address] } }, weights, { by: 'ops', at: '2026-11-01T00:00:00Z', reason: 'setup' });
  const nginx = await startNginx({ upstream: 'app', writeUpstream: (file) => writeFileSync(file, upstream(initial)) });
  const prometheus = await startPrometheus([{ address: stable.address }, { address: canary.address }]);
  await vi.waitFor(async () => expect(await queryValue({ url: prometheus.url }, 'sum(up)')).toBe(2), { timeout: 30_000, interval: 250 });
  return {
    stable,
    canary,
    nginx,
    prometheus,
    route: async (weights) => {
      writeFileSync(nginx.upstreamFile, upstream(weights));
      await exec(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { silent: true });
    },
    inputs: () => ({
      'prometheus-url': prometheus.url,
      router: 'nginx',
      'nginx-config-path': nginx.upstreamFile,
      'nginx-upstream-name': 'app',
      'nginx-upstream-stable': stable.address,
      'nginx-upstream-canary': canary.address,
      'nginx-test-command': nginx.testCommand.join(' '),
      'nginx-reload-command': nginx.reloadCommand.join(' '),
    }),
    stop: async () => {
      await Promise.all([prometheus.stop(), nginx.stop(), stable.stop(), canary.stop()]);
    },
  };
}
