import type { Kubectl } from './kubectl';

/** Where a Deployment scaled down by Slipway keeps the replicas it had, so a rollback can restore them. */
export const REPLICAS_BEFORE = 'slipway.dev/replicas-before-scale-down';

interface Deployment {
  metadata: { annotations?: Record<string, string> };
  spec: { replicas?: number };
}

/** Scales a Deployment to 0, recording the replicas it had; returns them. */
export async function scaleDown(kubectl: Kubectl, deployment: string): Promise<number> {
  const current = await kubectl.get<Deployment>('deployment', deployment);
  const replicas = current.spec.replicas ?? 1;
  if (replicas === 0) return 0;
  await kubectl.run(['annotate', '--overwrite', `deployment/${deployment}`, `${REPLICAS_BEFORE}=${replicas}`]);
  await kubectl.run(['scale', `deployment/${deployment}`, '--replicas=0']);
  return replicas;
}

/**
 * Brings back a Deployment that Slipway scaled down, and waits until it is rolled out; returns the
 * replicas, or undefined when it was not scaled down by Slipway (then it is left alone).
 */
export async function scaleBackUp(kubectl: Kubectl, deployment: string, timeoutMs: number): Promise<number | undefined> {
  const current = await kubectl.get<Deployment>('deployment', deployment);
  const before = Number(current.metadata.annotations?.[REPLICAS_BEFORE]);
  if ((current.spec.replicas ?? 1) > 0 || !(before > 0)) return undefined;
  await kubectl.run(['scale', `deployment/${deployment}`, `--replicas=${before}`]);
  await kubectl.run(['rollout', 'status', `deployment/${deployment}`, `--timeout=${Math.ceil(timeoutMs / 1000)}s`]);
  await kubectl.run(['annotate', `deployment/${deployment}`, `${REPLICAS_BEFORE}-`]);
  return before;
}
