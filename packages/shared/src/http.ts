import { formatDuration } from './duration';
import { RETRY_DEFAULTS, attempts, backoff, logRetry, sleep, type RetryPolicy } from './retry';

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
 * Sends a request, retrying network errors, timeouts, 429 and 5xx with exponential backoff and full
 * jitter, and honouring Retry-After. Returns the last response whatever its status (callers decide what
 * is a failure, as some APIs answer 200 with an error inside); throws HttpError only when no response came.
 */
export async function request(req: HttpRequest, policy: RetryPolicy): Promise<HttpResponse> {
  const { maxRetryAfterMs } = { ...RETRY_DEFAULTS, ...policy };
  const attemptsAllowed = policy.retries + 1;
  for (let attempt = 1; ; attempt++) {
    let wait: number;
    let reason: string;
    try {
      const response = await fetch(req.url, {
        method: req.method ?? (req.body === undefined ? 'GET' : 'POST'),
        headers: req.headers,
        body: req.body,
        redirect: 'follow',
        signal: AbortSignal.timeout(policy.timeoutMs),
      });
      const body = await response.text();
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt >= attemptsAllowed) {
        return { status: response.status, ok: response.ok, headers: response.headers, body, attempts: attempt };
      }
      reason = `HTTP ${response.status}`;
      const retryAfter = parseRetryAfter(response.headers.get('retry-after'));
      wait = retryAfter === undefined ? backoff(attempt, policy) : Math.min(retryAfter, maxRetryAfterMs);
    } catch (error) {
      reason = describeFetchError(error, policy.timeoutMs);
      if (attempt >= attemptsAllowed) {
        throw new HttpError(`${req.label}: ${reason} (after ${attempts(attempt)})`, attempt);
      }
      wait = backoff(attempt, policy);
    }
    logRetry(req.label, reason, wait, attempt, policy);
    await sleep(wait);
  }
}

/** Like request, but a non-2xx final response is an HttpError carrying the status and a short body excerpt. */
export async function requestOk(req: HttpRequest, policy: RetryPolicy): Promise<HttpResponse> {
  const response = await request(req, policy);
  if (!response.ok) {
    const excerpt = response.body.trim().slice(0, 300);
    throw new HttpError(
      `${req.label}: HTTP ${response.status}${excerpt ? `: ${excerpt}` : ''} (after ${attempts(response.attempts)})`,
      response.attempts,
      response.status,
      response.body,
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
