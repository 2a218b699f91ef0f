import { formatDuration } from './duration';
import { RETRY_DEFAULTS, attempts, backoff, logRetry, sleep, type RetryPolicy } from './retry';
import { displayUrl, redactUrlEcho } from './secrets/index';

export interface HttpRequest {
  url: string | URL;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /**
   * What the log lines call this request, e.g. `Slack webhook`. URLs are never logged because
   * webhook URLs carry their credentials in the path.
   */
  label: string;
}

export interface HttpResponse {
  status: number;
  ok: boolean;
  headers: Headers;
  body: string;
  attempts: number;
}

/** A request that failed for good: no response after all retries, or a response that was not OK. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
    readonly body?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Sends a request, retrying network errors, timeouts, 429, 5xx and what `policy.retryWhen` names with
 * exponential backoff and full jitter, and honouring Retry-After (or an exhausted rate limit's reset).
 * Returns the last response whatever its status (callers decide what is a failure, as some APIs answer
 * 200 with an error inside); throws HttpError when no response came, or when the answer was a redirect
 * that may not be followed (see followRedirects).
 */
export async function request(req: HttpRequest, policy: RetryPolicy): Promise<HttpResponse> {
  const { maxRetryAfterMs } = { ...RETRY_DEFAULTS, ...policy };
  const attemptsAllowed = policy.retries + 1;
  const url = new URL(req.url);
  for (let attempt = 1; ; attempt++) {
    let wait: number;
    let reason: string;
    try {
      const response = await followRedirects(req, url, AbortSignal.timeout(policy.timeoutMs));
      if (!(response instanceof Response)) throw new HttpError(`${req.label}: HTTP ${response.status} ${response.why} (after ${attempts(attempt)})`, attempt, response.status);
      const body = await response.text();
      const retryable = response.status === 429 || response.status >= 500 || policy.retryWhen?.(response.status, response.headers) === true;
      if (!retryable || attempt >= attemptsAllowed) {
        return { status: response.status, ok: response.ok, headers: response.headers, body, attempts: attempt };
      }
      reason = `HTTP ${response.status}`;
      const retryAfter = parseRetryAfter(response.headers.get('retry-after')) ?? rateLimitReset(response.headers);
      wait = retryAfter === undefined ? backoff(attempt, policy) : Math.min(retryAfter, maxRetryAfterMs);
    } catch (error) {
      // A refused redirect is final: the same request would be sent the same way again.
      if (error instanceof HttpError) throw error;
      reason = redactUrlEcho(describeFetchError(error, policy.timeoutMs), url);
      if (attempt >= attemptsAllowed) {
        throw new HttpError(`${req.label}: ${reason} (after ${attempts(attempt)})`, attempt);
      }
      wait = backoff(attempt, policy);
    }
    logRetry(req.label, reason, wait, attempt, policy);
    await sleep(wait);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** Headers that carry no credential; any other (Authorization, a signature, an API key) is not sent to another origin. */
const PLAIN_HEADERS = new Set(['accept', 'accept-encoding', 'accept-language', 'content-type', 'user-agent', 'x-github-api-version']);

interface Refused {
  status: number;
  why: string;
}

/**
 * One attempt, with the redirects it may follow. fetch's own following resends a 307/308's body and
 * every custom header to wherever the Location points, even from https to plain http, so redirects are
 * followed here: never from https to http, never to a URL with user-info, never as a GET that drops a
 * POST's body (301/302), and to another origin only for a request without a body (a download, an API
 * read), and then without any header that may be a credential. A refused redirect is reported with the
 * Location's scheme and host, never its path.
 */
async function followRedirects(req: HttpRequest, start: URL, signal: AbortSignal): Promise<Response | Refused> {
  let url = start;
  let method = req.method ?? (req.body === undefined ? 'GET' : 'POST');
  let body = req.body;
  let headers = req.headers ?? {};
  for (let hops = 0; ; hops++) {
    const response = await fetch(url, { method, headers, body, redirect: 'manual', signal });
    const location = response.headers.get('location');
    if (!REDIRECTS.has(response.status) || location === null) return response;
    await response.body?.cancel();
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      return { status: response.status, why: 'redirect to an unreadable Location not followed' };
    }
    const to = `redirect to ${displayUrl(next)} not followed`;
    if (url.protocol === 'https:' && next.protocol !== 'https:') return { status: response.status, why: `${to}: it leaves https` };
    if (next.username || next.password) return { status: response.status, why: `${to}: the Location carries credentials` };
    if (next.origin !== url.origin) {
      if (req.body !== undefined) return { status: response.status, why: `${to}: another origin, and this request carries a body` };
      headers = Object.fromEntries(Object.entries(headers).filter(([name]) => PLAIN_HEADERS.has(name.toLowerCase())));
    }
    if (hops >= MAX_REDIRECTS) return { status: response.status, why: `${to}: more than ${MAX_REDIRECTS} redirects` };
    // A 303 says the request was taken and points at its result, read with a GET. A 301/302 says the
    // endpoint is elsewhere; fetch would resend a POST there as a GET without its body, a message that
    // reaches nobody while the GET's answer (a login page, say) reads as a delivery.
    if ((response.status === 301 || response.status === 302) && method === 'POST' && body !== undefined) {
      return { status: response.status, why: `${to}: it would resend this request as a GET without its body` };
    }
    if (response.status === 303) {
      method = 'GET';
      body = undefined;
    }
    url = next;
  }
}

/**
 * Like request, but a non-2xx final response is an HttpError carrying the status and a short body
 * excerpt. Receivers often echo the request's URL, path or query (a webhook's credential) in an error,
 * so the body is quoted only once those and every registered secret are taken out of it.
 */
export async function requestOk(req: HttpRequest, policy: RetryPolicy): Promise<HttpResponse> {
  const response = await request(req, policy);
  if (!response.ok) {
    const body = redactUrlEcho(response.body, new URL(req.url));
    // One line: the excerpt ends up in a log line, a summary table cell and a JSON output.
    const excerpt = body.trim().replace(/\s+/g, ' ').slice(0, 300);
    throw new HttpError(
      `${req.label}: HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''} (after ${attempts(response.attempts)})`,
      response.attempts,
      response.status,
      body,
    );
  }
  return response;
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.ceil(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** An exhausted rate limit's wait: `x-ratelimit-remaining: 0` until `x-ratelimit-reset` (epoch seconds), as GitHub sends them. */
export function rateLimitReset(headers: Headers, now = Date.now()): number | undefined {
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (headers.get('x-ratelimit-remaining') !== '0' || !Number.isFinite(reset) || reset <= 0) return undefined;
  return Math.max(0, reset * 1000 - now);
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no response within ${formatDuration(timeoutMs)}`;
  }
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  // Cause messages may contain the host, never the path; that is safe to show.
  return cause ? `network error (${code ?? cause.message})` : `network error (${String(error)})`;
}

/** POSTs a JSON document; a non-2xx final response is an HttpError. */
export function postJson(label: string, url: string | URL, payload: unknown, policy: RetryPolicy, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return requestOk(
    {
      label,
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'slipway', ...headers },
      body: typeof payload === 'string' ? payload : JSON.stringify(payload),
    },
    policy,
  );
}
