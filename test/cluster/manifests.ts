// Objects the tests apply to the local cluster: containers never run there, so one placeholder image.
type Labels = Record<string, string>;
const meta = (name: string, namespace?: string, annotations?: Labels) => ({ name, ...(namespace ? { namespace } : {}), ...(annotations ? { annotations } : {}) });

export function deployment(name: string, labels: Labels, options: { namespace?: string; replicas?: number } = {}): object {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, options.namespace),
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: 8080 }] }] } },
    },
  };
}

export function service(name: string, selector: Labels, namespace?: string): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: meta(name, namespace), spec: { selector, ports: [{ port: 80, targetPort: 8080 }] } };
}

/** An Ingress for shop.example routing `/` to one Service (ingress-nginx's main or canary Ingress). */
export function ingress(name: string, serviceName: string, options: { namespace?: string; annotations?: Labels } = {}): object {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: meta(name, options.namespace, options.annotations),
    spec: { ingressClassName: 'nginx', rules: [{ host: 'shop.example', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: serviceName, port: { number: 80 } } } }] } }] },
  };
}

/** A `kind: List` of objects, as `kubectl apply -f -` reads it. */
export const list = (items: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items });

/**
 * An HTTPRoute's status as a Gateway controller writes it: one parent (Gateway `gateway`), Accepted
 * and ResolvedRefs at `generation` (`resolved: false` for a backend it cannot find). The local cluster
 * runs no Gateway controller, so tests write it with `kubectl patch --subresource=status`.
 */
export function httpRouteStatus(generation: number, options: { resolved?: boolean } = {}): object {
  const condition = (type: string, ok: boolean, reason: string) => ({ type, status: ok ? 'True' : 'False', reason, message: ok ? '' : 'backend not found', observedGeneration: generation, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
  return {
    parents: [{
      parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gateway' },
      controllerName: 'example.com/gateway-controller',
      conditions: [condition('Accepted', true, 'Accepted'), condition('ResolvedRefs', options.resolved ?? true, options.resolved === false ? 'BackendNotFound' : 'ResolvedRefs')],
    }],
  };
}
