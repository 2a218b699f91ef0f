import { describe, expect, it } from 'vitest';
import {
  InputError,
  checkUrl,
  formatDuration,
  getBoolean,
  getDuration,
  getEnum,
  getInteger,
  getKeyValues,
  getList,
  getNumber,
  getPairs,
  getObject,
  getString,
  maskValue,
  parseDuration,
  redact,
  renderDeep,
  renderTemplate,
  getContext,
  contextVars,
} from '../src/index';
import { withInputs } from '../../../test/helpers/inputs';

describe('inputs', () => {
  it('reads strings and enforces required ones, naming the input', () => {
    withInputs({ name: '  value  ' }, () => expect(getString('name')).toBe('value'));
    withInputs({}, () => expect(() => getString('release', { required: true })).toThrow(/Input 'release' is invalid: got an empty value; expected a non-empty value/));
  });

  it('reads decimal numbers within their range, saying what they mean when not', () => {
    const range = { min: 0, below: 1, expected: 'a fraction from 0 to below 1' };
    withInputs({ rate: '0.05' }, () => expect(getNumber('rate', 0.01, range)).toBe(0.05));
    withInputs({ rate: '.5' }, () => expect(getNumber('rate', 0.01, range)).toBe(0.5));
    withInputs({}, () => expect(getNumber('rate', 0.01, range)).toBe(0.01));
    for (const bad of ['1', '-0.1', '5%', '0x10', 'NaN', '1e']) {
      withInputs({ rate: bad }, () => expect(() => getNumber('rate', 0.01, range)).toThrow(`Input 'rate' is invalid: got "${bad}"; expected a fraction from 0 to below 1.`));
    }
    withInputs({ score: '100' }, () => expect(getNumber('score', 95, { min: 0, max: 100, expected: 'a score' })).toBe(100));
  });

  it('accepts only true or false for booleans', () => {
    withInputs({ wait: 'TRUE', dry: 'false' }, () => {
      expect(getBoolean('wait', false)).toBe(true);
      expect(getBoolean('dry', true)).toBe(false);
      expect(getBoolean('missing', true)).toBe(true);
    });
    withInputs({ wait: 'yes' }, () => expect(() => getBoolean('wait', false)).toThrow("Input 'wait' is invalid: got \"yes\"; expected `true` or `false`."));
  });

  it('checks integers and their range', () => {
    withInputs({ retries: '3' }, () => expect(getInteger('retries', 1, { min: 0, max: 10 })).toBe(3));
    withInputs({ retries: '11' }, () => expect(() => getInteger('retries', 1, { min: 0, max: 10 })).toThrow(/got "11"; expected a whole number from 0 to 10/));
    withInputs({ retries: '2.5' }, () => expect(() => getInteger('retries', 1, { min: 0, max: 10 })).toThrow(InputError));
  });

  it('parses durations', () => {
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('10')).toBe(10_000);
    for (const bad of ['', '5 minutes', '1x', 'm5', '5m junk']) expect(parseDuration(bad)).toBeUndefined();
    withInputs({ timeout: '5 minutes' }, () => expect(() => getDuration('timeout', '10s')).toThrow(/Input 'timeout' is invalid: got "5 minutes"; expected a duration/));
    withInputs({}, () => expect(getDuration('timeout', '10s')).toBe(10_000));
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(90_000)).toBe('1m30s');
  });

  it('splits lists on newlines and commas', () => {
    withInputs({ to: 'a@x.io, b@x.io\n\n c@x.io \n' }, () => expect(getList('to')).toEqual(['a@x.io', 'b@x.io', 'c@x.io']));
    withInputs({ links: '#42 fix|https://x/42' }, () => expect(getList('links', { separator: 'newline' })).toEqual(['#42 fix|https://x/42']));
    withInputs({ links: 'a,b|https://x' }, () => expect(getList('links', { separator: 'newline' })).toEqual(['a,b|https://x']));
  });

  it('checks enums case-insensitively and lists the allowed values', () => {
    withInputs({ status: 'Failure' }, () => expect(getEnum('status', ['success', 'failure'] as const, 'success')).toBe('failure'));
    withInputs({ status: 'broken' }, () => expect(() => getEnum('status', ['success', 'failure'] as const, 'success')).toThrow('expected one of `success`, `failure`'));
  });

  it('parses YAML or JSON mappings and key-value lines', async () => {
    await withInputs({ payload: '{"a": 1}', yaml: 'a: 1\nb: [x]' }, async () => {
      expect(await getObject('payload')).toEqual({ a: 1 });
      expect(await getObject('yaml')).toEqual({ a: 1, b: ['x'] });
    });
    await withInputs({ payload: '[1, 2]' }, () => expect(getObject('payload')).rejects.toThrow(/Input 'payload' is invalid.*mapping/));
    await withInputs({ payload: '{ a: [' }, () => expect(getObject('payload')).rejects.toThrow(/Input 'payload' is invalid/));
    withInputs({ fields: 'Env: prod\nVersion = 1.2: rc' }, () => expect(getKeyValues('fields')).toEqual([['Env', 'prod'], ['Version', '1.2: rc']]));
    withInputs({ fields: 'no separator' }, () => expect(() => getKeyValues('fields')).toThrow(/one `key: value` pair per line/));
  });

  it('refuses plain http off loopback and masks secret URLs in errors', () => {
    expect(checkUrl('u', 'http://127.0.0.1:8080/x').host).toBe('127.0.0.1:8080');
    expect(checkUrl('u', 'http://localhost/x').hostname).toBe('localhost');
    expect(checkUrl('u', 'http://[::1]:9/x').hostname).toBe('[::1]');
    expect(checkUrl('u', 'http://example.com/x', { allowInsecure: true }).protocol).toBe('http:');
    const error = (() => {
      try {
        checkUrl('slack-webhook-url', 'http://hooks.example.com/services/T/B/verysecret', { secret: true });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain("Input 'slack-webhook-url'");
    expect(error?.message).toContain('http://hooks.example.com/***');
    expect(error?.message).not.toContain('verysecret');
    expect(() => checkUrl('u', 'not a url', { secret: true })).toThrow('got "***"');
    expect(() => checkUrl('u', 'ftp://x/y')).toThrow(/starting with https:\/\/ or http:\/\//);
  });

  it('reads NAME=value pairs, keeping `=` in values, and names only the key of a bad secret line', () => {
    withInputs({ 'build-args': 'VERSION=1.2.3\nFLAGS=a=b c' }, () => expect(getPairs('build-args', { expected: 'pairs' })).toEqual([['VERSION', '1.2.3'], ['FLAGS', 'a=b c']]));
    withInputs({ 'build-args': 'no pair here' }, () => expect(() => getPairs('build-args', { expected: 'NAME=value lines' })).toThrow(`Input 'build-args' is invalid: got "no pair here"; expected NAME=value lines.`));
    withInputs({ secrets: 'bad key!=s3cret-value' }, () => expect(() => getPairs('secrets', { secret: true, expected: 'id=value lines' })).toThrow(`Input 'secrets' is invalid: got "bad key!"; expected id=value lines.`));
  });
});

describe('masking', () => {
  it('shows only scheme and host of a secret URL', () => {
    expect(maskValue('smtps://user:pa55@mail.example.com:465')).toBe('smtps://mail.example.com:465/***');
    expect(maskValue('xoxb-secret')).toBe('***');
    expect(redact('token abc123 and abc123456', ['abc123', 'abc123456'])).toBe('token *** and ***');
  });
});

describe('templates', () => {
  const context = getContext({
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: '0123456789abcdef',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_ACTOR: 'octocat',
    GITHUB_WORKFLOW: 'CI',
    GITHUB_RUN_ID: '42',
    GITHUB_RUN_ATTEMPT: '2',
  });
  const vars = contextVars(context, { status: 'failure' });

  it('reads the run context', () => {
    expect(context.runUrl).toBe('https://github.com/acme/shop/actions/runs/42/attempts/2');
    expect(context.refName).toBe('main');
    expect(context.shortSha).toBe('0123456');
  });

  it('fills placeholders and env variables', () => {
    const text = renderTemplate('{{ repo }}@{{short_sha}} {{ status }} by {{ actor }} {{ env.STAGE }}{{ env.UNSET }}', vars, 'title', { STAGE: 'prod' });
    expect(text).toBe('acme/shop@0123456 failure by octocat prod');
  });

  it('rejects unknown placeholders, naming the input', () => {
    expect(() => renderTemplate('{{ commit }}', vars, 'message')).toThrow(/Input 'message' is invalid: got "\{\{ commit \}\}"; expected a known placeholder/);
  });

  it('renders inside parsed payloads without breaking JSON escaping', () => {
    const quoted = contextVars(context, { status: 'say "hi"\n' });
    const out = renderDeep({ text: '{{ status }}', list: ['{{ repo }}'], n: 1 }, quoted, 'webhook-payload');
    expect(JSON.parse(JSON.stringify(out))).toEqual({ text: 'say "hi"\n', list: ['acme/shop'], n: 1 });
  });
});
