// The watch after a switch and the answers that confirm a colour serves, against small HTTP servers
// standing in for what sits in front of Prometheus and for the two colours (the bundle tests run the
// same code with a real Prometheus and nginx).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryValue } from '../src/prometheus';
import { confirmAnswers, watchAfterSwitch, type WatchSpec } from '../src/routing/probes';
import { listen, type Listening } from '../../../test/helpers/net';

/** What the Prometheus stand-in answers: a value, no data, or a broken reply; `value` after `left` more. */
let reply: 'value' | 'empty' | 'html' | 'redirect' | 'refused' = 'value';
let left = Infinity;
let prometheus: Listening;
let answered = 0;
let app: Listening;

beforeAll(async () => {
  prometheus = await listen((_req, res) => {
    const now = reply;
    if (--left <= 0) reply = 'value';
    if (now === 'html') return void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
    if (now === 'redirect') return void res.writeHead(302, { location: 'https://sso.example.com/login?next=%2Fapi' }).end();
    if (now === 'refused') return void res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: 'parse error' }));
    const result = now === 'value' ? [{ metric: {}, value: [0, '0.002'] }] : [];
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  // Blue for the first 4 answers, then green (header and body), as a router that took a while.
  app = await listen((_req, res) => {
    const color = ++answered > 4 ? 'green' : 'blue';
    res.writeHead(200, { 'content-type': 'application/json', 'x-color': color }).end(JSON.stringify({ color }));
  });
}, 30_000);
afterAll(async () => {
  await Promise.all([prometheus?.close(), app?.close()]);
});

/** The stand-in answers `what` the next `times` (default: always). */
function answer(what: typeof reply, times = Infinity): void {
  reply = what;
  left = times;
}

const spec = (overrides: Partial<WatchSpec> = {}): WatchSpec => ({
  durationMs: 300,
  intervalMs: 20,
  maxErrorRate: 0.01,
  prometheus: { url: prometheus.url, query: 'sum(rate(errors[1m]))' },
  consecutiveErrorLimit: 2,
  ...overrides,
});

describe('the Prometheus query API', () => {
  it('turns anything but its JSON answer into an error saying what came back, never a number', async () => {
    answer('html');
    await expect(queryValue({ url: prometheus.url }, 'up')).rejects.toThrow(/^Prometheus at http:\/\/127\.0\.0\.1:\d+ answered HTTP 502 Bad Gateway with text\/html, not the JSON of its query API/);
    answer('refused');
    await expect(queryValue({ url: prometheus.url }, 'up')).rejects.toThrow(/refused the query \(HTTP 400 Bad Request, bad_data\): parse error$/);
    // Not followed: the headers (credentials) would go wherever it points.
    answer('redirect');
    await expect(queryValue({ url: prometheus.url }, 'up')).rejects.toThrow(/redirects \(HTTP 302 Found\) to https:\/\/sso\.example\.com: give the URL it redirects to$/);
    answer('empty');
    expect(await queryValue({ url: prometheus.url }, 'up')).toBeUndefined();
  });
});

describe('watchAfterSwitch with a Prometheus query', () => {
  it('fails once the query has failed more times in a row than allowed, reporting no rate', async () => {
    answer('html');
    // It ends at the third error, long before its duration.
    const result = await watchAfterSwitch(spec({ durationMs: 10_000 }));
    expect(result.ok).toBe(false);
    expect(result.ticks.map((t) => t.query)).toEqual(['error', 'error', 'error']);
    expect(result.ticks.every((t) => t.errorRate === undefined)).toBe(true);
    expect(result.reason).toMatch(/^the watch query failed 3 times in a row, more than the 2 allowed, so the new colour was not measured \(query failed: Prometheus at .* answered HTTP 502/);
  });

  it('never passes on no data: allowed while series appear, a failure when the watch ends without a rate', async () => {
    answer('empty');
    const none = await watchAfterSwitch(spec());
    expect(none.ok).toBe(false);
    expect(none.ticks.every((t) => t.query === 'inconclusive' && t.errorRate === undefined && t.detail === 'query: no data')).toBe(true);
    expect(none.reason).toMatch(/^the watch query had no data at the end of the watch, so the new colour was not measured; no data is not a pass/);

    answer('empty', 2);
    const late = await watchAfterSwitch(spec());
    expect(late.ok).toBe(true);
    expect(late.ticks[0]?.query).toBe('inconclusive');
    expect(late.ticks.at(-1)).toMatchObject({ query: 'success', errorRate: 0.002 });
    expect(late.reason).toBe('error rate 0.2 % ≤ 1 % (query = 0.002)');
  });

  it('tolerates errors up to the limit when the query measures again', async () => {
    answer('html', 2);
    const result = await watchAfterSwitch(spec());
    expect(result.ok).toBe(true);
    expect(result.ticks.slice(0, 3).map((t) => t.query)).toEqual(['error', 'error', 'success']);
  });
});

describe('confirmAnswers', () => {
  it('waits for answers in a row from the new colour, by header or body', async () => {
    answered = 0;
    expect(await confirmAnswers({ url: app.url, color: 'green', header: 'X-Color', answers: 3, timeoutMs: 1000, deadlineMs: 5000 })).toMatch(/^3 answers in a row from green \(7 asked in [\d.]+m?s\)$/);
    answered = 0;
    expect(await confirmAnswers({ url: app.url, color: 'green', body: '"color":"green"', answers: 2, timeoutMs: 1000, deadlineMs: 5000 })).toMatch(/^2 answers in a row from green \(6 asked/);
  });

  it('fails saying what the last answer was when the colour never answers', async () => {
    answered = 0;
    await expect(confirmAnswers({ url: app.url, color: 'purple', header: 'X-Color', answers: 2, timeoutMs: 1000, deadlineMs: 300 })).rejects.toThrow(/^2 answers in a row from purple did not come within 300ms \(\d+ asked; last: X-Color: "(blue|green)"\)$/);
  });
});
