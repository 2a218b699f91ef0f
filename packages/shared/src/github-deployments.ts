// GitHub's Deployments API (REST, 2022-11-28): a deployment for the ref and commit, then its statuses,
// so the environment page shows what runs where, with links to the app and to the run's log.
import { GITHUB_POLICY as POLICY, githubHeaders as headers, repoEndpoint as endpoint, type GitHubApi } from './github-api';
import { postJson } from './http';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive' | 'queued' | 'pending';

/**
 * Creates a deployment of `ref` (the commit) to `environment`. Commit status checks are not required
 * (`required_contexts: []`), as the workflow running this is itself the check; no merge of the default
 * branch (`auto_merge: false`).
 */
export async function createDeployment(api: GitHubApi, deployment: { ref: string; environment: string; description: string; payload?: object; productionEnvironment?: boolean }): Promise<number> {
  const response = await postJson('GitHub deployment', endpoint(api, '/deployments'), {
    ref: deployment.ref,
    environment: deployment.environment,
    description: deployment.description.slice(0, 140),
    auto_merge: false,
    required_contexts: [],
    payload: deployment.payload ?? {},
    ...(deployment.productionEnvironment === undefined ? {} : { production_environment: deployment.productionEnvironment }),
  }, POLICY, headers(api));
  return (JSON.parse(response.body) as { id: number }).id;
}

export async function createDeploymentStatus(api: GitHubApi, id: number, status: { state: DeploymentState; environmentUrl?: string; logUrl?: string; description?: string }): Promise<void> {
  await postJson('GitHub deployment status', endpoint(api, `/deployments/${id}/statuses`), {
    state: status.state,
    ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
    ...(status.logUrl ? { log_url: status.logUrl } : {}),
    ...(status.description ? { description: status.description.slice(0, 140) } : {}),
    auto_inactive: true,
  }, POLICY, headers(api));
}
