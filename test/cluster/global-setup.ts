// One local cluster for the whole test run. If it cannot start, the run goes on and every test that
// needs Kubernetes fails with the reason (see useCluster), instead of the suite stopping or skipping.
import type { TestProject } from 'vitest/node';
import { startCluster, type Cluster } from './cluster';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: { kubeconfig: string; error?: undefined } | { kubeconfig?: undefined; error: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: Cluster | undefined;
  // For a quick run of files that need no cluster; those that do then fail with this reason.
  if (process.env.SLIPWAY_CLUSTER === 'off') {
    project.provide('cluster', { error: 'the local cluster was not started (SLIPWAY_CLUSTER=off)' });
    return async () => {};
  }
  try {
    cluster = await startCluster();
    project.provide('cluster', { kubeconfig: cluster.kubeconfig });
  } catch (error) {
    project.provide('cluster', { error: (error as Error).message });
  }
  return async () => {
    await cluster?.stop();
  };
}
