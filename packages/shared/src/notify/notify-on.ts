import type { RunContext } from '../context';
import { githubHeaders, githubRateLimited, repoEndpoint } from '../github-api';
import { requestOk } from '../http';
import type { RetryPolicy } from '../retry';
import type { Status } from './message';

export const NOTIFY_ON = ['always', 'failure', 'success', 'change'] as const;
export type NotifyOn = (typeof NOTIFY_ON)[number];

/** A workflow run's conclusion as one of the notification statuses (timed_out counts as a failure). */
export function conclusionToStatus(conclusion: string | null | undefined): string | undefined {
  if (!conclusion) return undefined;
  if (conclusion === 'timed_out' || conclusion === 'startup_failure') return 'failure';
  return conclusion;
}

interface WorkflowRun {
  id: number;
  workflow_id: number;
  head_branch: string | null;
  conclusion: string | null;
  status: string;
  created_at: string;
}

/**
 * The status of the previous completed run of this run's workflow on the same branch, from the
 * GitHub REST API; undefined when there is none.
 */
export async function previousRunStatus(context: RunContext, token: string, policy: RetryPolicy): Promise<string | undefined> {
  const api = { url: context.apiUrl, token, repo: context.repo };
  const headers = githubHeaders(api);
  const github = { ...policy, retryWhen: githubRateLimited };
  const current = JSON.parse(
    (await requestOk({ label: 'GitHub API (this run)', url: repoEndpoint(api, `/actions/runs/${encodeURIComponent(context.runId)}`), headers }, github)).body,
  ) as WorkflowRun;
  const query = new URLSearchParams({ status: 'completed', per_page: '20', exclude_pull_requests: 'true' });
  if (current.head_branch) query.set('branch', current.head_branch);
  const list = JSON.parse(
    (await requestOk({ label: 'GitHub API (previous runs)', url: repoEndpoint(api, `/actions/workflows/${current.workflow_id}/runs?${query}`), headers }, github)).body,
  ) as { workflow_runs: WorkflowRun[] };
  const previous = list.workflow_runs
    .filter((run) => run.id !== current.id && run.created_at < current.created_at)
    .sort((a, b) => b.created_at.localeCompare(a.created_at))[0];
  return conclusionToStatus(previous?.conclusion);
}

/** Whether to send, and why not. `info` is always sent: it has no outcome to filter on. */
export function decide(notifyOn: NotifyOn, status: Status, previous?: string): { send: boolean; reason: string } {
  if (status === 'info' || notifyOn === 'always') return { send: true, reason: `notify-on: ${notifyOn}` };
  if (notifyOn === 'failure' || notifyOn === 'success') {
    return status === notifyOn
      ? { send: true, reason: `status is ${status}` }
      : { send: false, reason: `notify-on is ${notifyOn} and the status is ${status}` };
  }
  if (previous === undefined) return { send: true, reason: 'no previous completed run to compare with' };
  return previous === status
    ? { send: false, reason: `status ${status} is unchanged since the previous run` }
    : { send: true, reason: `status changed from ${previous} to ${status}` };
}
