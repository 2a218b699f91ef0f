// GitHub's Issues API (REST, 2022-11-28), for incident records: one issue per key (a run), however
// often the step runs. The key is a hidden marker in the body, found again by listing the label's issues.
import { GITHUB_POLICY as POLICY, githubHeaders as headers, repoEndpoint as endpoint, type GitHubApi } from './github-api';
import { postJson, requestOk } from './http';

export interface IssueRecord {
  number: number;
  url: string;
  /** false: an issue with this key was already there (an earlier attempt of the run opened it). */
  created: boolean;
}

const marker = (key: string) => `<!-- slipway-incident: ${key} -->`;

/**
 * Opens an issue labelled `label` whose body carries `key`, unless one already does (open or closed):
 * a rerun of the job finds the first attempt's issue instead of opening a second one.
 */
export async function openIssueOnce(api: GitHubApi, issue: { key: string; label: string; title: string; body: string }): Promise<IssueRecord> {
  const tag = marker(issue.key);
  for (let page = 1; page <= 10; page++) {
    const url = `${endpoint(api, '/issues')}?labels=${encodeURIComponent(issue.label)}&state=all&per_page=100&page=${page}`;
    const found = JSON.parse((await requestOk({ url, headers: headers(api), label: 'GitHub issues' }, POLICY)).body) as { number: number; html_url: string; body?: string | null }[];
    const same = found.find((i) => i.body?.includes(tag));
    if (same) return { number: same.number, url: same.html_url, created: false };
    if (found.length < 100) break;
  }
  // GitHub caps a title at 256 characters and a body at 65536.
  const response = await postJson('GitHub issue', endpoint(api, '/issues'), { title: issue.title.slice(0, 256), body: `${tag}\n${issue.body}`.slice(0, 65_000), labels: [issue.label] }, POLICY, headers(api));
  const created = JSON.parse(response.body) as { number: number; html_url: string };
  return { number: created.number, url: created.html_url, created: true };
}
