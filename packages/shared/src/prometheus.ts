// Prometheus' HTTP query API: a query's single value now, or its single series over a range. Queries
// that return several series are refused: every caller compares one number (wrap them in sum() or max()).

export interface PrometheusEndpoint {
  /** Base URL, e.g. http://prometheus:9090 (a path prefix is kept). */
  url: string;
  /** e.g. an Authorization header (a secret). */
  headers?: Record<string, string>;
}

async function api<T>(endpoint: PrometheusEndpoint, path: string, params: Record<string, string>, timeoutMs: number): Promise<T> {
  const url = new URL(path, endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await fetch(url, { headers: endpoint.headers, signal: AbortSignal.timeout(timeoutMs) });
  const json = (await response.json()) as { status: string; error?: string; data?: T };
  if (json.status !== 'success' || json.data === undefined) throw new Error(`Prometheus refused the query: ${json.error ?? response.status}`);
  return json.data;
}

const oneSeries = (count: number, query: string) => new Error(`the query returned ${count} series; it must return one (wrap it in sum() or max()): ${query}`);

/** The single number a query returns now (a scalar, or a vector of one sample); undefined when none. */
export async function queryValue(endpoint: PrometheusEndpoint, query: string, timeoutMs = 10_000): Promise<number | undefined> {
  const data = await api<{ resultType: string; result: unknown }>(endpoint, 'api/v1/query', { query }, timeoutMs);
  if (data.resultType === 'scalar') return Number((data.result as [number, string])[1]);
  const samples = data.result as { value: [number, string] }[];
  if (samples.length > 1) throw oneSeries(samples.length, query);
  return samples[0] ? Number(samples[0].value[1]) : undefined;
}

/** The values of a query's single series over [start, end] every step (NaN kept: callers drop it). */
export async function queryRange(endpoint: PrometheusEndpoint, query: string, start: Date, end: Date, stepSeconds: number, timeoutMs = 15_000): Promise<number[]> {
  const data = await api<{ result: { values: [number, string][] }[] }>(endpoint, 'api/v1/query_range', {
    query,
    start: (start.getTime() / 1000).toFixed(3),
    end: (end.getTime() / 1000).toFixed(3),
    step: String(stepSeconds),
  }, timeoutMs);
  if (data.result.length > 1) throw oneSeries(data.result.length, query);
  return (data.result[0]?.values ?? []).map(([, value]) => Number(value));
}
