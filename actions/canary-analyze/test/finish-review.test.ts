// The hostile review of `mode: finish` (issue 19 part 1), kept as regression tests: each defect it
// found, reproduced through dist/canary-analyze/index.js. Same services as finish.test.ts: a real
// nginx routing two demo apps, Prometheus, and the GitHub stand-in.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { exec } from '../../../packages/shared/src/exec';
import { queryValue } from '../../../packages/shared/src/prometheus';
import { renderUpstream, type Weights } from '../../../packages/shared/src/routing/index';
import { startGitHubApi, type GitHubApi } from '../../../test/fakes/github-api';
import { GITHUB_TOKEN } from '../../../test/fakes/saas';
import { runAction, type ActionRun } from '../../../test/helpers/action';
import { runEnv } from '../../../test/helpers/run-env';
import { startDemoApp, type DemoApp } from '../../../test/services/demo-app';
import { startNginx, type Nginx } from '../../../test/services/nginx';
import { startPrometheus } from '../../../test/services/prometheus';
import type { Service } from '../../../test/services/process';

let stable: DemoApp;
let canary: DemoApp;
let nginx: Nginx;
let prometheus: Service;
let github: GitHubApi;

const upstream = (weights: Weights) =>
  renderUpstream({ upstream: 'app', backends: ['stable', 'canary'], servers: { stable: [stable.address], canary: [canary.address] } }, weights, { by: 'ops', at: '2026-11-01T00:00:00Z', reason: 'setup' });
async function route(weights: Weights): Promise<void> {
  writeFileSync(nginx.upstreamFile, upstream(weights));
  await exec(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1), { silent: true });
}
/** The colour nginx answers with now, over 20 requests. */
async function serving(): Promise<string[]> {
  const colors = new Set<string>();
  for (let i = 0; i < 20; i++) colors.add(((await (await fetch(nginx.url)).json()) as { color: string }).color);
  return [...colors].sort();
}

beforeAll(async () => {
  [stable, canary] = await Promise.all([startDemoApp({ color: 'stable', version: 'stable' }), startDemoApp({ color: 'canary', version: 'canary' })]);
  nginx = await startNginx({ upstream: 'app', writeUpstream: (file) => writeFileSync(file, upstream({ stable: 0, canary: 100 })) });
  prometheus = await startPrometheus([{ address: stable.address }, { address: canary.address }]);
  github = await startGitHubApi(GITHUB_TOKEN);
  await vi.waitFor(async () => expect(await queryValue({ url: prometheus.url }, 'sum(up)')).toBe(2), { timeout: 30_000, interval: 250 });
}, 60_000);
afterAll(async () => {
  await Promise.all([prometheus?.stop(), nginx?.stop(), stable?.stop(), canary?.stop(), github?.stop()]);
});
beforeEach(async () => {
  await Promise.all([stable.fail(0), canary.fail(0)]);
  await route({ stable: 0, canary: 100 });
});

const env = (runId: string, attempt = '1') => ({ ...runEnv(runId), GITHUB_RUN_ATTEMPT: attempt, GITHUB_API_URL: github.url });
const finishInputs = (verdict: string) => ({
  mode: 'finish',
  verdict,
  'prometheus-url': prometheus.url,
  router: 'nginx',
  'nginx-config-path': nginx.upstreamFile,
  'nginx-upstream-name': 'app',
  'nginx-upstream-stable': stable.address,
  'nginx-upstream-canary': canary.address,
  'nginx-test-command': nginx.testCommand.join(' '),
  'nginx-reload-command': nginx.reloadCommand.join(' '),
  'stable-health-url': `${stable.url}/healthz`,
  'verify-duration': '4s',
  interval: '1s',
  'query-window': '3s',
  'canary-removal': 'keep',
});
const rollbackInputs = (results: unknown) => ({
  ...finishInputs('rollback'),
  router: '',
  'incident-issue': 'true',
  'github-token': GITHUB_TOKEN,
  'analysis-results': typeof results === 'string' ? results : JSON.stringify(results),
});
const log = (run: ActionRun) => run.stdout + run.stderr;

