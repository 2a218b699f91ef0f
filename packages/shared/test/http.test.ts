import type { IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, githubRateLimited, parseRetryAfter, postJson, request, requestOk } from '../src/index';
import { freePort, listen, readBody, type Listening } from '../../../test/helpers/net';

const fast = { retries: 3, timeoutMs: 2000, baseDelayMs: 10, maxDelayMs: 50 };
let server: Listening | undefined;
let others: Listening[] = [];
afterEach(async () => {
  await Promise.all([server?.close(), ...others.map((o) => o.close())]);
  server = undefined;
  others = [];
});

interface Seen {
  method: string;
  path: string;
  body: string;
  authorization?: string;
}

/** A server that records each request and answers with answer(path). */
async function recording(answer: (path: string) => { status: number; headers?: Record<string, string>; body?: string }) {
  const seen: Seen[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const listening = await listen((req, res) => {
    void readBody(req).then((body) => {
      headers.push(req.headers);
      seen.push({ method: req.method ?? '', path: req.url ?? '', body, authorization: req.headers.authorization });
      const a = answer(req.url ?? '/');
      res.writeHead(a.status, a.headers).end(a.body ?? '');
    });
  });
  others.push(listening);
  return { url: listening.url, seen, headers };
}

/** A server answering each request with the next of the given answers (the last one repeats). */
async function answering(...answers: { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }[]) {
  const seen: number[] = [];
  // A test may start several: all are closed after it.
  if (server) others.push(server);
  server = await listen((req, res) => {
    seen.push(Date.now());
    const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
    setTimeout(() => res.writeHead(a.status, a.headers).end(a.body ?? ''), a.delayMs ?? 0);
  });
  return { url: server.url, seen };
}

describe('http', () => {
  it('honours Retry-After on 429, then succeeds', async () => {
    const { url, seen } = await answering({ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: 'ok' });
    const response = await request({ url, label: 'test' }, fast);
    expect(response).toMatchObject({ status: 200, ok: true, body: 'ok', attempts: 2 });
    expect(seen[1]! - seen[0]!).toBeGreaterThanOrEqual(950);
  });

  it('returns the last 5xx after the retries run out, and requestOk turns it into an error', async () => {
    const { url, seen } = await answering({ status: 503, body: 'down' });
    const response = await request({ url, label: 'test' }, fast);
    expect(response).toMatchObject({ status: 503, ok: false, attempts: 4 });
    expect(seen).toHaveLength(4);
    await expect(requestOk({ url, label: 'Thing' }, { ...fast, retries: 1 })).rejects.toThrow('Thing: HTTP 503: down (after 2 attempts)');
  });

  it('does not retry other 4xx answers', async () => {
    const { url, seen } = await answering({ status: 400, body: 'bad' });
    const response = await request({ url, label: 'test' }, fast);
    expect(response.attempts).toBe(1);
    expect(seen).toHaveLength(1);
  });

  it('with GitHub\'s policy, retries a 403 rate limit (retry-after, or an exhausted limit until its reset) but not a 403 for a missing permission', async () => {
    const github = { ...fast, retryWhen: githubRateLimited };
    const secondary = await answering({ status: 403, headers: { 'retry-after': '1' } }, { status: 200, body: 'ok' });
    expect(await request({ url: secondary.url, label: 'test' }, github)).toMatchObject({ status: 200, attempts: 2 });
    expect(secondary.seen[1]! - secondary.seen[0]!).toBeGreaterThanOrEqual(950);
    const reset = String(Math.ceil(Date.now() / 1000) + 1);
    const primary = await answering({ status: 403, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset } }, { status: 200, body: 'ok' });
    expect(await request({ url: primary.url, label: 'test' }, github)).toMatchObject({ status: 200, attempts: 2 });
    expect(primary.seen[1]!).toBeGreaterThanOrEqual(Number(reset) * 1000 - 50);
    const forbidden = await answering({ status: 403, headers: { 'x-ratelimit-remaining': '4999' }, body: 'Resource not accessible by integration' });
    expect(await request({ url: forbidden.url, label: 'test' }, github)).toMatchObject({ status: 403, attempts: 1 });
    // Without GitHub's policy a 403 is final, whatever it says.
    const other = await answering({ status: 403, headers: { 'retry-after': '1' } });
    expect(await request({ url: other.url, label: 'test' }, fast)).toMatchObject({ status: 403, attempts: 1 });
  });

  it('times out each attempt and retries', async () => {
    const { url, seen } = await answering({ status: 200, delayMs: 1000 }, { status: 200, body: 'late but fine' });
    const response = await request({ url, label: 'test' }, { ...fast, timeoutMs: 200 });
    expect(response).toMatchObject({ body: 'late but fine', attempts: 2 });
    expect(seen).toHaveLength(2);
  });

  it('gives up on a dead host with an error that counts attempts and shows no path', async () => {
    const port = await freePort();
    const error = await request({ url: `http://127.0.0.1:${port}/secret/path`, label: 'Dead' }, { ...fast, retries: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpError);
    expect((error as HttpError).attempts).toBe(3);
    expect((error as HttpError).message).toMatch(/^Dead: network error \(ECONNREFUSED\) \(after 3 attempts\)$/);
  });

  it('quotes an error body only after taking the URL, its path, segments and query out of it', async () => {
    const echo = await recording((path) => ({ status: 404, body: `no hook at ${path} (full: http://127.0.0.1${path}); token ${path.split('/')[3]} unknown` }));
    const error = (await postJson('Hook', `${echo.url}/hooks/T0AAA/xoxSecretToken123?sig=Sig%2Bnat`, {}, fast).catch((e: unknown) => e)) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/^Hook: HTTP 404: no hook at \*\*\*/);
    for (const piece of ['xoxSecretToken123', 'Sig%2Bnat', 'Sig+nat', 'T0AAA']) {
      expect(error.message).not.toContain(piece);
      expect(error.body).not.toContain(piece);
    }
  });

  describe('redirects', () => {
    const moved = (status: number, location: string) => () => ({ status, headers: { location }, body: `moved to ${location}` });

    it('never follows a 307/308 with a body to another origin, and names only its scheme and host', async () => {
      const elsewhere = await recording(() => ({ status: 200 }));
      for (const status of [307, 308]) {
        const hook = await recording(moved(status, `${elsewhere.url}/collect/secret-path?key=k`));
        const error = (await postJson('Webhook', `${hook.url}/hook`, { routing_key: 'R0123' }, fast).catch((e: unknown) => e)) as HttpError;
        expect(error).toBeInstanceOf(HttpError);
        expect(error.message).toBe(`Webhook: HTTP ${status} redirect to ${elsewhere.url} not followed: another origin, and this request carries a body (after 1 attempt)`);
        expect(error.status).toBe(status);
        expect(hook.seen).toHaveLength(1);
      }
      expect(elsewhere.seen).toEqual([]);
    });

    it('follows a GET to another origin without the headers that may be credentials', async () => {
      const elsewhere = await recording(() => ({ status: 200, body: 'artifact' }));
      const api = await recording(moved(302, `${elsewhere.url}/blob?sig=signed`));
      const response = await request({ url: api.url, label: 'API', headers: { authorization: 'Bearer t0ken', 'x-api-key': 'k3y', accept: 'application/json' } }, fast);
      expect(response).toMatchObject({ status: 200, body: 'artifact' });
      expect(api.seen[0]?.authorization).toBe('Bearer t0ken');
      expect(elsewhere.seen).toEqual([{ method: 'GET', path: '/blob?sig=signed', body: '', authorization: undefined }]);
      expect(elsewhere.headers[0]).not.toHaveProperty('x-api-key');
      expect(elsewhere.headers[0]).toHaveProperty('accept', 'application/json');
    });

    it('follows a plain GET to another origin (a release download)', async () => {
      const cdn = await recording(() => ({ status: 200, body: 'checksums' }));
      const releases = await recording(moved(302, `${cdn.url}/file.txt`));
      const response = await request({ url: `${releases.url}/download`, label: 'Checksums', headers: { 'user-agent': 'slipway' } }, fast);
      expect(response).toMatchObject({ status: 200, body: 'checksums', attempts: 1 });
      expect(cdn.seen.map((s) => s.path)).toEqual(['/file.txt']);
    });

    it('follows a same-origin 307/308 with the body and method, and a 303 as a GET', async () => {
      const hook = await recording((path) => (path === '/old' ? { status: 307, headers: { location: '/new' } } : path === '/new' ? { status: 308, headers: { location: '/newer' } } : path === '/newer' ? { status: 303, headers: { location: '/done' } } : { status: 200, body: 'ok' }));
      const response = await postJson('Webhook', `${hook.url}/old`, { a: 1 }, fast, { authorization: 'Bearer t' });
      expect(response.body).toBe('ok');
      expect(hook.seen.map((s) => [s.method, s.path, s.body, s.authorization])).toEqual([
        ['POST', '/old', '{"a":1}', 'Bearer t'],
        ['POST', '/new', '{"a":1}', 'Bearer t'],
        ['POST', '/newer', '{"a":1}', 'Bearer t'],
        ['GET', '/done', '', 'Bearer t'],
      ]);
    });

    it('stops after 5 redirects, and refuses a Location with user-info', async () => {
      const loop = await recording((path) => ({ status: 302, headers: { location: `/hop${Number(path.slice(4) || 0) + 1}` } }));
      await expect(request({ url: `${loop.url}/hop0`, label: 'Loop' }, fast)).rejects.toThrow(/^Loop: HTTP 302 redirect to http:\/\/127\.0\.0\.1:\d+ not followed: more than 5 redirects \(after 1 attempt\)$/);
      expect(loop.seen).toHaveLength(6);
      const creds = await recording(moved(302, 'http://user:pa55word@127.0.0.1:1/x'));
      const error = (await request({ url: creds.url, label: 'Creds' }, fast).catch((e: unknown) => e)) as HttpError;
      expect(error.message).toBe('Creds: HTTP 302 redirect to http://127.0.0.1:1 not followed: the Location carries credentials (after 1 attempt)');
    });
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
