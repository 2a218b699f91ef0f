// A hostile review of blue-green-switch and canary-analyze, through the bundles: a real nginx in front
// of two demo instances, a Prometheus stand-in that answers what each case needs (a real Prometheus
// never writes an empty sample value, but what sits in front of it may), and runs that overlap, rerun
// or break half way. Every run must fail or do nothing, say why, and leave routing as it found it.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { listen, type Listening } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import type { DemoApp } from '../services/demo-app';
import type { Nginx } from '../services/nginx';
import { expectInputError } from './harness';
import { lockOf, serving, SETUP, startTraffic, type Traffic } from './traffic-fixtures';

const RUN_ENV = runEnv('9400');
let traffic: Traffic;
let blue: DemoApp;
let green: DemoApp;
let switched: Nginx;
let weighted: Nginx;
let fake: Listening;
/** What the Prometheus stand-in answers: the `value` of every sample it writes. */
let sample: () => unknown = () => '0';
/** Or this whole answer instead. */
let whole: unknown;

/** Prometheus' JSON for an instant query (a vector of one sample) or a range query (one series). */
function prometheusAnswer(path: string, body: unknown = undefined): string {
  if (body !== undefined) return JSON.stringify(body);
  const now = Date.now() / 1000;
  if (path.includes('query_range')) return JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [0, 1, 2, 3].map((i) => [now - i, sample()]) }] } });
  return JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [now, sample()] }] } });
}
beforeAll(async () => {
  traffic = await startTraffic();
  ({ blue, green, switched, weighted } = traffic);
  fake = await listen((req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(prometheusAnswer(req.url ?? '', whole)));
}, 60_000);
afterAll(async () => {
  await Promise.all([traffic?.stop(), fake?.close()]);
});
beforeEach(async () => {
  sample = () => '0';
  whole = undefined;
  await traffic.reset();
});

const switchInputs = (inputs: Record<string, string> = {}) => traffic.switchInputs(inputs);

const canaryInputs = (inputs: Record<string, string> = {}) => ({
  'prometheus-url': fake.url,
  ...traffic.canaryRouting(),
  steps: '10,100',
  'step-duration': '3s',
  interval: '1s',
  'query-window': '1s',
  'min-requests': '0',
  'consecutive-error-limit': '1',
  ...inputs,
});

const log = (run: ActionRun) => visible(run.stdout) + run.stderr;
const watchQuery = { 'watch-query': 'sum(rate(errors[1m])) / sum(rate(requests[1m]))', 'watch-duration': '1s', 'watch-interval': '250ms', 'consecutive-error-limit': '1' };

describe('blue-green-switch: a Prometheus answer that is not a measurement never passes the watch', () => {
  it.each([
    ['an empty sample value', () => '', undefined, /query failed: the query's answer holds "" where a sample value \(a number written as text\) belongs/],
    ['a null sample value', () => null, undefined, /query failed: the query's answer holds null where a sample value/],
    ['a scalar with an empty value', () => '', { status: 'success', data: { resultType: 'scalar', result: [0, ''] } }, /query failed: the query's answer holds "" where a sample value/],
    ['a range vector', () => '0', { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[0, '0']] }] } }, /query failed: the query returned a matrix, not one number \(an instant vector or a scalar\)/],
    ['a string', () => '0', { status: 'success', data: { resultType: 'string', result: [0, '0'] } }, /query failed: the query returned a string, not one number/],
    ['success without data', () => '0', { status: 'success', data: null }, /query failed: the query returned no result type, not one number/],
    ['a negative rate', () => '-1', undefined, /query = -1, not an error rate \(a rate is 0 or more: check the query\)/],
  ])('%s: the watch fails and routing is restored exactly', async (_what, value, body, message) => {
    sample = value;
    whole = body;
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const run = await runAction('blue-green-switch', switchInputs({ ...watchQuery, 'prometheus-url': fake.url }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(visible(run.stdout)).toMatch(message);
    expect(visible(run.stdout)).not.toContain('Watch passed');
    expect(visible(run.stdout)).toMatch(/::error::green failed the watch after the switch \(.*\); routing was rolled back to blue/);
    expect(run.outputs).toMatchObject({ active: 'blue', 'rolled-back': 'true' });
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
    await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('blue');
  }, 60_000);

  it('+Inf (errors over no counted requests) is a rate over the limit, not no data', async () => {
    sample = () => '+Inf';
    const run = await runAction('blue-green-switch', switchInputs({ ...watchQuery, 'prometheus-url': fake.url }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(visible(run.stdout)).toMatch(/::error::green failed the watch after the switch \(error rate Infinity > 1 %25 \(query = Infinity\)\); routing was rolled back to blue/);
    expect(run.outputs).toMatchObject({ active: 'blue', 'rolled-back': 'true' });
  }, 60_000);
});

describe('canary-analyze: a Prometheus answer that is not a measurement never promotes', () => {
  it('empty sample values everywhere: an error, the canary loses its traffic, routing restored exactly', async () => {
    sample = () => '';
    const before = readFileSync(weighted.upstreamFile, 'utf8');
    const run = await runAction('canary-analyze', canaryInputs(), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'error', 'rolled-back': 'true', 'final-weight': '0' });
    expect(visible(run.stdout)).toMatch(/::error::canary inconclusive \(error\): error-rate: the query's answer holds "" where a sample value/);
    expect(readFileSync(weighted.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);

  it('+Inf for the canary with on-no-data: pass is a failure, not a pass for want of data', async () => {
    sample = () => '+Inf';
    const run = await runAction('canary-analyze', canaryInputs({ 'on-no-data': 'pass', judge: 'thresholds', metrics: 'error-rate' }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'rolled-back': 'true', 'final-weight': '0' });
    expect(visible(run.stdout)).toMatch(/::error::canary rollback \(failure\): error-rate: error rate Infinity %25 > 5\.00 %25; the canary's traffic was taken away/);
    expect(visible(run.stdout)).toContain('error-rate +Inf (stable +Inf) ✗ FAILED');
  }, 60_000);
});

describe('nginx: a server input cannot write nginx configuration', () => {
  it('refuses a unix socket path with `;#`, which would comment out the `down` of the idle colour', async () => {
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const run = await runAction('blue-green-switch', switchInputs({ 'nginx-upstream-blue': `unix:/run/blue.sock;#,${blue.address}`, target: 'green' }), RUN_ENV);
    expectInputError(run, 'nginx-upstream-blue');
    expect(visible(run.stdout)).not.toContain('Switched');
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);

  it.each(['unix:/run/a.sock;}', 'unix:/run/{a}.sock', "unix:/run/'a'.sock", 'unix:/run/a\\.sock'])('refuses %s for canary-analyze too', async (server) => {
    const run = await runAction('canary-analyze', canaryInputs({ 'nginx-upstream-canary': server }), RUN_ENV);
    expectInputError(run, 'nginx-upstream-canary');
  }, 60_000);
});

describe('blue-green-switch: a re-run job (GITHUB_RUN_ATTEMPT=2) does not undo what its first attempt did', () => {
  it('a switch without target: attempt 2 finds green live from attempt 1 and changes nothing', async () => {
    const first = await runAction('blue-green-switch', switchInputs(), RUN_ENV);
    expect(first.outputs).toMatchObject({ active: 'green', switched: 'true' });
    const switchedFile = readFileSync(switched.upstreamFile, 'utf8');
    const again = await runAction('blue-green-switch', switchInputs(), { ...RUN_ENV, GITHUB_RUN_ATTEMPT: '2' });
    expect(again.exitCode, log(again)).toBe(0);
    expect(again.outputs).toMatchObject({ active: 'green', switched: 'false' });
    expect(visible(again.stdout)).toContain('No change: attempt 1 of this run already switched to green: a re-run does not switch back');
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(switchedFile);
    await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('green');
  }, 60_000);

  it('a rollback: attempt 2 does not send traffic back to the colour attempt 1 rolled back from', async () => {
    const env = { ...RUN_ENV, GITHUB_RUN_ID: '9401' };
    expect((await runAction('blue-green-switch', switchInputs({ target: 'green' }), { ...env, GITHUB_RUN_ID: '9399' })).outputs.active).toBe('green');
    const first = await runAction('blue-green-switch', switchInputs({ action: 'rollback' }), env);
    expect(first.outputs).toMatchObject({ active: 'blue', 'rolled-back': 'true' });
    const again = await runAction('blue-green-switch', switchInputs({ action: 'rollback' }), { ...env, GITHUB_RUN_ATTEMPT: '3' });
    expect(again.exitCode, log(again)).toBe(0);
    expect(again.outputs).toMatchObject({ active: 'blue', switched: 'false', 'rolled-back': 'false' });
    expect(visible(again.stdout)).toContain('No change: attempt 1 of this run already rolled back to blue');
    await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('blue');
  }, 60_000);

  it('a first attempt that was rolled back automatically is tried again, and another run still toggles', async () => {
    await green.fail(1);
    const first = await runAction('blue-green-switch', switchInputs({ 'watch-url': switched.url, 'watch-interval': '250ms', 'watch-duration': '1s' }), RUN_ENV);
    expect(first.outputs).toMatchObject({ active: 'blue', 'rolled-back': 'true' });
    await green.fail(0);
    const again = await runAction('blue-green-switch', switchInputs(), { ...RUN_ENV, GITHUB_RUN_ATTEMPT: '2' });
    expect(again.outputs).toMatchObject({ active: 'green', switched: 'true' });
    const other = await runAction('blue-green-switch', switchInputs(), { ...RUN_ENV, GITHUB_RUN_ID: '9402' });
    expect(other.outputs).toMatchObject({ active: 'blue', previous: 'green', switched: 'true' });
  }, 60_000);
});

describe('durations too long for a timer are refused, not run at once', () => {
  it.each([
    ['blue-green-switch', 'watch-interval', { 'watch-url': 'http://127.0.0.1:1/', 'watch-interval': '30d', 'watch-duration': '90d' }],
    ['blue-green-switch', 'health-interval', { 'health-url': 'http://127.0.0.1:1/healthz', 'health-interval': '25d', 'health-timeout': '60d' }],
    ['blue-green-switch', 'scale-down-delay', { 'scale-down-delay': '1000d' }],
    ['canary-analyze', 'step-duration', { 'step-duration': '30d' }],
  ])('%s: %s', async (action, input, inputs) => {
    const started = Date.now();
    const run = await runAction(action, action === 'canary-analyze' ? canaryInputs(inputs) : switchInputs(inputs), RUN_ENV);
    expectInputError(run, input);
    expect(visible(run.stdout)).toContain('a duration of at most 24d');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(readFileSync(switched.upstreamFile, 'utf8')).toContain('"blue":100');
  }, 60_000);
});

describe('blue-green-switch: confirmation that cannot tell the colours apart is refused', () => {
  it.each(['"version":"1.0.0"', 'blue', '{{ repo }}'])('confirm-body %s', async (body) => {
    const run = await runAction('blue-green-switch', switchInputs({ 'watch-url': switched.url, 'confirm-body': body }), RUN_ENV);
    expectInputError(run, 'confirm-body');
    expect(readFileSync(switched.upstreamFile, 'utf8')).toContain('"blue":100');
  }, 60_000);
});

describe('blue-green-switch: a rollback that nginx refuses', () => {
  it('says the watch failed and the rollback did not happen, with traffic on the failed colour as the outputs say', async () => {
    await green.fail(1);
    // nginx -t passes for the switch and fails from then on (a config elsewhere broken meanwhile).
    const script = `${switched.dir}/test-once.sh`;
    writeFileSync(script, `#!/bin/sh\nn=$(cat ${script}.n 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${script}.n\n[ $n -ge 2 ] && { echo "emerg: broken elsewhere" >&2; exit 1; }\nexec ${switched.testCommand.join(' ')}\n`, { mode: 0o755 });
    const run = await runAction('blue-green-switch', switchInputs({ 'nginx-test-command': script, 'watch-url': switched.url, 'watch-interval': '250ms', 'watch-duration': '2s' }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(visible(run.stdout)).toMatch(/::error::green failed the watch after the switch \(error rate 100\.0 %25 > 1 %25 .*\), and the rollback failed: the nginx configuration test failed .*emerg: broken elsewhere; .* was put back as it was before this restore: nginx serves what it served, and nothing was restored; traffic stays on green/);
    expect(run.summary).toContain('Rollback failed');
    expect(run.outputs).toMatchObject({ active: 'green', 'rolled-back': 'false' });
    expect(readFileSync(switched.upstreamFile, 'utf8')).toContain('"green":100');
    expect(await serving(switched)).toBe('green');
  }, 60_000);
});

describe('two runs on one nginx never overlap', () => {
  it("a second switch during the first one's watch is refused; the first one's watch measures what it switched to", async () => {
    let watching!: () => void;
    const watchStarted = new Promise<void>((resolve) => (watching = resolve));
    const first = runAction('blue-green-switch', switchInputs({ target: 'green', 'watch-url': switched.url, 'watch-interval': '250ms', 'watch-duration': '4s' }), RUN_ENV, { onStdout: (text) => text.includes('watch: error rate') && watching() });
    await watchStarted;
    const second = await runAction('blue-green-switch', switchInputs({ target: 'blue' }), { ...RUN_ENV, GITHUB_RUN_ID: '9403', GITHUB_ACTOR: 'hubot' });
    expect(second.exitCode, log(second)).toBe(1);
    expect(visible(second.stdout)).toMatch(/::error::another run is changing this nginx's routing: .*slipway-lock is held by the switch of octocat since .* \(https:\/\/github\.com\/acme\/shop\/actions\/runs\/9400\), pid \d+ on /);
    expect(second.outputs).toMatchObject({ switched: 'false' });
    const run = await first;
    expect(run.exitCode, log(run)).toBe(0);
    expect(run.outputs).toMatchObject({ active: 'green', switched: 'true' });
    expect(await serving(switched)).toBe(run.outputs.active);
    expect(existsSync(lockOf(switched))).toBe(false);
  }, 60_000);

  it('a canary run holds its nginx until its rollback is done', async () => {
    let stepping!: () => void;
    const stepStarted = new Promise<void>((resolve) => (stepping = resolve));
    const first = runAction('canary-analyze', canaryInputs({ 'step-duration': '4s' }), RUN_ENV, { onStdout: (text) => text.includes('Step: the canary gets 10 %') && stepping() });
    await stepStarted;
    const second = await runAction('canary-analyze', canaryInputs(), { ...RUN_ENV, GITHUB_RUN_ID: '9404' });
    expect(second.exitCode, log(second)).toBe(1);
    expect(visible(second.stdout)).toMatch(/another run is changing this nginx's routing: .* held by the canary run of octocat/);
    expect(second.outputs).toMatchObject({ 'rolled-back': 'false' });
    await first;
    expect(existsSync(lockOf(weighted))).toBe(false);
  }, 60_000);

  it('a lock left by a run that died on this machine is taken over; a live holder is not', async () => {
    const { stdout } = await exec('sh', ['-c', 'echo $$'], { silent: true });
    writeFileSync(lockOf(switched), JSON.stringify({ pid: Number(stdout.trim()), host: hostname(), by: 'ghost', at: SETUP.at, reason: 'switch' }));
    const run = await runAction('blue-green-switch', switchInputs({ target: 'green' }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(0);
    expect(existsSync(lockOf(switched))).toBe(false);
    writeFileSync(lockOf(switched), JSON.stringify({ pid: process.pid, host: hostname(), by: 'alive', at: SETUP.at, reason: 'switch' }));
    const refused = await runAction('blue-green-switch', switchInputs({ target: 'blue' }), RUN_ENV);
    expect(refused.exitCode).toBe(1);
    expect(visible(refused.stdout)).toMatch(/held by the switch of alive/);
    expect(readFileSync(switched.upstreamFile, 'utf8')).toContain('"green":100');
  }, 60_000);
});
