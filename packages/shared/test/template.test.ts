import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { contextVars, getContext, registerSecret, renderDeep, renderTemplate, templateEnv } from '../src/index';

const context = getContext({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: '0123456789abcdef', GITHUB_ACTOR: 'octocat', GITHUB_RUN_ID: '42' });
const vars = contextVars(context, { status: 'failure' });

let log: string[];
beforeEach(() => {
  log = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    log.push(String(chunk));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('renderTemplate', () => {
  it('fills the context variables', () => {
    expect(renderTemplate('{{ repo }}@{{short_sha}} {{ status }} by {{ actor }}', vars, 'title')).toBe('acme/shop@0123456 failure by octocat');
  });

  it('leaves an unknown placeholder as text with a warning, never failing', () => {
    const text = 'Fix rendering of {{ item.name }} and {{item.name}} in {{ env.HOME }}; {{ constructor }} {{ __proto__ }} {{ toString }}';
    expect(renderTemplate(text, vars, 'message')).toBe(text);
    expect(log.join('')).toContain("::warning::Input 'message': {{ item.name }}, {{ env.HOME }}, {{ constructor }}, {{ __proto__ }}, {{ toString }} left as text");
  });

  it('reads no environment variable it was not given', () => {
    process.env.SLIPWAY_TEMPLATE_PROBE = 'leaked';
    try {
      expect(renderTemplate('{{ env.SLIPWAY_TEMPLATE_PROBE }}', vars, 'title')).toBe('{{ env.SLIPWAY_TEMPLATE_PROBE }}');
    } finally {
      delete process.env.SLIPWAY_TEMPLATE_PROBE;
    }
  });

  it('does not render a value twice', () => {
    const tricky = contextVars(context, { status: '{{ repo }}' });
    expect(renderTemplate('{{ status }}', tricky, 'title')).toBe('{{ repo }}');
  });

  it('renders inside parsed payloads without breaking JSON escaping', () => {
    const quoted = contextVars(context, { status: 'say "hi"\n' });
    const out = renderDeep({ text: '{{ status }}', list: ['{{ repo }}', '{{ nope }}'], n: 1 }, quoted, 'webhook-payload');
    expect(JSON.parse(JSON.stringify(out))).toEqual({ text: 'say "hi"\n', list: ['acme/shop', '{{ nope }}'], n: 1 });
  });
});

describe('templateEnv', () => {
  const env = { DEPLOY_URL: 'https://shop.example.com', STAGE: 'prod', INPUT_X: 'i', GITHUB_TOKEN: 'g', RUNNER_TEMP: '/tmp/r' };

  it('gives env.NAME for the names given (unset ones empty), and nothing else', () => {
    const envVars = templateEnv('template-env', ['DEPLOY_URL', 'UNSET_ONE', 'RUNNER_TEMP'], env);
    expect(envVars).toEqual({ 'env.DEPLOY_URL': 'https://shop.example.com', 'env.UNSET_ONE': '', 'env.RUNNER_TEMP': '/tmp/r' });
    expect(renderTemplate('{{ env.DEPLOY_URL }} {{ env.STAGE }}', { ...vars, ...envVars }, 'title')).toBe('https://shop.example.com {{ env.STAGE }}');
  });

  it.each([
    'INPUT_SLACK-TOKEN',
    'input_webhook-url',
    'ACTIONS_RUNTIME_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'ACTIONS_CACHE_URL',
    'ACTIONS_RESULTS_URL',
    'GITHUB_TOKEN',
    'RUNNER_TOKEN',
    'NPM_AUTH',
    'DEPLOY_KEY',
    'dbPassword',
    'AWS_SECRET_ACCESS_KEY',
    'AZURE_CREDENTIALS',
  ])('refuses %s, naming the input and not the value', (name) => {
    expect(() => templateEnv('template-env', [name], { [name]: 'hunter2-value' })).toThrow(
      new RegExp(`^Input 'template-env' is invalid: got "${name}"; expected names of variables that hold no credential`),
    );
  });

  it('refuses a variable whose value is or contains a registered secret', () => {
    registerSecret('tmpl-Secret-Value-77');
    for (const value of ['tmpl-Secret-Value-77', 'https://x.example/?k=tmpl-Secret-Value-77']) {
      expect(() => templateEnv('template-env', ['SOME_URL'], { SOME_URL: value })).toThrow(
        /^Input 'template-env' is invalid: got "SOME_URL"; expected a variable whose value holds no secret/,
      );
    }
  });

  it('refuses a name that is no variable name', () => {
    expect(() => templateEnv('template-env', ['not a name'], {})).toThrow(/^Input 'template-env' is invalid: got "not a name"; expected environment variable names/);
  });
});
