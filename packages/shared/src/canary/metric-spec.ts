// The `metrics` input of canary-analyze: built-in names, and custom metrics as YAML entries.
//   metrics: error-rate, p95-latency
//   metrics: |
//     - error-rate
//     - name: cpu                      # a built-in with its weight changed
//       weight: 0.5
//     - name: queue-depth              # a custom metric
//       query: max(queue_depth{ {{ selector }} })
//       direction: increase
//       threshold: 100
import { InputError } from '../inputs';
import type { Direction } from './judge';
import { BUILTIN_METRICS, builtinMetrics, type BuiltinMetric, type MetricDefinition, type MetricNames } from './metrics';

const DIRECTIONS: readonly Direction[] = ['increase', 'decrease', 'either'];
const KEYS = ['name', 'query', 'direction', 'threshold', 'weight', 'critical', 'allowed-increase', 'allowed-decrease'];
const NAME = /^[a-z0-9][a-z0-9_.-]*$/i;

const isBuiltin = (name: string): name is BuiltinMetric => (BUILTIN_METRICS as readonly string[]).includes(name);

function entry(input: string, raw: unknown, builtins: Record<BuiltinMetric, MetricDefinition>): MetricDefinition {
  const bad = (expected: string, value: unknown = raw) => new InputError(input, typeof value === 'string' ? value : JSON.stringify(value), expected);
  if (typeof raw === 'string') {
    if (!isBuiltin(raw)) throw bad(`a built-in metric (${BUILTIN_METRICS.join(', ')}) or a mapping with \`name\` and \`query\``);
    return builtins[raw];
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('a metric name or a mapping such as `{name: queue-depth, query: "max(queue_depth{ {{ selector }} })"}`');
  const spec = raw as Record<string, unknown>;
  const unknown = Object.keys(spec).filter((k) => !KEYS.includes(k));
  if (unknown.length) throw bad(`only the keys ${KEYS.join(', ')} (unknown: ${unknown.join(', ')})`);
  const name = spec.name;
  if (typeof name !== 'string' || !NAME.test(name)) throw bad('a `name` made of letters, digits, `-`, `_` or `.`');
  const base: MetricDefinition | undefined = isBuiltin(name) ? builtins[name] : undefined;
  const query = spec.query ?? base?.query;
  if (typeof query !== 'string' || !/\{\{\s*selector\s*\}\}/.test(query)) throw bad(`metric ${name}: a \`query\` with \`{{ selector }}\` where the canary's or stable's label matchers go`);
  const number = (key: string, check: (n: number) => boolean, expected: string): number | undefined => {
    const value = spec[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !check(value)) throw bad(`metric ${name}: \`${key}\` ${expected}`, value);
    return value;
  };
  const direction = spec.direction ?? base?.direction ?? 'increase';
  if (!DIRECTIONS.includes(direction as Direction)) throw bad(`metric ${name}: \`direction\` one of ${DIRECTIONS.join(', ')}`, direction);
  const critical = spec.critical ?? base?.critical ?? false;
  if (typeof critical !== 'boolean') throw bad(`metric ${name}: \`critical\` true or false`, critical);
  const allowedIncrease = number('allowed-increase', (n) => n >= 1, 'a ratio of at least 1, e.g. 1.1 to let the canary be up to 10 % higher');
  const allowedDecrease = number('allowed-decrease', (n) => n > 0 && n <= 1, 'a ratio above 0 and at most 1, e.g. 0.9');
  const effect = allowedIncrease !== undefined || allowedDecrease !== undefined
    ? { allowedIncrease: allowedIncrease ?? base?.effect?.allowedIncrease ?? 1, allowedDecrease: allowedDecrease ?? base?.effect?.allowedDecrease ?? 1 }
    : base?.effect;
  return {
    name,
    query,
    direction: direction as Direction,
    weight: number('weight', (n) => Number.isFinite(n) && n >= 0, 'a number of 0 or more') ?? base?.weight ?? 1,
    critical,
    threshold: number('threshold', Number.isFinite, 'a number') ?? base?.threshold,
    // A custom query under a built-in's name is no longer what the seed's rules were written for.
    rule: spec.query === undefined ? base?.rule : undefined,
    effect,
  };
}

/** The metrics an input names; empty text gives every built-in. */
export async function parseMetrics(input: string, text: string, names: MetricNames): Promise<MetricDefinition[]> {
  const builtins = builtinMetrics(names);
  let parsed: unknown = null;
  if (text.trim()) {
    try {
      const { parse } = await import('yaml');
      parsed = parse(text);
    } catch (error) {
      throw new InputError(input, text, `a list of metric names or YAML entries (${(error as Error).message.split('\n')[0]})`);
    }
  }
  const items: unknown[] = parsed === null ? [...BUILTIN_METRICS] : typeof parsed === 'string' ? parsed.split(/[\s,]+/).filter(Boolean) : Array.isArray(parsed) ? parsed : [parsed];
  const metrics = items.map((item) => entry(input, item, builtins));
  const seen = new Set<string>();
  for (const m of metrics) {
    if (seen.has(m.name)) throw new InputError(input, m.name, 'each metric once');
    seen.add(m.name);
  }
  if (metrics.length === 0) throw new InputError(input, text, 'at least one metric');
  return metrics;
}
