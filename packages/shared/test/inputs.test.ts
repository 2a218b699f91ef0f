import { describe, expect, it } from 'vitest';
import {
  InputError,
  checkDatabaseUri,
  checkEndpoint,
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
  registeredSecrets,
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

describe('hostile inputs', () => {
  it('refuses a zero duration (a busy loop, a timeout that ends before it starts) unless the caller gives 0 a meaning', () => {
    for (const zero of ['0', '0s', '0ms', '0m0s', '0.0001']) {
      withInputs({ 'watch-interval': zero }, () => expect(() => getDuration('watch-interval', '10s')).toThrow(`Input 'watch-interval' is invalid: got "${zero}"; expected a duration over 0`));
    }
    withInputs({ timeout: '' }, () => expect(() => getDuration('timeout', '0s')).toThrow(/Input 'timeout' is invalid: got "0s"/));
    withInputs({ 'scale-down-delay': '0s' }, () => expect(getDuration('scale-down-delay', '0s', { allowZero: true })).toBe(0));
  });

  it('names a secret key/value line by its number, never quoting it, and masks every value', () => {
    const lines = 'Authorization: Bearer tok-Adv3rsarial-1\nX-Scope-OrgID=tenant-a\nBearer tok-Pasted-W1thout-Key';
    withInputs({ 'prometheus-headers': lines }, () => {
      let message = '';
      try {
        getKeyValues('prometheus-headers', { secret: true });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toBe("Input 'prometheus-headers' is invalid: got \"***\"; expected one `key: value` pair per line (line 3 is not).");
    });
    expect(registeredSecrets()).toEqual(expect.arrayContaining(['Bearer tok-Adv3rsarial-1', 'tok-Adv3rsarial-1', 'tenant-a', 'Bearer tok-Pasted-W1thout-Key']));
    withInputs({ fields: 'not a pair' }, () => expect(() => getKeyValues('fields')).toThrow('got "not a pair"'));
  });

  it('reads a database URI through parseDatabaseUri, naming the input and quoting nothing of it', () => {
    expect(checkDatabaseUri('uri', 'postgres://u:p/w@h/shop').password).toBe('p/w');
    for (const [uri, expected] of [
      ['postgres://u:4821/Zq9x@h', /can be split into user, password and host in more than one way/],
      ['mysql://u:50%off-Kq7@h/db', /password written with valid percent-encoding/],
      ['mongodb://u:1234/x@h/app?appName=a@b', /more than one way/],
    ] as const) {
      expect(() => checkDatabaseUri('target-uri', uri)).toThrow(expected);
      expect(() => checkDatabaseUri('target-uri', uri)).toThrow(/^Input 'target-uri' is invalid: got "[^"]*\*\*\*"; expected /);
      expect(() => checkDatabaseUri('target-uri', uri)).not.toThrow(/4821|Zq9x|50%off|Kq7|1234|appName/);
    }
  });

  it('shows no host in errors when the URL parser took the user and a piece of the password for it', () => {
    expect(maskValue('postgres://u:1234/x@h/db')).toBe('***');
    expect(maskValue('https://u:1234#x@h/')).toBe('***');
    expect(maskValue('https://u:p%2Fw@prom.example.com/api')).toBe('https://prom.example.com/***');
    expect(() => checkEndpoint('health-url', 'https://u:1234/x@h/')).toThrow(/Input 'health-url' is invalid: got "\*\*\*"; expected a URL whose user-info has/);
  });

  it('moves user-info into a Basic header and refuses it where no request carries credentials', () => {
    const endpoint = checkEndpoint('prometheus-url', 'http://ops:Pr0m%2Fpass@127.0.0.1:9090/prom');
    expect(endpoint.url.href).toBe('http://127.0.0.1:9090/prom');
    expect(endpoint.headers.authorization).toBe(`Basic ${Buffer.from('ops:Pr0m/pass').toString('base64')}`);
    expect(() => checkUrl('azure-account-url', 'https://u:Az-pass9@acct.blob.core.windows.net')).toThrow(/Input 'azure-account-url' is invalid: got "https:\/\/acct.blob.core.windows.net\/\*\*\*"; expected a URL without `user:password@`/);
    expect(() => checkEndpoint('metrics-pushgateway-url', 'not a url')).toThrow(/Input 'metrics-pushgateway-url' is invalid: got "\*\*\*"; expected an absolute URL/);
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

  it('fills placeholders (more in template.test.ts)', () => {
    expect(renderTemplate('{{ repo }}@{{short_sha}} {{ status }} by {{ actor }}', vars, 'title')).toBe('acme/shop@0123456 failure by octocat');
  });

  it('renders inside parsed payloads without breaking JSON escaping', () => {
    const quoted = contextVars(context, { status: 'say "hi"\n' });
    const out = renderDeep({ text: '{{ status }}', list: ['{{ repo }}'], n: 1 }, quoted, 'webhook-payload');
    expect(JSON.parse(JSON.stringify(out))).toEqual({ text: 'say "hi"\n', list: ['acme/shop'], n: 1 });
  });
});
