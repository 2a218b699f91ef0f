import type { RunContext } from './context';
import { InputError } from './inputs';

export type TemplateVars = Record<string, string>;

/** The variables every template can use: `{{ repo }}`, `{{ sha }}`, … and `{{ env.NAME }}`. */
export function contextVars(context: RunContext, extra: TemplateVars = {}): TemplateVars {
  return {
    repo: context.repo,
    sha: context.sha,
    short_sha: context.shortSha,
    ref: context.ref,
    ref_name: context.refName,
    actor: context.actor,
    workflow: context.workflow,
    job: context.job,
    run_id: context.runId,
    run_url: context.runUrl,
    ...extra,
  };
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;

/**
 * Replaces `{{ name }}` placeholders. An unknown name is an error naming the input, since a typo would
 * otherwise reach every channel unnoticed; an unset `env.NAME` is empty, as in a shell.
 */
export function renderTemplate(text: string, vars: TemplateVars, input: string, env: NodeJS.ProcessEnv = process.env): string {
  return text.replace(PLACEHOLDER, (_, name: string) => {
    if (name.startsWith('env.')) return env[name.slice(4)] ?? '';
    const value = vars[name];
    if (value === undefined) {
      const known = [...Object.keys(vars), 'env.NAME'].map((k) => `{{ ${k} }}`).join(', ');
      throw new InputError(input, `{{ ${name} }}`, `a known placeholder: ${known}`);
    }
    return value;
  });
}

/** Renders every string inside a parsed YAML/JSON value, leaving its structure (and so its escaping) intact. */
export function renderDeep(value: unknown, vars: TemplateVars, input: string): unknown {
  if (typeof value === 'string') return renderTemplate(value, vars, input);
  if (Array.isArray(value)) return value.map((item) => renderDeep(item, vars, input));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [renderTemplate(k, vars, input), renderDeep(v, vars, input)]));
  }
  return value;
}
