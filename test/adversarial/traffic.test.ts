// blue-green-switch and canary-analyze when what they measure or drive misbehaves, through the
// bundles: a real nginx in front of two demo instances, real Prometheus servers (one behind basic
// auth), a page standing in for an authenticating proxy, and reload commands that fail after nginx
// reloaded. Every run must fail, say why, and leave routing exactly as it found it (file bytes and
// what nginx serves), or say loudly that it cannot.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { queryValue } from '../../packages/shared/src/prometheus';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { startLoad } from '../helpers/load';
import { freePort, listen, type Listening } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import type { DemoApp } from '../services/demo-app';
import { reloadWrapper, type Nginx } from '../services/nginx';
import type { Service } from '../services/process';
import { startPrometheus } from '../services/prometheus';
import { expectInputError, expectNoLeaks, type SeenRequest } from './harness';
import { serving, startTraffic, type Traffic } from './traffic-fixtures';

const RUN_ENV = runEnv('9300');
const TOKEN = 'Pr0mT0k3n/x9Qz+Wv7q=Lk2p';
let traffic: Traffic;
let blue: DemoApp;
let green: DemoApp;
let switched: Nginx;
let weighted: Nginx;
let prometheus: Service;
let locked: Service;
let page: Listening;
const pageRequests: SeenRequest[] = [];
let closed: string;

