// The router inputs blue-green-switch and canary-analyze share. Per-backend inputs are named after the
// action's backends (`nginx-upstream-blue`, `backend-canary`), so each action documents its own names;
// routerInputNames() lists them for the contract test.
import { InputError, getList, getString } from '../inputs';
import { splitCommandLine } from './argv';
import type { RouterConfig } from './index';
import type { RouterKind } from './types';

export interface RouterInputSpec {
  /** The action's two backends, in order: blue, green or stable, canary. */
  backends: readonly [string, string];
  /** The routers the action accepts. */
  kinds: readonly RouterKind[];
  /** What one backend is called in messages: `colour`, `version`. */
  noun: string;
}

const NGINX = ['nginx-config-path', 'nginx-upstream-name', 'nginx-reload-command', 'nginx-test-command'];
const KUBERNETES = ['kubeconfig', 'kube-context', 'namespace'];

/** Every input the reader may read for this spec. */
export function routerInputNames(spec: RouterInputSpec): string[] {
  const names: string[] = [];
  const has = (kind: RouterKind) => spec.kinds.includes(kind);
  if (has('nginx')) names.push(...NGINX, ...spec.backends.map((b) => `nginx-upstream-${b}`));
  if (spec.kinds.some((k) => k !== 'nginx')) names.push(...KUBERNETES);
  if (has('kubernetes-service')) names.push('service', 'color-label');
  if (has('gateway-api') || has('ingress-nginx')) names.push(...spec.backends.map((b) => `backend-${b}`));
  if (has('gateway-api')) names.push('route');
  if (has('ingress-nginx')) names.push('ingress');
  return names;
}

/**
 * `host:port`, `[v6]:port` or `unix:/path`, as nginx's `server` takes them. A path holds none of the
 * characters nginx's parser gives a meaning (`;` `{` `}` `#` quotes, `\`): `unix:/a.sock;#` would end
 * the directive and comment out the `down` or `weight` written after it.
 */
const SERVER = /^(unix:\/[^\s;{}#'"\\]+|\[[0-9a-fA-F:.]+\]:\d{1,5}|[A-Za-z0-9.-]+:\d{1,5})$/;

function servers(name: string, list: string[], what: string): string[] {
  if (list.length === 0) throw new InputError(name, '', `the upstream servers of ${what}, \`host:port\` (one per line or comma-separated)`);
  for (const s of list) if (!SERVER.test(s)) throw new InputError(name, s, '`host:port`, `[::1]:port` or `unix:/path` (a path without spaces, `;`, `{`, `}`, `#`, quotes or `\\`)');
  return list;
}

/** A path the system can create (PATH_MAX, NAME_MAX) and nginx can include: no control characters. */
function configPath(path: string): string {
  if (Buffer.byteLength(path) > 4095 || path.split('/').some((name) => Buffer.byteLength(name) > 255) || [...path].some((c) => c < ' ')) {
    throw new InputError('nginx-config-path', path, 'a file path of at most 4,095 bytes, each name at most 255, without control characters');
  }
  return path;
}

/** Reads and checks the inputs of one router kind (which the action has already checked is in spec.kinds). */
export function readRouterInputs(spec: RouterInputSpec, kind: RouterKind): RouterConfig {
  const { backends, noun } = spec;
  const what = (b: string) => `the ${b} ${noun}`;
  if (kind === 'nginx') {
    const upstream = getString('nginx-upstream-name') || 'slipway_backend';
    if (!/^[A-Za-z0-9_.-]+$/.test(upstream)) throw new InputError('nginx-upstream-name', upstream, 'an nginx upstream name (letters, digits, `_`, `.`, `-`)');
    return {
      kind,
      backends,
      nginx: {
        configPath: configPath(getString('nginx-config-path', { required: 'the file Slipway owns with the upstream, included by your nginx config inside `http { }`' })),
        upstream,
        servers: Object.fromEntries(backends.map((b) => [b, servers(`nginx-upstream-${b}`, getList(`nginx-upstream-${b}`), what(b))])),
        testCommand: splitCommandLine('nginx-test-command', getString('nginx-test-command') || 'nginx -t'),
        reloadCommand: splitCommandLine('nginx-reload-command', getString('nginx-reload-command') || 'nginx -s reload'),
      },
    };
  }
  const kubernetes: NonNullable<RouterConfig['kubernetes']> = {
    kubeconfig: getString('kubeconfig', { secret: true }),
    context: getString('kube-context'),
    namespace: getString('namespace') || 'default',
  };
  if (kind === 'kubernetes-service') {
    kubernetes.service = getString('service', { required: `the Service whose selector picks the live ${noun}` });
    kubernetes.colorLabel = getString('color-label') || 'color';
  } else {
    kubernetes.services = Object.fromEntries(backends.map((b) => [b, getString(`backend-${b}`, { required: `the Service of ${what(b)}` })]));
    if (kind === 'gateway-api') kubernetes.route = getString('route', { required: `the HTTPRoute whose rules route to ${backends.map((b) => `backend-${b}`).join(' and ')}` });
    else kubernetes.ingress = getString('ingress', { required: "ingress-nginx's canary Ingress (annotated `nginx.ingress.kubernetes.io/canary: \"true\"`)" });
  }
  return { kind, backends, kubernetes };
}
