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
  /** Waits, up to a minute, until each Service has a ready endpoint (a rolled-out Deployment's pods reach its EndpointSlices a moment later). */
  endpointsReady(namespace: string, services: readonly string[]): Promise<void>;
}

/** The run's shared cluster (test/cluster/global-setup.ts); throws why it is not there. */
export function useCluster(): TestCluster {
  const provided = inject('cluster');
  if (!provided.kubeconfig) throw new Error(`the local Kubernetes cluster did not start: ${provided.error}`);
  const env = toolsEnv(provided.kubeconfig);
  const kubeconfigContent = readFileSync(provided.kubeconfig, 'utf8');
  const kubectl = async (args: string[], input?: string) => (await exec('kubectl', args, { env, silent: true, input })).stdout;
  return {
    kubeconfig: provided.kubeconfig,
    kubeconfigContent,
    // cluster.ts writes the kubeconfig as JSON with one token user.
    token: (JSON.parse(kubeconfigContent) as { users: { user: { token: string } }[] }).users[0]?.user.token ?? '',
    env,
    kubectl,
    endpointsReady: async (namespace, services) => {
      type Slices = { items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] };
      const ready = async (service: string) => {
        const slices = JSON.parse(await kubectl(['-n', namespace, 'get', 'endpointslices', '-l', `kubernetes.io/service-name=${service}`, '-o', 'json'])) as Slices;
        return slices.items.some((slice) => slice.endpoints?.some((e) => e.conditions?.ready !== false));
      };
      for (const deadline = Date.now() + 60_000; !(await Promise.all(services.map(ready))).every(Boolean); await new Promise((r) => setTimeout(r, 250))) {
        if (Date.now() > deadline) throw new Error(`no ready endpoint for ${services.join(', ')} in ${namespace} after a minute`);
      }
    },
  };
}
