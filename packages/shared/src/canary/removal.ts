// Taking the canary release away once stable serves everything: `helm uninstall`, or its Deployments
// scaled to 0 (kept for a quick roll forward, and scaled back by their recorded replicas). Both are
// idempotent, so a rerun after a partial removal finishes it.
import { Helm, HelmNotInstalled } from '../helm/helm';
import { KubeconfigFile } from '../kubeconfig';
import { Kubectl } from '../routing/kubectl';
import { scaleDown } from '../routing/scale';

export type CanaryRemoval = 'uninstall' | 'scale-to-zero' | 'keep';

export interface RemovalTarget {
  release: string;
  namespace: string;
  kubeconfig?: string;
  context?: string;
  /** Helm's --timeout, e.g. `300s`. */
  timeout: string;
}

/** Removes the canary release as asked; says what it did. */
export async function removeCanary(how: CanaryRemoval, target: RemovalTarget | undefined): Promise<string> {
  if (how === 'keep') return `the canary release${target ? ` ${target.release}` : ''} is kept, as asked`;
  if (!target) throw new Error('no canary release was named to remove');
  const file = new KubeconfigFile(target.kubeconfig);
  try {
    if (how === 'uninstall') {
      const helm = await Helm.open('helm', { kubeconfigPath: file.path, context: target.context, namespace: target.namespace }, target.kubeconfig ? [target.kubeconfig] : []).catch((error: unknown) => {
        throw error instanceof HelmNotInstalled ? new Error(`cannot uninstall the canary: ${error.message}, or scale the canary to 0 instead`, { cause: error }) : error;
      });
      if ((await helm.history(target.release)).length === 0) return `the canary release ${target.release} is not installed in ${target.namespace}: nothing to remove`;
      await helm.uninstall(target.release, target.timeout);
      return `the canary release ${target.release} was uninstalled`;
    }
    const kubectl = new Kubectl({ kubeconfigFile: file, context: target.context, namespace: target.namespace });
    const deployments = await kubectl.list<{ metadata: { name: string } }>('deployment', `app.kubernetes.io/instance=${target.release}`);
    if (deployments.length === 0) throw new Error(`no Deployment of the canary release ${target.release} (label app.kubernetes.io/instance=${target.release}) in ${target.namespace} to scale to 0`);
    const scaled = [];
    for (const d of deployments) scaled.push(`${d.metadata.name} (${await scaleDown(kubectl, d.metadata.name)} replicas before)`);
    return `the canary release ${target.release} was scaled to 0: ${scaled.join(', ')}`;
  } finally {
    file.remove();
  }
}