describe('hostile: finish after a promotion', () => {
  it('H1 a reload that fails after reloading, then fails again, is not reported as "routing unchanged"', async () => {
    // Call 1 reloads nginx with the new file (stable 100; the signal's reload is asynchronous, so it
    // waits for nginx to read it) and reports failure; call 2 (reloading the
    // put-back file) fails without reloading: nginx serves stable, the file says canary.
    const script = join(nginx.dir, 'hostile-reload.sh');
    const counter = join(nginx.dir, 'hostile-reload.count');
    writeFileSync(counter, '0');
    writeFileSync(script, `#!/bin/sh\nn=$(($(cat '${counter}') + 1)); echo $n > '${counter}'\n[ $n -eq 1 ] && ${nginx.reloadCommand.map((a) => `'${a}'`).join(' ')} && sleep 1\nexit 1\n`);
    chmodSync(script, 0o755);
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'nginx-reload-command': script }, env('9401'));
    expect(run.exitCode).toBe(1);
    // nginx's old workers finish their keep-alive connections first.
    await vi.waitFor(async () => expect(await serving()).toEqual(['stable']), { timeout: 10_000, interval: 500 });
    expect(run.outputs['final-weight']).not.toBe('100'); // actual: 100, the canary's share before
    // Actual: summary says "routing unchanged", "kept: it serves the traffic", final-weight 100, no ⚠️ heading.
    expect(run.summary).not.toContain('routing unchanged');
    expect(run.summary).toContain('routing may differ');
  }, 60_000);

  it('H2 a cancel during the health gate stops the finish: traffic is not moved after it', async () => {
    await stable.fail(1);
    const before = readFileSync(nginx.upstreamFile, 'utf8');
    setTimeout(() => void stable.fail(0), 2500);
    const started = Date.now();
    const run = await runAction('canary-analyze', { ...finishInputs('promote'), 'verify-duration': '10s' }, env('9402'), { interrupt: { when: /stable health: 503/, signal: 'SIGINT' } });
    const took = Date.now() - started;
    expect(readFileSync(nginx.upstreamFile, 'utf8')).toBe(before);
    // Actual: after the SIGINT the gate goes on, passes once stable heals, and nginx is switched to stable, then back.
    expect(run.stdout).not.toContain('All traffic is on stable; verifying it.');
    expect(took, log(run)).toBeLessThan(7500); // the runner's SIGTERM/SIGKILL come after 7.5 s
  }, 60_000);
});

