import { InputError, checkEndpoint, getBoolean, getDuration, getEndpoint, getEnum, getInteger, getKeyValues, getNumber, getString, formatDuration, type Endpoint, type PrometheusEndpoint } from '@slipway/shared';
import * as canary from '@slipway/shared/canary';
import { isReleaseName } from '@slipway/shared/helm';
import * as routing from '@slipway/shared/routing';

/** The routers and router inputs of this action (`nginx-upstream-stable`, `backend-canary`, …). */
export const ROUTER_INPUTS: routing.RouterInputSpec = { backends: ['stable', 'canary'], kinds: ['nginx', 'gateway-api', 'ingress-nginx'], noun: 'version' };

export interface FinishConfig {
  /** The analysis step's verdict: promote finishes the release, anything else verifies stable. */
  verdict: canary.Verdict;
  verification: canary.StableVerification;
  removal: canary.CanaryRemoval;
  /** The canary's Helm release, in `namespace`, with the kubeconfig inputs. */
  target?: canary.RemovalTarget;
  /** After a rollback: the incident issue to open, once per run. */
  incident?: { token: string; label: string; results: canary.AnalysisResults };
}

export interface CanaryConfig {
  mode: 'analyze' | 'progressive' | 'finish';
  finish?: FinishConfig;
  prometheus: PrometheusEndpoint;
  /** Undefined with `router: none` and in `analyze` mode. */
  router?: routing.RouterConfig;
  analysis: canary.AnalysisConfig;
  progression: canary.ProgressionConfig;
  pushgateway?: Endpoint;
  summary: boolean;
}

/** Label matchers as PromQL writes them inside `{}`: `name="value"` with =, !=, =~ or !~, comma-separated. */
const MATCHERS = /^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"(\s*,\s*[A-Za-z_][A-Za-z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*")*\s*,?\s*$/;

function checkSelector(name: string, value: string): string {
  if (!MATCHERS.test(value)) throw new InputError(name, value, 'PromQL label matchers without braces, e.g. `version="canary"` or `app="shop",track=~"canary|preview"`');
  return value.trim().replace(/,$/, '');
}

/** A Prometheus range like `90s` or `1m30s`, from a duration in ms. */
const promDuration = (ms: number) => `${Math.max(1, Math.round(ms / 1000))}s`;

function steps(): number[] {
  const text = getString('steps') || '10,25,50,100';
  const expected = 'increasing whole percents from 1 to 100, comma-separated, e.g. `10,25,50,100`';
  const values = text.split(',').map((s) => s.trim());
  const numbers = values.map((v) => (/^\d{1,3}$/.test(v) ? Number(v) : Number.NaN));
  if (numbers.some((n, i) => !(n >= 1 && n <= 100) || (i > 0 && n <= (numbers[i - 1] as number)))) throw new InputError('steps', text, expected);
  return numbers;
}

/** `user:password@` in prometheus-url as Basic auth; prometheus-headers (registered as secrets) over it. */
function prometheusEndpoint(): PrometheusEndpoint {
  const url = getString('prometheus-url', { required: 'the Prometheus base URL, e.g. `http://prometheus:9090`' });
  const endpoint = checkEndpoint('prometheus-url', url, { allowInsecure: true });
  const headers = { ...endpoint.headers, ...Object.fromEntries(getKeyValues('prometheus-headers', { secret: true })) };
  return { url: endpoint.url.toString(), headers: Object.keys(headers).length ? headers : undefined };
}

