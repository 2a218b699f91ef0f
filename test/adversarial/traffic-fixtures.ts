// What the traffic tests (traffic*.test.ts) share: blue and green demo instances behind two real nginx,
// one switched by blue-green-switch and one weighted by canary-analyze, put back on blue before each
// test, and the inputs that point the actions at them.
import { rmSync, writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { renderUpstream } from '../../packages/shared/src/routing/index';
import { startDemoApp, type DemoApp } from '../services/demo-app';
import { startNginx, type Nginx } from '../services/nginx';

/** The routing annotation of the upstream files the tests start from. */
export const SETUP = { by: 'ops', at: '2026-11-01T00:00:00Z', reason: 'first setup' };

export interface Traffic {
  blue: DemoApp;
  green: DemoApp;
  /** Blue and green, switched by blue-green-switch. */
  switched: Nginx;
  /** Blue as stable, green as canary, weighted by canary-analyze. */
  weighted: Nginx;
  /** Both instances healthy, every request of both nginx on blue, no run lock left. */
  reset(): Promise<void>;
  /** blue-green-switch's inputs for `switched`. */
  switchInputs(inputs?: Record<string, string>): Record<string, string>;
  /** canary-analyze's router inputs for `weighted`. */
  canaryRouting(): Record<string, string>;
  stop(): Promise<void>;
}

/** The run lock blue-green-switch and canary-analyze keep next to an nginx upstream file. */
export const lockOf = (nginx: Nginx) => `${nginx.upstreamFile}.slipway-lock`;

/** The colour 10 answers in a row came from, or `mixed`. */
export async function serving(nginx: Nginx): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add(((await (await fetch(nginx.url)).json()) as { color: string }).color);
  return seen.size === 1 ? [...seen][0] ?? '' : 'mixed';
}

export async function startTraffic(): Promise<Traffic> {
  const [blue, green] = await Promise.all([startDemoApp({ color: 'blue' }), startDemoApp({ color: 'green' })]);
  const colors = () => ({ upstream: 'app', backends: ['blue', 'green'] as const, servers: { blue: [blue.address], green: [green.address] } });
  const tracks = () => ({ upstream: 'app', backends: ['stable', 'canary'] as const, servers: { stable: [blue.address], canary: [green.address] } });
  const writeSwitched = (file: string) => writeFileSync(file, renderUpstream(colors(), { blue: 100, green: 0 }, SETUP));
  const writeWeighted = (file: string) => writeFileSync(file, renderUpstream(tracks(), { stable: 100, canary: 0 }, SETUP));
  const [switched, weighted] = await Promise.all([startNginx({ upstream: 'app', writeUpstream: writeSwitched }), startNginx({ upstream: 'app', writeUpstream: writeWeighted })]);
  const reload = (nginx: Nginx) => exec(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { silent: true });
  const nginxInputs = (nginx: Nginx) => ({
    router: 'nginx',
    'nginx-config-path': nginx.upstreamFile,
    'nginx-upstream-name': 'app',
    'nginx-test-command': nginx.testCommand.join(' '),
    'nginx-reload-command': nginx.reloadCommand.join(' '),
  });
  return {
    blue,
    green,
    switched,
    weighted,
    reset: async () => {
      await Promise.all([blue.fail(0), green.fail(0)]);
      for (const nginx of [switched, weighted]) rmSync(lockOf(nginx), { force: true });
      writeSwitched(switched.upstreamFile);
      writeWeighted(weighted.upstreamFile);
      await Promise.all([reload(switched), reload(weighted)]);
      await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('blue');
      await expect.poll(() => serving(weighted), { timeout: 10_000, interval: 100 }).toBe('blue');
    },
    switchInputs: (inputs = {}) => ({ ...nginxInputs(switched), 'nginx-upstream-blue': blue.address, 'nginx-upstream-green': green.address, ...inputs }),
    canaryRouting: () => ({ ...nginxInputs(weighted), 'nginx-upstream-stable': blue.address, 'nginx-upstream-canary': green.address }),
    stop: async () => {
      await Promise.all([switched.stop(), weighted.stop(), blue.stop(), green.stop()]);
    },
  };
}
