import * as core from '@actions/core';
import { formatDuration } from './duration';

export interface RetryPolicy {
  /** Retries after the first attempt (0 = one attempt only). */
  retries: number;
  /** Limit for each attempt. */
  timeoutMs: number;
  /** First backoff; doubles each retry, with jitter. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A server asking to wait longer than this (Retry-After) is waited for this long at most. */
  maxRetryAfterMs?: number;
  /** An answer besides 429 and 5xx that asks to be retried later (GitHub's rate limits answer 403). */
  retryWhen?: (status: number, headers: Headers) => boolean;
}

export const RETRY_DEFAULTS = { baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: 60_000 };

/** Exponential backoff with full jitter, so runners that failed together don't retry together. */
export function backoff(attempt: number, policy: RetryPolicy): number {
  const { baseDelayMs, maxDelayMs } = { ...RETRY_DEFAULTS, ...policy };
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `1 attempt`, `3 attempts`. */
export function attempts(n: number): string {
  return `${n} attempt${n === 1 ? '' : 's'}`;
}

export function logRetry(label: string, reason: string, waitMs: number, attempt: number, policy: RetryPolicy): void {
  core.info(`${label}: ${reason}; retrying in ${formatDuration(waitMs)} (attempt ${attempt + 1} of ${policy.retries + 1})`);
}

/** The result of an operation that may have taken several attempts. */
export interface Attempted<T> {
  value: T;
  attempts: number;
}

/** An error that remembers how many attempts were made before giving up. */
export class RetriesExhaustedError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RetriesExhaustedError';
  }
}

/**
 * Runs op until it succeeds, retrying the errors that isTransient accepts. For protocols other than
 * HTTP (SMTP, say); HTTP has its own loop in http.ts because responses, not only errors, are retried.
 */
export async function withRetries<T>(
  label: string,
  policy: RetryPolicy,
  op: (attempt: number) => Promise<T>,
  isTransient: (error: unknown) => boolean,
): Promise<Attempted<T>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await op(attempt), attempts: attempt };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      if (attempt > policy.retries || !isTransient(error)) {
        throw new RetriesExhaustedError(`${label}: ${reason} (after ${attempts(attempt)})`, attempt, { cause: error });
      }
      const wait = backoff(attempt, policy);
      logRetry(label, reason, wait, attempt, policy);
      await sleep(wait);
    }
  }
}
