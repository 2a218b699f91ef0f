import * as core from '@actions/core';
import type { RunContext } from './context';
import { InputError } from './inputs';
import { containsSecret } from './secrets/index';

export type TemplateVars = Record<string, string>;

/**
 * The variables every template can use: `{{ repo }}`, `{{ sha }}`, …; `extra` adds an action's own
 * (`{{ status }}`, `{{ color }}`) and the `{{ env.NAME }}` entries of templateEnv. Nothing else is read.
 */
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

const NAME = /^[A-Za-z_][\w.-]*$/;
/** The inputs (each action's own secrets arrive as INPUT_*) and the runner's service tokens and URLs. */
const RUNNER_PREFIX = /^(INPUT|ACTIONS)_/i;
/**
 * Words of a name that says it holds a credential: GITHUB_TOKEN, RUNNER_TOKEN, NPM_AUTH, DEPLOY_KEY,
 * DB_PASS, GH_PAT, SLACK_WEBHOOK (a webhook URL is its own credential), STORAGE_SAS, SENTRY_DSN, …
 */
const CREDENTIAL_WORDS = new Set([
  'token', 'secret', 'secrets', 'password', 'passwd', 'pass', 'passphrase', 'pwd', 'pat', 'credential', 'credentials', 'creds',
  'key', 'apikey', 'auth', 'webhook', 'sas', 'dsn', 'cookie',
]);

function namesCredential(name: string): boolean {
  const words = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase().split(/[^a-z0-9]+/);
  return words.some((word) => CREDENTIAL_WORDS.has(word));
}

/**
 * The `env.NAME` template variables for the environment variables a caller named (an unset one is
 * empty, as in a shell). A name of the runner's or an input's, one that says it holds a credential, and
 * a variable whose value holds a secret this process registered are refused: what a template renders
 * goes to third parties, where no mask applies. Errors show the name, never the value.
 */
export function templateEnv(input: string, names: readonly string[], env: NodeJS.ProcessEnv = process.env): TemplateVars {
  const vars: TemplateVars = {};
  for (const name of names) {
    if (RUNNER_PREFIX.test(name) || namesCredential(name)) {
      throw new InputError(input, name, 'names of variables that hold no credential: `INPUT_*`, `ACTIONS_*` and names with TOKEN, SECRET, PASSWORD, PASS, PAT, KEY, AUTH, CREDENTIALS, WEBHOOK, SAS or DSN are never readable by a template');
    }
    if (!NAME.test(name)) throw new InputError(input, name, 'environment variable names such as `DEPLOY_URL`, one per line or comma-separated');
    const value = env[name] ?? '';
    if (containsSecret(value)) throw new InputError(input, name, 'a variable whose value holds no secret (this one holds a value registered as a secret)');
    vars[`env.${name}`] = value;
  }
  return vars;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*\}\}/g;
const LISTED = 5;

/**
 * Replaces `{{ name }}` placeholders with the variables given, and nothing else. Any other `{{ … }}` is
 * left as it is, with a warning: text from a commit message or PR title may mention `{{ item.name }}`,
 * and must neither fail the step nor read anything outside vars.
 */
export function renderTemplate(text: string, vars: TemplateVars, input: string): string {
  const unknown = new Set<string>();
  const out = text.replace(PLACEHOLDER, (placeholder, name: string) => {
    // Own properties only: `{{ constructor }}` is no variable.
    if (Object.hasOwn(vars, name)) return vars[name] ?? '';
    unknown.add(`{{ ${name} }}`);
    return placeholder;
  });
  if (unknown.size) {
    const listed = [...unknown].slice(0, LISTED).join(', ') + (unknown.size > LISTED ? ` and ${unknown.size - LISTED} more` : '');
    core.warning(`Input '${input}': ${listed} left as text (not a variable this template can use).`);
  }
  return out;
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