describe('hostile: finish after a rollback (incident issue)', () => {
  const base = { verdict: 'rollback', outcome: 'failure', score: null, rollback: null };

  it('H3 @mentions, cross-references and markdown links/images from the results do not ping or render in the issue', async () => {
    const opened = github.issues.length;
    const reason = 'error-rate failed @acme/security-team @octocat acme/other#1 ![x](https://evil.example/p.png) [login](https://evil.example/)';
    const run = await runAction('canary-analyze', rollbackInputs({ ...base, reason, steps: [] }), env('9403'));
    expect(run.exitCode, log(run)).toBe(0);
    expect(github.issues).toHaveLength(opened + 1);
    const issue = github.issues.at(-1);
    // GitHub renders nothing inside a code span: no mention, reference, link or image outside one.
    const rendered = (issue?.body ?? '').replace(/`[^`]*`/g, '');
    expect(issue?.body).toContain('`error-rate failed @acme/security-team @octocat acme/other#1');
    expect(rendered).not.toMatch(/@acme|@octocat|other#1|evil\.example/);
  }, 60_000);

  it('H4 wrong-typed analysis-results is an InputError naming the input (or opens the incident anyway), never a TypeError', async () => {
    for (const [i, results] of [{ steps: 'x' }, { steps: [null] }, { steps: [{ weight: 10, status: 'failure', measurements: [{ at: 'x', metrics: null }] }] }, { reason: { nested: true }, verdict: ['rollback'] }].entries()) {
      const opened = github.issues.length;
      const run = await runAction('canary-analyze', rollbackInputs({ ...base, ...results }), env(`941${i}`));
      const text = log(run);
      expect(text, JSON.stringify(results)).not.toMatch(/is not a function|Cannot read properties|Cannot convert undefined or null/);
      if (run.exitCode === 0) {
        expect(github.issues, JSON.stringify(results)).toHaveLength(opened + 1);
        expect(github.issues.at(-1)?.title, JSON.stringify(results)).not.toContain('[object Object]');
      } else {
        expect(text, JSON.stringify(results)).toMatch(/Input 'analysis-results' is invalid/);
      }
    }
  }, 120_000);

  it('H5 two canary jobs of one run (a matrix, two services) each get their incident', async () => {
    const opened = github.issues.length;
    const one = await runAction('canary-analyze', rollbackInputs({ ...base, reason: 'service A failed', steps: [] }), { ...env('9420'), GITHUB_JOB: 'canary-a' });
    const two = await runAction('canary-analyze', rollbackInputs({ ...base, reason: 'service B failed', steps: [] }), { ...env('9420'), GITHUB_JOB: 'canary-b' });
    expect(one.exitCode, log(one)).toBe(0);
    expect(two.exitCode, log(two)).toBe(0);
    // Actual: the second says "already opened by an earlier attempt of this run" and points at A's issue.
    expect(two.summary).not.toContain('already opened by an earlier attempt');
    expect(github.issues).toHaveLength(opened + 2);
  }, 60_000);

  it('H7 a cancel while stable is verified after a rollback still writes the outputs (and records the incident)', async () => {
    const opened = github.issues.length;
    const run = await runAction('canary-analyze', { ...rollbackInputs({ ...base, reason: 'cancelled', steps: [] }), 'verify-duration': '20s' }, env('9440'), { interrupt: { when: /verify: /, signal: 'SIGINT' } });
    // Actual: no SIGINT handler in this path: node dies at once, exit code null, no outputs, no summary, no issue.
    expect(run.outputs.verdict, log(run)).toBe('rollback');
    expect(run.outputs['stable-verified']).toBe('false');
    expect(github.issues.length).toBe(opened + 1);
  }, 60_000);

  it('H8 (held) credentials of prometheus-url, stable-health-url and prometheus-headers reach no channel, and Prometheus down is not a pass', async () => {
    const opened = github.issues.length;
    const [user, pass, token, header] = ['hostileuser7', 'hostilepass9', 'qtoken1234567890abcdef', 'hdrsecret-5551234'];
    const promUrl = `http://${user}:${pass}@127.0.0.1:1/`;
    const run = await runAction('canary-analyze', {
      ...rollbackInputs({ ...base, reason: `Prometheus http://${user}:${pass}@127.0.0.1:1 failed ${header} ${token}`, steps: [] }),
      'prometheus-url': promUrl,
      'prometheus-headers': `X-Scope-OrgID: ${header}`,
      'stable-health-url': `http://${user}:${pass}@${stable.address}/healthz?token=${token}`,
    }, env('9450'));
    expect(run.exitCode).toBe(1);
    expect(run.outputs['stable-verified']).toBe('false');
    const issue = github.issues.at(-1);
    expect(github.issues.length).toBe(opened + 1);
    const channels = [log(run).split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n'), run.summary, JSON.stringify(run.outputs), issue?.title ?? '', issue?.body ?? ''];
    for (const secret of [pass, header, Buffer.from(`${user}:${pass}`).toString('base64')]) for (const text of channels) expect(text).not.toContain(secret);
  }, 60_000);
});
