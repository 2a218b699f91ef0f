import { describe, expect, it } from 'vitest';
import { parseMetrics } from '../src/canary/metric-spec';
import { builtinMetrics, DEFAULT_METRIC_NAMES } from '../src/canary/metrics';

const parse = (text: string) => parseMetrics('metrics', text, DEFAULT_METRIC_NAMES);
const B = builtinMetrics();

describe('the metrics input', () => {
  it('takes built-in names, comma- or newline-separated, and every built-in when empty', async () => {
    expect((await parse('error-rate, p95-latency')).map((m) => m.name)).toEqual(['error-rate', 'p95-latency']);
    expect((await parse('error-rate\nmemory')).map((m) => m.name)).toEqual(['error-rate', 'memory']);
    expect((await parse('')).map((m) => m.name)).toEqual(['error-rate', 'p95-latency', 'cpu', 'memory']);
    expect(await parse('error-rate')).toEqual([B['error-rate']]);
  });

  it('takes custom metrics and built-ins changed by name, in a YAML list', async () => {
    const metrics = await parse(['- error-rate', '- name: memory', '  weight: 2', '- name: queue-depth', '  query: max(queue_depth{ {{ selector }} })', '  direction: either', '  threshold: 100', '  critical: true', '  allowed-increase: 1.1'].join('\n'));
    expect(metrics[1]).toEqual({ ...B.memory, weight: 2 });
    expect(metrics[2]).toEqual({ name: 'queue-depth', query: 'max(queue_depth{ {{ selector }} })', direction: 'either', weight: 1, critical: true, threshold: 100, rule: undefined, effect: { allowedIncrease: 1.1, allowedDecrease: 1 } });
  });

  it('drops the seed rule when a built-in gets its own query', async () => {
    const [errors] = await parse('- name: error-rate\n  query: sum(rate(errors_total{ {{ selector }} }[1m]))');
    expect(errors).toMatchObject({ name: 'error-rate', rule: undefined, critical: true });
  });

  it('uses the configured metric and label names in the built-ins', async () => {
    const [errors] = await parseMetrics('metrics', 'error-rate', { requests: 'http_server_requests_seconds_count', duration: 'x', statusLabel: 'code' });
    expect(errors?.query).toContain('http_server_requests_seconds_count{{{ selector }},code=~"5.."}');
  });

  it('refuses what it cannot use, naming the input and the metric', async () => {
    await expect(parse('error-rate, latency')).rejects.toThrow(/^Input 'metrics' is invalid: got "latency"; expected a built-in metric/);
    await expect(parse('- name: q\n  query: max(queue_depth)')).rejects.toThrow(/metric q: a `query` with `\{\{ selector \}\}`/);
    await expect(parse('- name: q\n  query: max(x{ {{ selector }} })\n  treshold: 3')).rejects.toThrow(/only the keys .* \(unknown: treshold\)/);
    await expect(parse('- name: q\n  query: max(x{ {{ selector }} })\n  direction: up')).rejects.toThrow(/got "up"; expected metric q: `direction` one of increase, decrease, either/);
    await expect(parse('- name: q\n  query: max(x{ {{ selector }} })\n  weight: -1')).rejects.toThrow(/got "-1"; expected metric q: `weight` a number of 0 or more/);
    await expect(parse('- name: q\n  query: max(x{ {{ selector }} })\n  allowed-increase: 0.9')).rejects.toThrow(/`allowed-increase` a ratio of at least 1/);
    await expect(parse('error-rate, error-rate')).rejects.toThrow(/got "error-rate"; expected each metric once/);
    await expect(parse('- [unclosed')).rejects.toThrow(/^Input 'metrics' is invalid: .*expected a list of metric names or YAML entries/);
  });
});
