import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, parseRetryAfter, request, requestOk } from '../src/index';
import { freePort, listen, type Listening } from '../../../test/helpers/net';

const fast = { retries: 3, timeoutMs: 2000, baseDelayMs: 10, maxDelayMs: 50 };
let server: Listening | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server answering each request with the next of the given answers (the last one repeats). */
async function answering(...answers: { status: number; headers?: Record<string, string>; body?: string; delayMs?: number }[]) {
  const seen: number[] = [];
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

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
