import { existsSync, readFileSync } from 'node:fs';

/**
 * Where this run comes from, read from the runner's environment. Kept to plain environment reads
 * (rather than @actions/github's context) so that actions that need only this stay small and start fast.
 */
export interface RunContext {
  repo: string;
  owner: string;
  repoName: string;
  sha: string;
  shortSha: string;
  ref: string;
  refName: string;
  actor: string;
  workflow: string;
  job: string;
  runId: string;
  runAttempt: string;
  serverUrl: string;
  apiUrl: string;
  runUrl: string;
  eventName: string;
}

export function getContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const repo = env.GITHUB_REPOSITORY ?? '';
  const [owner = '', repoName = ''] = repo.split('/');
  const sha = env.GITHUB_SHA ?? '';
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/+$/, '');
  const runId = env.GITHUB_RUN_ID ?? '';
  const runAttempt = env.GITHUB_RUN_ATTEMPT ?? '';
  const ref = env.GITHUB_REF ?? '';
  let runUrl = '';
  if (repo && runId) {
    runUrl = `${serverUrl}/${repo}/actions/runs/${runId}`;
    if (runAttempt && runAttempt !== '1') runUrl += `/attempts/${runAttempt}`;
  }
  return {
    repo,
    owner,
    repoName,
    sha,
    shortSha: sha.slice(0, 7),
    ref,
    refName: env.GITHUB_REF_NAME ?? ref.replace(/^refs\/(heads|tags)\//, ''),
    actor: env.GITHUB_ACTOR ?? '',
    workflow: env.GITHUB_WORKFLOW ?? '',
    job: env.GITHUB_JOB ?? '',
    runId,
    runAttempt,
    serverUrl,
    apiUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
    runUrl,
    eventName: env.GITHUB_EVENT_NAME ?? '',
  };
}

/** The repository's default branch, from the event payload the runner writes (as docker/metadata-action reads it). */
export function defaultBranch(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!env.GITHUB_EVENT_PATH || !existsSync(env.GITHUB_EVENT_PATH)) return undefined;
  try {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { repository?: { default_branch?: string } };
    return event.repository?.default_branch || undefined;
  } catch {
    return undefined;
  }
}
