// Traffic routers shared by blue-green-switch and canary-analyze: `@slipway/shared/routing`.
import { GatewayApiRouter } from './gateway-api';
import { IngressNginxRouter } from './ingress-nginx';
import { Kubectl, type KubectlOptions } from './kubectl';
import { KubernetesServiceRouter } from './kubernetes-service';
import { NginxRouter, type NginxRouterOptions } from './nginx';
import type { Router, RouterKind } from './types';

export * from './types';
export * from './argv';
export * from './inputs';
export { NginxRouter, renderUpstream, type NginxRouterOptions } from './nginx';
export { Kubectl, ANNOTATIONS, type KubectlOptions } from './kubectl';
export { KubernetesServiceRouter } from './kubernetes-service';
export { GatewayApiRouter } from './gateway-api';
export { IngressNginxRouter } from './ingress-nginx';

export interface RouterConfig {
  kind: RouterKind;
  backends: readonly [string, string];
  nginx?: Omit<NginxRouterOptions, 'backends'>;
  kubernetes?: KubectlOptions & {
    service?: string;
    colorLabel?: string;
    route?: string;
    ingress?: string;
    /** The Service behind each backend (gateway-api, ingress-nginx). */
    services?: Record<string, string>;
  };
}

/**
 * The router for a config, and for Kubernetes routers the kubectl it uses (for scaling colours);
 * close() removes what it wrote (the kubeconfig file).
 */
export function createRouter(config: RouterConfig): { router: Router; kubectl?: Kubectl; close(): void } {
  if (config.kind === 'nginx') {
    if (!config.nginx) throw new Error('the nginx router needs its nginx settings');
    return { router: new NginxRouter({ ...config.nginx, backends: config.backends }), close: () => {} };
  }
  const k = config.kubernetes;
  if (!k) throw new Error(`the ${config.kind} router needs its Kubernetes settings`);
  const kubectl = new Kubectl(k);
  const close = () => kubectl.close();
  const services = k.services ?? {};
  switch (config.kind) {
    case 'kubernetes-service':
      return { router: new KubernetesServiceRouter(kubectl, k.service ?? '', k.colorLabel ?? 'color', config.backends), kubectl, close };
    case 'gateway-api':
      return { router: new GatewayApiRouter(kubectl, k.route ?? '', config.backends, services), kubectl, close };
    case 'ingress-nginx':
      return { router: new IngressNginxRouter(kubectl, k.ingress ?? '', config.backends, services), kubectl, close };
  }
}
export * from './probes';
export * from './scale';
