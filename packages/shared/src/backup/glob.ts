import { InputError } from '../inputs';

/** `*` and `?` globs, as pg_dump's patterns and shells use them; everything else is literal. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/**
 * Whether a collection or table is selected: by default everything; with `include`, only names
 * matching one of its patterns; never names matching `exclude`. A pattern with a dot matches the
 * qualified name (`db.coll`, `schema.table`), one without matches the bare name.
 */
export function selector(include: readonly string[], exclude: readonly string[]): (qualified: string, bare: string) => boolean {
  const compile = (patterns: readonly string[], input: string) =>
    patterns.map((p) => {
      if (!p.trim()) throw new InputError(input, p, 'glob patterns such as `orders`, `audit_*` or `shop.events_*`, one per line');
      const re = globToRegExp(p.trim());
      return (qualified: string, bare: string) => re.test(p.includes('.') ? qualified : bare);
    });
  const inc = compile(include, 'include');
  const exc = compile(exclude, 'exclude');
  return (qualified, bare) => (inc.length === 0 || inc.some((m) => m(qualified, bare))) && !exc.some((m) => m(qualified, bare));
}