/** Reads and checks every input before anything is changed. */
export async function readInputs(): Promise<CanaryConfig> {
  const prometheus = prometheusEndpoint();
  const mode = getEnum('mode', ['progressive', 'analyze', 'finish'] as const, 'progressive');
  const routerName = getString('router');
  let router: routing.RouterConfig | undefined;
  const verdict = mode === 'finish' ? getEnum('verdict', ['promote', 'rollback', 'inconclusive'] as const, 'inconclusive') : undefined;
  if (mode === 'finish' && !getString('verdict')) throw new InputError('verdict', '', "the analysis step's verdict in `finish` mode, e.g. `${{ steps.analyze.outputs.verdict }}`");
  if (mode === 'analyze' || (mode === 'finish' && verdict !== 'promote')) {
    if (mode === 'analyze' && routerName && routerName !== 'none') throw new InputError('router', routerName, 'empty or `none` in `analyze` mode, which leaves traffic as it is (use `mode: progressive` to shift it)');
  } else {
    // Finishing a promotion moves the traffic itself: weights set elsewhere cannot be moved back here.
    const kinds = mode === 'finish' ? ROUTER_INPUTS.kinds : ([...ROUTER_INPUTS.kinds, 'none'] as const);
    if (!routerName) throw new InputError('router', '', `one of ${kinds.map((k) => `\`${k}\``).join(', ')} in \`${mode}\` mode${mode === 'finish' ? ', which moves the traffic back to stable' : ' (`none` when the weights are set elsewhere)'}`);
    const kind = getEnum('router', kinds as readonly (routing.RouterKind | 'none')[], 'none');
    if (kind !== 'none') router = routing.readRouterInputs(ROUTER_INPUTS, kind);
  }

  const intervalMs = getDuration('interval', '1m');
  if (intervalMs < 1000) throw new InputError('interval', getString('interval'), 'at least `1s`');
  const stepDurationMs = getDuration('step-duration', '5m');
  if (stepDurationMs < intervalMs) throw new InputError('step-duration', getString('step-duration') || '5m', `at least the interval (${formatDuration(intervalMs)})`);
  const windowMs = getString('query-window') ? getDuration('query-window', '1m') : intervalMs;
  if (windowMs < 1000) throw new InputError('query-window', getString('query-window'), 'at least `1s`, and a few scrape intervals long');
  const deadlineMs = getString('deadline') ? getDuration('deadline', '0s') : undefined;

  const names = { requests: getString('requests-metric') || 'http_requests_total', duration: getString('duration-metric') || 'http_request_duration_seconds', statusLabel: getString('status-label') || 'status' };
  for (const [input, value] of [['requests-metric', names.requests], ['duration-metric', names.duration], ['status-label', names.statusLabel]] as const) {
    if (!/^[A-Za-z_:][A-Za-z0-9_:]*$/.test(value)) throw new InputError(input, value, 'a Prometheus metric or label name (letters, digits, `_`, `:`)');
  }
  const metrics = await canary.parseMetrics('metrics', getString('metrics') || 'error-rate, p95-latency, cpu, memory', names);

  const passScore = getNumber('pass-score', 95, { min: 0, max: 100, expected: 'a score from 0 to 100' });
  const marginalScore = getNumber('marginal-score', 75, { min: 0, max: passScore, expected: `a score from 0 to pass-score (${passScore})` });
  const judge = getEnum('judge', ['both', 'thresholds', 'mann-whitney'] as const, 'both');
  const onNoData = getEnum('on-no-data', ['inconclusive', 'fail', 'pass'] as const, 'inconclusive');
  const consecutiveErrorLimit = getInteger('consecutive-error-limit', 4, { min: 0, max: 1000 });
  const analysis: canary.AnalysisConfig = {
    metrics,
    canarySelector: checkSelector('canary-selector', getString('canary-selector') || 'version="canary"'),
    stableSelector: checkSelector('stable-selector', getString('stable-selector') || 'version="stable"'),
    window: promDuration(windowMs),
    judge,
    rules: {
      maxErrorRate: getNumber('max-error-rate', 0.05, { min: 0, max: 1, expected: 'a fraction from 0 to 1, e.g. `0.05` for 5 %' }),
      maxP95LatencySeconds: getDuration('max-p95-latency', '2s') / 1000,
      maxErrorRateIncrease: getNumber('max-error-rate-increase', 0.03, { min: 0, max: 1, expected: 'a fraction from 0 to 1, e.g. `0.03` for 3 points' }),
      maxLatencyRatio: getNumber('max-latency-ratio', 1.5, { min: 1, max: 1000, expected: 'a ratio of at least 1, e.g. `1.5`' }),
    },
    confidence: getNumber('confidence', 0.98, { min: 0.5, below: 1, expected: 'a confidence from 0.5 to below 1, e.g. `0.98`' }),
    passScore,
    marginalScore,
    limits: {
      failureLimit: getInteger('failure-limit', 0, { min: 0, max: 1000 }),
      inconclusiveLimit: getInteger('inconclusive-limit', 0, { min: 0, max: 1000 }),
      consecutiveErrorLimit,
    },
    minRequests: getInteger('min-requests', 20, { min: 0, max: 1_000_000_000 }),
    requestsQuery: canary.requestCountQuery(names),
    onNoData,
  };
  const pushgateway = getEndpoint('metrics-pushgateway-url', { allowInsecure: true });
  return {
    mode,
    finish: verdict ? finishInputs(verdict, prometheus, analysis, { intervalMs, windowMs, consecutiveErrorLimit, names }) : undefined,
    prometheus,
    router,
    analysis,
    progression: { steps: mode === 'analyze' ? [] : steps(), stepDurationMs, intervalMs, deadlineMs, windowMs, judge, onNoData, consecutiveErrorLimit },
    pushgateway,
    summary: getBoolean('summary', true),
  };
}

