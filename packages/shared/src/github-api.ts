// What every call to GitHub's REST API (2022-11-28) shares: where it goes and the headers it carries.
export interface GitHubApi {
  /** GITHUB_API_URL, e.g. https://api.github.com or https://ghe.example.com/api/v3 */
  url: string;
  token: string;
  /** owner/repo */
  repo: string;
}

export const GITHUB_POLICY = { retries: 3, timeoutMs: 15_000 };

export const githubHeaders = (api: GitHubApi): Record<string, string> => ({ authorization: `Bearer ${api.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'slipway' });

/** A path below the repository, e.g. `/deployments`. */
export const repoEndpoint = (api: GitHubApi, path: string): string => `${api.url.replace(/\/+$/, '')}/repos/${api.repo}${path}`;
