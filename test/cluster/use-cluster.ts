import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import { exec } from '../../packages/shared/src/exec';
import { toolsEnv } from './cluster';

export interface TestCluster {
  kubeconfig: string;
  kubeconfigContent: string;
  env: NodeJS.ProcessEnv;
  kubectl(args: string[], input?: string): Promise<string>;
}

/** The run's shared cluster (test/cluster/global-setup.ts); throws why it is not there. */
export function useCluster(): TestCluster {
  const provided = inject('cluster');
  if (!provided.kubeconfig) throw new Error(`the local Kubernetes cluster did not start: ${provided.error}`);
  const env = toolsEnv(provided.kubeconfig);
  return {
    kubeconfig: provided.kubeconfig,
    kubeconfigContent: readFileSync(provided.kubeconfig, 'utf8'),
    env,
    kubectl: async (args, input) => (await exec('kubectl', args, { env, silent: true, input })).stdout,
  };
}
