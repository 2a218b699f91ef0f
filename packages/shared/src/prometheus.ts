// Prometheus' HTTP query API: a query's single value now, or its single series over a range. Queries
// that return several series are refused: every caller compares one number (wrap them in sum() or max()).
import { redact } from './secrets/index';

export interface PrometheusEndpoint {
  /** Base URL, e.g. http://prometheus:9090 (a path prefix is kept). */
  url: string;
  /** e.g. an Authorization header (a secret). */
  headers?: Record<string, string>;
}

/**
 * One call of the query API. Anything but its JSON success answer is an error saying what came back
 * (HTTP status, content type, Prometheus' own error), never a number: a login page, a proxy's error
 * page or a 401 is not a measurement. Bodies are not quoted (proxies echo request URLs and headers).
 */
async function api<T>(endpoint: PrometheusEndpoint, path: string, params: Record<string, string>, timeoutMs: number): Promise<T> {
  const url = new URL(path, endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const where = `Prometheus at ${url.origin}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { headers: endpoint.headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    text = await response.text();
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    throw new Error(e.name === 'TimeoutError' ? `${where} did not answer within ${timeoutMs / 1000} s` : `${where} is unreachable: ${e.cause?.code ?? e.cause?.message ?? e.message}`, { cause: error });
  }
  const http = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  // Not followed: a redirect would carry the headers (credentials) wherever it points.
  if (response.status >= 300 && response.status < 400) {
    const location = URL.parse(response.headers.get('location') ?? '', url.href);
    throw new Error(`${where} redirects (${http}) to ${location?.origin ?? 'nowhere'}: give the URL it redirects to`);
  }
  let json: { status?: string; errorType?: string; error?: string; data?: T };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new Error(`${where} answered ${http} with ${response.headers.get('content-type') || 'no content type'}, not the JSON of its query API (a proxy, login or error page?)`);
  }
  if (json?.status !== 'success' || json.data === undefined || !response.ok) {
    // Prometheus' error is quoted, a proxy's JSON may echo the request's credentials: registered ones go.
    const said = redact(`${http}${json?.errorType ? `, ${json.errorType}` : ''}): ${json?.error ?? 'no error given'}`, [], { anyCase: true });
    throw new Error(`${where} refused the query (${said}`);
  }
  return json.data;
}

const oneSeries = (count: number, query: string) => new Error(`the query returned ${count} series; it must return one (wrap it in sum() or max()): ${query}`);

/**
 * A sample value as the API writes it: a decimal string, `NaN`, `+Inf` or `-Inf`. Anything else (an
 * empty string, null, a number that is not a string) is a broken answer, not 0 as Number() reads it.
 */
function sampleValue(sample: unknown, query: string): number {
  const text = Array.isArray(sample) ? sample[1] : undefined;
  if (typeof text === 'string') {
    if (text === '+Inf' || text === 'Inf') return Infinity;
    if (text === '-Inf') return -Infinity;
    if (text === 'NaN' || /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  }
  const held = text === undefined ? 'no sample' : `${JSON.stringify(text)?.slice(0, 40)}`;
  throw new Error(`the query's answer holds ${held} where a sample value (a number written as text) belongs, so it is not a measurement: ${query}`);
}

/** The single number a query returns now (a scalar, or a vector of one sample); undefined when none. */
export async function queryValue(endpoint: PrometheusEndpoint, query: string, timeoutMs = 10_000): Promise<number | undefined> {
  const data = await api<{ resultType?: unknown; result?: unknown }>(endpoint, 'api/v1/query', { query }, timeoutMs);
  if (data?.resultType === 'scalar') return sampleValue(data.result, query);
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new Error(`the query returned ${typeof data?.resultType === 'string' ? `a ${data.resultType.slice(0, 20)}` : 'no result type'}, not one number (an instant vector or a scalar): ${query}`);
  }
  const samples = data.result as { value?: unknown }[];
  if (samples.length > 1) throw oneSeries(samples.length, query);
  return samples[0] ? sampleValue(samples[0].value, query) : undefined;
}

/** The values of a query's single series over [start, end] every step (NaN kept: callers drop it). */
export async function queryRange(endpoint: PrometheusEndpoint, query: string, start: Date, end: Date, stepSeconds: number, timeoutMs = 15_000): Promise<number[]> {
  const data = await api<{ resultType?: unknown; result?: unknown }>(endpoint, 'api/v1/query_range', {
    query,
    start: (start.getTime() / 1000).toFixed(3),
    end: (end.getTime() / 1000).toFixed(3),
    step: String(stepSeconds),
  }, timeoutMs);
  if (data?.resultType !== 'matrix' || !Array.isArray(data.result)) {
    throw new Error(`the range query returned ${typeof data?.resultType === 'string' ? `a ${data.resultType.slice(0, 20)}` : 'no result type'}, not a series over time (a range query of a scalar or string?): ${query}`);
  }
  const series = data.result as { values?: unknown }[];
  if (series.length > 1) throw oneSeries(series.length, query);
  const values = series[0]?.values ?? [];
  if (!Array.isArray(values)) throw new Error(`the range query's series has no values: ${query}`);
  return values.map((sample) => sampleValue(sample, query));
}