/** The `finish` mode's inputs: stable's health URL and verification, the canary's removal, the incident issue. */
function finishInputs(verdict: canary.Verdict, prometheus: PrometheusEndpoint, analysis: canary.AnalysisConfig, o: { intervalMs: number; windowMs: number; consecutiveErrorLimit: number; names: canary.MetricNames }): FinishConfig {
  const health = checkEndpoint('stable-health-url', getString('stable-health-url', { required: "stable's health URL, which must answer 200 before and after it gets the traffic back" }), { allowInsecure: true });
  const durationMs = getDuration('verify-duration', '1m');
  if (durationMs < o.intervalMs) throw new InputError('verify-duration', getString('verify-duration') || '1m', `at least the interval (${formatDuration(o.intervalMs)})`);
  const errorRate = canary.builtinMetrics(o.names)['error-rate'];
  const verification: canary.StableVerification = {
    health: { url: health.url.toString(), headers: health.headers, expectStatus: 200, timeoutMs: 5000 },
    durationMs,
    intervalMs: o.intervalMs,
    maxErrorRate: analysis.rules.maxErrorRate,
    prometheus: { ...prometheus, query: canary.renderQuery(errorRate, analysis.stableSelector, promDuration(o.windowMs)) },
    consecutiveErrorLimit: o.consecutiveErrorLimit,
  };
  const removal = getEnum('canary-removal', ['uninstall', 'scale-to-zero', 'keep'] as const, 'uninstall');
  const release = getString('canary-release');
  if (release && !isReleaseName(release)) throw new InputError('canary-release', release, 'a Helm release name of lowercase letters, digits and `-`, at most 53 characters');
  if (verdict === 'promote' && removal !== 'keep' && !release) throw new InputError('canary-release', '', `the canary's Helm release, which is removed once stable serves everything (canary-removal: ${removal}); or canary-removal: keep`);
  const target = release ? { release, namespace: getString('namespace') || 'default', kubeconfig: getString('kubeconfig', { secret: true }) || undefined, context: getString('kube-context') || undefined, timeout: '300s' } : undefined;
  let incident: FinishConfig['incident'];
  if (getBoolean('incident-issue', false) && verdict !== 'promote') {
    const token = getString('github-token', { secret: true, required: 'a token with `issues: write` (e.g. `${{ github.token }}`), since incident-issue is true' });
    const label = getString('incident-label') || 'slipway-incident';
    if (label.length > 50 || /[,\r\n]/.test(label)) throw new InputError('incident-label', label, 'one GitHub label name of at most 50 characters, without commas or newlines');
    const text = getString('analysis-results');
    let json: unknown = {};
    if (text) {
      try {
        json = JSON.parse(text);
      } catch {
        throw new InputError('analysis-results', text.slice(0, 40), "the analysis step's `results` output, JSON (e.g. `steps.analyze.outputs.results`)");
      }
    }
    const results = canary.readResults(json);
    incident = { token, label, results };
  }
  return { verdict, verification, removal, target, incident };
}
