import { writeFileSync } from 'node:fs';
import { exec } from '../../packages/shared/src/exec';
import { queryValue } from '../../packages/shared/src/prometheus';
import { renderUpstream } from '../../packages/shared/src/routing/index';
import { SaasFake } from '../fakes/saas';
import { startDemoApp, type DemoApp } from './demo-app';
import { startNginx, type Nginx } from './nginx';
import type { Service } from './process';
import { startPrometheus } from './prometheus';

/**
 * The services a release goes through, as the workflow tests and `npm run demo` run them: the demo
 * service as blue and green behind one nginx, as stable and canary behind another, Prometheus scraping
 * all four, and the notification stand-ins (the generic webhook is the sink the checks read).
 */
export interface ReleaseStack {
  blue: DemoApp;
  green: DemoApp;
  stable: DemoApp;
  canary: DemoApp;
  /** nginx in front of blue and green. */
  blueGreen: Nginx;
  /** nginx in front of stable and canary. */
  canaryRouter: Nginx;
  prometheus: Service;
  sink: SaasFake;
  /** blue-green-switch's router inputs for `blueGreen`. */
  blueGreenInputs: Record<string, string>;
  /** canary-analyze's router inputs for `canaryRouter`. */
  canaryInputs: Record<string, string>;
  /** Routing as an operator left it before a release: all traffic on blue, and on stable. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

const UPSTREAM = 'app';
/** Stable and canary answer in about 30 ms, so their p95 sits mid-bucket (25–50 ms) and jitter does not move it. */
const BASE_MS = 30;
const SETUP = { by: 'ops', at: '2026-11-01T00:00:00Z', reason: 'before the release' };

export async function startReleaseStack(): Promise<ReleaseStack> {
  const started: { stop(): Promise<void> }[] = [];
  const track = async <T extends { stop(): Promise<void> }>(service: Promise<T>): Promise<T> => {
    const s = await service;
    started.push(s);
    return s;
  };
  const stopAll = () => Promise.all(started.map((s) => s.stop())).then(() => undefined);
  try {
    const [blue, green, stable, canary] = await Promise.all([
      track(startDemoApp({ color: 'blue', version: '1.0.0' })),
      track(startDemoApp({ color: 'green', version: '1.1.0' })),
      track(startDemoApp({ color: 'stable', version: 'stable' })),
      track(startDemoApp({ color: 'canary', version: 'canary' })),
    ]);
    const blueGreenUpstream = () => renderUpstream({ upstream: UPSTREAM, backends: ['blue', 'green'], servers: { blue: [blue.address], green: [green.address] } }, { blue: 100, green: 0 }, SETUP);
    const canaryUpstream = () => renderUpstream({ upstream: UPSTREAM, backends: ['stable', 'canary'], servers: { stable: [stable.address], canary: [canary.address] } }, { stable: 100, canary: 0 }, SETUP);
    const [blueGreen, canaryRouter] = await Promise.all([
      track(startNginx({ upstream: UPSTREAM, writeUpstream: (file) => writeFileSync(file, blueGreenUpstream()) })),
      track(startNginx({ upstream: UPSTREAM, writeUpstream: (file) => writeFileSync(file, canaryUpstream()) })),
    ]);
    const prometheus = await track(startPrometheus([blue, green, stable, canary].map((app) => ({ address: app.address }))));
    await Promise.all([stable.slow(BASE_MS), canary.slow(BASE_MS)]);
    const sink = await new SaasFake().start();
    started.push({ stop: () => sink.close() });
    // Every target scraped once, so the first analysis has series to read.
    const deadline = Date.now() + 30_000;
    while ((await queryValue({ url: prometheus.url }, 'sum(up)').catch(() => 0)) !== 4) {
      if (Date.now() > deadline) throw new Error('Prometheus did not scrape the four demo instances within 30 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    const nginxInputs = (nginx: Nginx) => ({
      'nginx-config-path': nginx.upstreamFile,
      'nginx-upstream-name': UPSTREAM,
      'nginx-test-command': nginx.testCommand.join(' '),
      'nginx-reload-command': nginx.reloadCommand.join(' '),
    });
    const reload = (nginx: Nginx) => exec(nginx.reloadCommand[0] ?? 'nginx', nginx.reloadCommand.slice(1), { silent: true });
    return {
      blue,
      green,
      stable,
      canary,
      blueGreen,
      canaryRouter,
      prometheus,
      sink,
      blueGreenInputs: { router: 'nginx', ...nginxInputs(blueGreen), 'nginx-upstream-blue': blue.address, 'nginx-upstream-green': green.address },
      canaryInputs: { router: 'nginx', 'prometheus-url': prometheus.url, ...nginxInputs(canaryRouter), 'nginx-upstream-stable': stable.address, 'nginx-upstream-canary': canary.address },
      async reset() {
        writeFileSync(blueGreen.upstreamFile, blueGreenUpstream());
        writeFileSync(canaryRouter.upstreamFile, canaryUpstream());
        await Promise.all([reload(blueGreen), reload(canaryRouter), ...[blue, green, stable, canary].map((app) => app.fail(0)), stable.slow(BASE_MS), canary.slow(BASE_MS)]);
        sink.reset();
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
