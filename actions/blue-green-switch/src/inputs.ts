import { InputError, checkEndpoint, contextVars, getBoolean, getContext, getDuration, getEnum, getInteger, getNumber, getString, renderTemplate, type Endpoint } from '@slipway/shared';
import * as routing from '@slipway/shared/routing';

export const COLORS = ['blue', 'green'] as const;
export type Color = (typeof COLORS)[number];
export const other = (color: Color): Color => (color === 'blue' ? 'green' : 'blue');

export interface BlueGreenConfig {
  action: 'switch' | 'rollback' | 'status';
  target?: Color;
  router: routing.RouterConfig;
  health?: routing.HealthGate;
  watch?: routing.WatchSpec;
  /** Before the watch: answers from watch-url that must identify the new colour (`{{ color }}` in body). */
  confirm?: { header?: string; body?: string; answers: number };
  /** How long the router (and the answers) may take to confirm that the new colour serves. */
  confirmTimeoutMs: number;
  autoRollback: boolean;
  /** Kubernetes: each colour's Deployment, scaled back up before traffic goes to it if Slipway scaled it down. */
  deployments?: Record<Color, string>;
  /** Kubernetes: scale the old colour's Deployment to 0 this long after a passed watch. */
  scaleDownDelayMs?: number;
  summary: boolean;
}

/** The routers and router inputs of this action (`nginx-upstream-blue`, `backend-green`, …). */
export const ROUTER_INPUTS: routing.RouterInputSpec = { backends: COLORS, kinds: routing.ROUTER_KINDS, noun: 'colour' };

const probeTimeout = (interval: number) => Math.max(1000, Math.min(10_000, interval));

/** A URL's `user:password@` travels as an Authorization header (registered as secrets, never in the URL). */
export const probed = (endpoint: Endpoint) => ({ url: endpoint.url.toString(), headers: endpoint.headers });

/** Reads and checks every input before anything is changed. */
export function readInputs(): BlueGreenConfig {
  if (!getString('router')) throw new InputError('router', '', `one of ${routing.ROUTER_KINDS.map((k) => `\`${k}\``).join(', ')}`);
  const kind = getEnum('router', routing.ROUTER_KINDS, 'nginx');
  const action = getEnum('action', ['switch', 'rollback', 'status'] as const, 'switch');
  const target = getString('target') ? getEnum('target', COLORS, 'green') : undefined;
  const router = routing.readRouterInputs(ROUTER_INPUTS, kind);

  const expectStatus = getInteger('health-expect-status', 200, { min: 100, max: 599 });
  let health: routing.HealthGate | undefined;
  const healthUrl = getString('health-url');
  if (healthUrl) {
    // Checked for both colours now: a bad URL would otherwise be found only after health-timeout.
    for (const color of COLORS) checkEndpoint('health-url', renderTemplate(healthUrl, contextVars(getContext(), { color }), 'health-url'), { allowInsecure: true });
    const intervalMs = getDuration('health-interval', '5s');
    health = {
      url: healthUrl,
      expectStatus,
      expectBody: getString('health-expect-body') || undefined,
      successes: getInteger('health-successes', 3, { min: 1, max: 100 }),
      intervalMs,
      deadlineMs: getDuration('health-timeout', '2m'),
      timeoutMs: probeTimeout(intervalMs),
    };
  }

  let watch: routing.WatchSpec | undefined;
  const watchUrl = getString('watch-url');
  const prometheusUrl = getString('prometheus-url');
  const watchQuery = getString('watch-query');
  if (prometheusUrl && !watchQuery) throw new InputError('watch-query', '', 'a PromQL query returning one error rate (0–1), since prometheus-url is set');
  if (watchQuery && !prometheusUrl) throw new InputError('prometheus-url', '', 'the Prometheus base URL, since watch-query is set');
  if (watchUrl || prometheusUrl) {
    const intervalMs = getDuration('watch-interval', '10s');
    const maxErrorRate = getNumber('watch-max-error-rate', 0.01, { min: 0, below: 1, expected: 'a fraction from 0 to below 1, e.g. `0.01` for 1 %' });
    watch = {
      durationMs: getDuration('watch-duration', '5m'),
      intervalMs,
      maxErrorRate,
      consecutiveErrorLimit: getInteger('consecutive-error-limit', 4, { min: 0, max: 1000 }),
      url: watchUrl ? { ...probed(checkEndpoint('watch-url', watchUrl, { allowInsecure: true })), expectStatus, timeoutMs: probeTimeout(intervalMs) } : undefined,
      prometheus: prometheusUrl ? { ...probed(checkEndpoint('prometheus-url', prometheusUrl, { allowInsecure: true })), query: watchQuery } : undefined,
    };
  }
  const confirmTimeoutMs = getDuration('confirm-timeout', '1m');
  let confirm: BlueGreenConfig['confirm'];
  const header = getString('confirm-header');
  const body = getString('confirm-body');
  if (header && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(header)) throw new InputError('confirm-header', header, 'an HTTP header name, e.g. `X-Color`');
  if (body) {
    // The same text for both colours would confirm at once, on answers from the old colour.
    const [forBlue = '', forGreen = ''] = COLORS.map((color) => renderTemplate(body, contextVars(getContext(), { color }), 'confirm-body'));
    if (forBlue.includes(forGreen) || forGreen.includes(forBlue)) {
      throw new InputError('confirm-body', body, 'text that differs between the colours, with `{{ color }}` (e.g. `"color":"{{ color }}"`), so that only the new colour\'s answers contain it');
    }
  }
  if (header || body) {
    if (!watchUrl) throw new InputError('watch-url', '', `the URL whose answers ${header ? 'confirm-header' : 'confirm-body'} checks, since it is set`);
    confirm = { header: header || undefined, body: body || undefined, answers: getInteger('confirm-answers', 3, { min: 1, max: 1000 }) };
  }
  const named = { blue: getString('deployment-blue'), green: getString('deployment-green') };
  const deployments = named.blue || named.green ? named : undefined;
  if (deployments && kind === 'nginx') throw new InputError(named.blue ? 'deployment-blue' : 'deployment-green', named.blue || named.green, 'empty with the nginx router: Deployments are scaled with the Kubernetes routers only');
  for (const color of COLORS) if (deployments && !deployments[color]) throw new InputError(`deployment-${color}`, '', `the Deployment of the ${color} colour, since deployment-${other(color)} is set`);
  let scaleDownDelayMs: number | undefined;
  if (getString('scale-down-delay')) {
    scaleDownDelayMs = getDuration('scale-down-delay', '0s', { allowZero: true });
    if (!deployments) throw new InputError('deployment-blue', '', 'the Deployments of both colours (deployment-blue, deployment-green, Kubernetes routers), since scale-down-delay is set');
  }
  return { action, target, router, health, watch, confirm, confirmTimeoutMs, autoRollback: getBoolean('auto-rollback', true), deployments, scaleDownDelayMs, summary: getBoolean('summary', true) };
}
