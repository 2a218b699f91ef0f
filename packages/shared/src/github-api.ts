// What every call to GitHub's REST API (2022-11-28) shares: where it goes, the headers it carries, and
// how it is retried.
import type { RetryPolicy } from './retry';

export interface GitHubApi {
  /** GITHUB_API_URL, e.g. https://api.github.com or https://ghe.example.com/api/v3 */
  url: string;
  token: string;
  /** owner/repo */
  repo: string;
}

/**
 * GitHub's primary and secondary rate limits answer 403 (or 429) with `retry-after`, or with
 * `x-ratelimit-remaining: 0` and `x-ratelimit-reset` ("Rate limits for the REST API"): waited for and
 * retried. Any other 403 (a missing permission) is final.
 */
export const githubRateLimited = (status: number, headers: Headers): boolean => status === 403 && (headers.has('retry-after') || headers.get('x-ratelimit-remaining') === '0');

export const GITHUB_POLICY: RetryPolicy = { retries: 3, timeoutMs: 15_000, retryWhen: githubRateLimited };

export const githubHeaders = (api: GitHubApi): Record<string, string> => ({ authorization: `Bearer ${api.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'slipway' });

/** A path below the repository, e.g. `/deployments`. */
export const repoEndpoint = (api: GitHubApi, path: string): string => `${api.url.replace(/\/+$/, '')}/repos/${api.repo}${path}`;
