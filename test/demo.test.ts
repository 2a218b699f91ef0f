// `npm run demo` as a user runs it: the release with a bad canary rolled back, then a second run that
// releases, then Ctrl-C in the middle of the canary; each time every service it started is gone after.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canConnect } from './helpers/net';
import { node24 } from './helpers/node24';

const ROOT = join(import.meta.dirname, '..');

interface Demo { code: number | null; signal: NodeJS.Signals | null; output: string; out: string }

/**
 * What `npm run demo` runs after provisioning. `interruptWhen` presses Ctrl-C once the output matches:
 * SIGINT to the demo's whole process group, as a terminal sends it, so the running action gets it too.
 */
function demo(args: string[], interruptWhen?: RegExp): Promise<Demo> {
  const out = mkdtempSync(join(tmpdir(), 'slipway-demo-'));
  const child = spawn(node24(), ['--import', 'tsx', 'scripts/demo.ts', '--out', out, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'], detached: Boolean(interruptWhen) });
  let output = '';
  let interrupted = false;
  const onData = (d: Buffer) => {
    output += d.toString();
    if (interruptWhen && !interrupted && interruptWhen.test(output)) {
      interrupted = true;
      process.kill(-(child.pid ?? 0), 'SIGINT');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output, out })));
}

/** The loopback ports of the stack, as the demo prints them when it starts. */
function stackPorts(output: string): number[] {
  const stackLines = output.slice(output.indexOf('Starting the local stack'), output.indexOf('\n1. '));
  return [...new Set([...stackLines.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1])))];
}

async function expectAllStopped(output: string): Promise<void> {
  const ports = stackPorts(output);
  // Azurite, PostgreSQL, Prometheus, two nginx, four demo instances, the sink.
  expect(ports.length, output).toBeGreaterThanOrEqual(10);
  for (const port of ports) expect(await canConnect(port), `port ${port} is still open after the demo`).toBe(false);
}

describe('npm run demo', () => {
  it('--bad-canary: backs up, switches blue → green, rolls the failing canary back automatically, notifies the failure', async () => {
    const run = await demo(['--bad-canary']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/verified by restore/);
    expect(run.output).toMatch(/traffic moved blue → green/);
    expect(run.output).toMatch(/Step: the canary gets 10 %/);
    expect(run.output).toMatch(/canary rollback \(failure\): error-rate/);
    expect(run.output).toContain('The bad canary was rolled back automatically, as it should be.');
    const report = readFileSync(join(run.out, 'report.md'), 'utf8');
    expect(report).toContain('Release **rolled back**');
    expect(report).toMatch(/\| 3\. Canary analysis .* \| ↩️ verdict rollback \(failure\); canary at 0 %/);
    for (const file of ['1-backup-db.md', '2-blue-green-switch.md', '3-canary-analyze.md', '4-notify.md']) expect(readFileSync(join(run.out, file), 'utf8')).not.toBe('');
    expect(readFileSync(join(run.out, '4-notify.md'), 'utf8')).toContain('Release 1.1.0 rolled back');
    await expectAllStopped(run.output);
  }, 180_000);

  it('a second run releases: the canary promoted through 10, 25, 50 and 100 %, no failed request on the way', async () => {
    const run = await demo([]);
    expect(run.code, run.output).toBe(0);
    for (const weight of [10, 25, 50, 100]) expect(run.output).toContain(`Step: the canary gets ${weight} %.`);
    expect(run.output).toContain('Everything went as it should.');
    const report = readFileSync(join(run.out, 'report.md'), 'utf8');
    expect(report).toContain('Release **live**');
    expect(report).toMatch(/✅ verdict promote \(success\); canary at 100 %/);
    expect(report).toMatch(/blue\/green router: \d+ requests during the backup and the switch, 0 failed/);
    expect(report).toMatch(/stable\/canary router: \d+ requests during the canary, 0 failed/);
    expect(readFileSync(join(run.out, '3-canary-analyze.md'), 'utf8')).toContain('canary-analyze: promote (success)');
    await expectAllStopped(run.output);
  }, 180_000);

  it('Ctrl-C during the canary takes its traffic away, then stops every service', async () => {
    const run = await demo([], /Step: the canary gets 10 %/);
    expect(run.code, run.output).toBe(130);
    expect(run.output).toMatch(/canary inconclusive \(error\): cancelled; the canary's traffic was taken away/);
    expect(run.output).toContain('Stopped everything the demo started.');
    expect(existsSync(join(run.out, 'report.md'))).toBe(false);
    await expectAllStopped(run.output);
  }, 180_000);
});
