import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { toolsEnv } from './cluster';

export interface TestCluster {
  kubeconfig: string;
  kubeconfigContent: string;
  /** The admin user's bearer token, which must never reach a log. */
  token: string;
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<string>;
}

/** The run's shared cluster (test/cluster/global-setup.ts); throws why it is not there. */
export function useCluster(): TestCluster {
  const provided = inject('cluster');
  if (!provided.kubeconfig) throw new Error(`the local Kubernetes cluster did not start: ${provided.error}`);
  const env = toolsEnv(provided.kubeconfig);
  const kubeconfigContent = readFileSync(provided.kubeconfig, 'utf8');
  return {
    kubeconfig: provided.kubeconfig,
    kubeconfigContent,
    // cluster.ts writes the kubeconfig as JSON with one token user.
    token: (JSON.parse(kubeconfigContent) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? '',
    env,
    kubectl: async (args, input) => (await exec('kubectl', args, { env, silent: true, input })).stdout,
  };
}