beforeAll(async () => {
  traffic = await startTraffic();
  ({ blue, green, switched, weighted } = traffic);
  // Its API wants a password nobody here has (the hash is of another one).
  [prometheus, locked] = await Promise.all([
    startPrometheus([{ address: blue.address }, { address: green.address }]),
    startPrometheus([], { basicAuth: { admin: '$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay' } }),
  ]);
  // An authenticating proxy's login page, answered with 200 to every path.
  page = await listen((req, res) => {
    pageRequests.push({ path: req.url, body: '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><form action="/login">Sign in</form></body></html>');
  });
  closed = `http://127.0.0.1:${await freePort()}`;
  await vi.waitFor(async () => expect(await queryValue({ url: prometheus.url }, 'sum(up)')).toBe(2), { timeout: 30_000, interval: 250 });
}, 90_000);
afterAll(async () => {
  await Promise.all([traffic?.stop(), prometheus?.stop(), locked?.stop(), page?.close()]);
});
beforeEach(() => traffic.reset());

const switchInputs = (inputs: Record<string, string> = {}) => traffic.switchInputs(inputs);

const canaryInputs = (inputs: Record<string, string> = {}) => ({
  'prometheus-url': prometheus.url,
  ...traffic.canaryRouting(),
  'canary-selector': 'color="green"',
  'stable-selector': 'color="blue"',
  steps: '10,100',
  'step-duration': '6s',
  interval: '1s',
  'query-window': '3s',
  'min-requests': '5',
  'consecutive-error-limit': '1',
  ...inputs,
});

const log = (run: ActionRun) => visible(run.stdout) + run.stderr;

describe('blue-green-switch: a watch that cannot measure never passes', () => {
  const good = 'sum(rate(http_requests_total{color="green",status=~"5.."}[5s]) or vector(0))';
  it.each([
    ['Prometheus is down', () => closed, good, /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable: ECONNREFUSED/],
    ['Prometheus answers 401', () => locked.url, good, /Prometheus at http:\/\/127\.0\.0\.1:\d+ answered HTTP 401 Unauthorized with text\/plain[^,]*, not the JSON of its query API/],
    ['a proxy answers with its login page', () => page.url, good, /answered HTTP 200 OK with text\/html, not the JSON of its query API \(a proxy, login or error page\?\)/],
    ['the query is not PromQL', () => prometheus.url, 'sum(rate(http_requests_total[5s]', /refused the query \(HTTP 400 Bad Request, bad_data\): .*parse error/],
    ['the query returns several series', () => prometheus.url, 'up', /the query returned \d+ series; it must return one/],
    ['the query never has data', () => prometheus.url, 'sum(rate(slipway_no_such_metric_total[5s]))', /the watch query had no data at the end of the watch, so the new colour was not measured; no data is not a pass/],
  ])('%s: the watch fails and routing is restored exactly', async (_what, url, query, message) => {
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const run = await runAction('blue-green-switch', switchInputs({ 'prometheus-url': url(), 'watch-query': query, 'watch-duration': '2s', 'watch-interval': '250ms', 'consecutive-error-limit': '1' }), RUN_ENV);
    expect(run.exitCode, log(run)).toBe(1);
    expect(visible(run.stdout)).toMatch(message);
    expect(visible(run.stdout)).toMatch(/::error::green failed the watch after the switch \(.*\); routing was rolled back to blue/);
    expect(visible(run.stdout)).not.toMatch(/watch: error rate 0\.0 % \(query (failed|: no data)/);
    expect(run.outputs).toMatchObject({ active: 'blue', previous: 'green', switched: 'true', 'rolled-back': 'true' });
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
    await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('blue');
  }, 60_000);
});

describe('blue-green-switch: a reload command that fails after nginx reloaded', () => {
  it('puts the file back and reloads nginx with it: traffic stays where the file and the outputs say', async () => {
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const wrapper = reloadWrapper(switched, { failOnCalls: [1] });
    const run = await runAction('blue-green-switch', switchInputs({ 'nginx-reload-command': wrapper.command }), RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(visible(run.stdout)).toMatch(/::error::the nginx reload failed .*call 1 reports failure; .* was put back as it was and nginx reloaded with it/);
    expect(run.outputs).toMatchObject({ active: 'blue', switched: 'false', 'rolled-back': 'false' });
    expect(wrapper.calls()).toBe(2);
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
    // nginx did take green up at the first call; the second brings blue back.
    await expect.poll(() => serving(switched), { timeout: 10_000, interval: 100 }).toBe('blue');
    await new Promise((r) => setTimeout(r, 500));
    expect(await serving(switched)).toBe('blue');
  }, 60_000);

  it('says loudly that routing and the file may differ when reloading the file put back fails too', async () => {
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const run = await runAction('blue-green-switch', switchInputs({ 'nginx-reload-command': reloadWrapper(switched, { failFromCall: 1 }).command }), RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(visible(run.stdout)).toMatch(/::error::the nginx reload failed .*was put back as it was, but reloading nginx with it failed too .*routing and .* may differ/);
    expect(run.summary).toContain('⚠️ Routing may differ from what nginx was told: check it before anything else.');
    expect(run.summary).toContain('<td>Live</td><td>unknown</td>');
    expect(run.outputs.active).toBe('');
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);
});

describe('blue-green-switch: inputs refused before anything changes', () => {
  it.each([
    ['health-url', { 'health-url': 'not a url', 'health-timeout': '30s' }],
    ['health-url', { 'health-url': 'ftp://{{ color }}.internal/healthz' }],
    ['health-url', { 'health-url': 'http://{{ colour }}.internal/healthz' }],
    ['health-interval', { 'health-url': 'http://127.0.0.1:1/healthz', 'health-interval': '0s', 'health-timeout': '3s' }],
    ['health-timeout', { 'health-url': 'http://127.0.0.1:1/healthz', 'health-timeout': '0ms' }],
    ['watch-interval', { 'watch-url': 'http://127.0.0.1:1/', 'watch-interval': '0s', 'watch-duration': '2s' }],
    ['watch-duration', { 'watch-url': 'http://127.0.0.1:1/', 'watch-duration': '0' }],
    ['confirm-timeout', { 'watch-url': 'http://127.0.0.1:1/', 'confirm-timeout': '0s' }],
    ['confirm-header', { 'watch-url': 'http://127.0.0.1:1/', 'confirm-header': 'X Color' }],
    ['watch-url', { 'confirm-body': '"color":"{{ color }}"' }],
  ])('refuses a bad %s at once, naming it', async (input, inputs) => {
    const before = readFileSync(switched.upstreamFile, 'utf8');
    const started = Date.now();
    const run = await runAction('blue-green-switch', switchInputs(inputs), RUN_ENV);
    expectInputError(run, input);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(readFileSync(switched.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);
});

describe('canary-analyze: what it cannot measure or undo', () => {
  it('a login page where Prometheus should be is an error that says so, never a number; the bearer token is never shown', async () => {
    const before = readFileSync(weighted.upstreamFile, 'utf8');
    pageRequests.length = 0;
    const run = await runAction('canary-analyze', canaryInputs({ 'prometheus-url': page.url, 'prometheus-headers': `Authorization: Bearer ${TOKEN}` }), RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(run.outputs).toMatchObject({ verdict: 'inconclusive', outcome: 'error', 'rolled-back': 'true', 'final-weight': '0' });
    expect(visible(run.stdout)).toMatch(/::error::canary inconclusive \(error\): error-rate: Prometheus at http:\/\/127\.0\.0\.1:\d+ answered HTTP 200 OK with text\/html, not the JSON of its query API/);
    expect(readFileSync(weighted.upstreamFile, 'utf8')).toBe(before);
    expect(pageRequests.length).toBeGreaterThan(0);
    expectNoLeaks(run, [TOKEN], pageRequests);
  }, 60_000);

  it('a rollback whose reload fails after nginx reloaded keeps the restored file and reloads again: the canary gets nothing back', async () => {
    const before = readFileSync(weighted.upstreamFile, 'utf8');
    const wrapper = reloadWrapper(weighted, { failOnCalls: [2] });
    await green.fail(1);
    const load = startLoad(weighted.url, 100);
    try {
      const run = await runAction('canary-analyze', canaryInputs({ 'nginx-reload-command': wrapper.command }), RUN_ENV);
      expect(run.exitCode, log(run)).toBe(1);
      expect(run.outputs).toMatchObject({ verdict: 'rollback', outcome: 'failure', 'rolled-back': 'true', 'final-weight': '0' });
      expect(wrapper.calls()).toBe(3);
      expect(readFileSync(weighted.upstreamFile, 'utf8')).toBe(before);
      await expect.poll(() => serving(weighted), { timeout: 10_000, interval: 100 }).toBe('blue');
    } finally {
      await load.stop();
    }
  }, 60_000);

  it('says loudly, in the error and the summary, when routing may differ after a rollback whose reloads fail', async () => {
    const before = readFileSync(weighted.upstreamFile, 'utf8');
    await green.fail(1);
    const load = startLoad(weighted.url, 100);
    try {
      const run = await runAction('canary-analyze', canaryInputs({ 'nginx-reload-command': reloadWrapper(weighted, { failFromCall: 2 }).command }), RUN_ENV);
      expect(run.exitCode).toBe(1);
      expect(visible(run.stdout)).toMatch(/::error::error-rate: .*; and taking the canary's traffic away failed: the nginx reload failed .*kept as restored, but reloading nginx with it failed too .*routing and .* may differ/);
      expect(run.summary).toContain('canary-analyze: ⚠️ routing may differ from what the router was told');
      expect(run.summary).toContain('Check the router before anything else');
      expect(readFileSync(weighted.upstreamFile, 'utf8')).toBe(before);
    } finally {
      await load.stop();
    }
  }, 60_000);

  it.each([
    ['interval', { interval: '0s' }],
    ['deadline', { deadline: '0s' }],
  ])('refuses a zero %s before touching routing, naming it', async (input, inputs) => {
    const before = readFileSync(weighted.upstreamFile, 'utf8');
    const run = await runAction('canary-analyze', canaryInputs(inputs), RUN_ENV);
    expectInputError(run, input);
    expect(readFileSync(weighted.upstreamFile, 'utf8')).toBe(before);
  }, 60_000);
});
