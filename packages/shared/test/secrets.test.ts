import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  MIN_FRAGMENT_LENGTH,
  containsSecret,
  displayUrl,
  endpointOf,
  maskValue,
  redact,
  redactUrlEcho,
  registerSecret,
  registerUrlCredentialParts,
  registeredSecrets,
  secretForms,
} from '../src/index';

// The registry is per process: every test uses values of its own.
let masked: string[];
beforeEach(() => {
  masked = [];
  // @actions/core's setSecret writes `::add-mask::<value>` to stdout; that is what the runner reads.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    const line = String(chunk);
    // Workflow commands escape %, CR and LF (actions/toolkit escapeData).
    const unescape = (text: string) => text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
    if (line.startsWith('::add-mask::')) masked.push(unescape(line.slice('::add-mask::'.length).trimEnd()));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

describe('secretForms', () => {
  it('gives the value raw, decoded both ways, and encoded as a component and as a form value', () => {
    const forms = secretForms('p%40ss+w0rd/x');
    expect(forms).toEqual(expect.arrayContaining(['p%40ss+w0rd/x', 'p@ss+w0rd/x', 'p@ss w0rd/x', encodeURIComponent('p@ss+w0rd/x'), 'p%40ss%2Bw0rd%2Fx', 'p%40ss+w0rd%2Fx']));
  });

  it('gives each line of a multi-line secret on its own, since the runner matches a line at a time', () => {
    const forms = secretForms('AGE-SECRET-KEY-1ABCDEF\r\n  second-line-of-key  \n');
    expect(forms).toEqual(expect.arrayContaining(['AGE-SECRET-KEY-1ABCDEF', 'second-line-of-key']));
  });
});

describe('registerSecret', () => {
  it('registers every form with the runner and remembers it', () => {
    registerSecret('Zq9%2Fslash+plus');
    for (const form of ['Zq9%2Fslash+plus', 'Zq9/slash+plus', 'Zq9/slash plus']) {
      expect(masked).toContain(form);
      expect(registeredSecrets()).toContain(form);
    }
    expect(containsSecret('before Zq9/slash+plus after')).toBe(true);
  });

  it(`registers a whole value at any length, a fragment only from ${MIN_FRAGMENT_LENGTH} characters`, () => {
    registerSecret('Q7');
    expect(masked).toEqual(['Q7']);
    registerSecret('K8x', { fragment: true });
    registerSecret('K8x%21', { fragment: true });
    expect(masked).not.toContain('K8x');
    expect(masked).toEqual(expect.arrayContaining(['K8x%21', 'K8x!']));
    // Forms derived from a short whole value are fragments too: `a b` from `a+b` is not registered.
    registerSecret('R+t');
    expect(masked).not.toContain('R t');
  });

  it('registers each value once and ignores an empty one', () => {
    registerSecret('once-only-Vb3');
    registerSecret('once-only-Vb3');
    registerSecret('');
    registerSecret(undefined);
    expect(masked.filter((m) => m === 'once-only-Vb3')).toHaveLength(1);
  });

  it('hides multi-line secrets line by line in redacted text', () => {
    registerSecret('line-one-Hj4\nline-two-Hj4');
    expect(redact('got line-two-Hj4 back')).toBe('got *** back');
  });
});

describe('redact', () => {
  it('hides given and registered secrets, longest first', () => {
    registerSecret('reg-Secret-Wq1');
    expect(redact('token abc123 and abc123456, reg-Secret-Wq1', ['abc123', 'abc123456'])).toBe('token *** and ***, ***');
  });
});

describe('redactUrlEcho', () => {
  const url = new URL('https://hooks.example.com/services/T0AAA/B0BBB/tokenTOKENtoken?sig=Sig%2Bnature&api-version=1');

  it('takes the URL, its path, each segment and each query value out of a body, raw and decoded', () => {
    const body = [
      `no route for POST ${url.href}`,
      'path: /services/T0AAA/B0BBB/tokenTOKENtoken',
      'segment: tokenTOKENtoken',
      'JSON: "\\/services\\/T0AAA\\/B0BBB\\/tokenTOKENtoken"',
      'sig: Sig+nature / Sig%2Bnature',
      'query: sig=Sig%2Bnature&api-version=1',
    ].join('\n');
    const out = redactUrlEcho(body, url);
    for (const piece of ['tokenTOKENtoken', 'Sig+nature', 'Sig%2Bnature', 'T0AAA', 'B0BBB']) expect(out).not.toContain(piece);
    expect(out).toContain('no route for POST');
    // The host alone is not a secret.
    expect(redactUrlEcho('hooks.example.com is down', url)).toBe('hooks.example.com is down');
  });

  it('does not hide pieces shorter than 4 characters', () => {
    expect(redactUrlEcho('v1 ok', 'https://x.example/v1?a=ok')).toBe('v1 ok');
  });
});

describe('maskValue and displayUrl', () => {
  it('show only scheme and host', () => {
    expect(maskValue('smtps://user:pa55@mail.example.com:465/x?y=1')).toBe('smtps://mail.example.com:465/***');
    expect(maskValue('not a url')).toBe('***');
    expect(displayUrl('https://user:pw@hooks.example.com/secret/path?q=1')).toBe('https://hooks.example.com');
    expect(displayUrl('nonsense')).toBe('(a URL)');
  });
});

describe('endpointOf', () => {
  it('turns user-info into a Basic header, registering user, password (raw and decoded) and the header value', () => {
    const endpoint = endpointOf(new URL('https://ops-user:Pa%2Fss%40Word@push.example.com:9091/base'));
    expect(endpoint.url.href).toBe('https://push.example.com:9091/base');
    const basic = Buffer.from('ops-user:Pa/ss@Word').toString('base64');
    expect(endpoint.headers).toEqual({ authorization: `Basic ${basic}` });
    expect(endpoint.credentials).toEqual({ user: 'ops-user', password: 'Pa/ss@Word' });
    expect(masked).toEqual(expect.arrayContaining(['ops-user', 'Pa%2Fss%40Word', 'Pa/ss@Word', basic]));
    // Never the whole URL, nor the host.
    expect(masked.some((m) => m.includes('push.example.com'))).toBe(false);
  });

  it('leaves a URL without user-info as it is, with no header', () => {
    const endpoint = endpointOf(new URL('https://plain.example.com/api'));
    expect(endpoint).toEqual({ url: new URL('https://plain.example.com/api'), headers: {} });
    expect(masked).toEqual([]);
  });

  it('with secretPath, registers the path, its token-length segments and the query, not the host', () => {
    endpointOf(new URL('https://hooks.example.com/services/T0SHORT/B0SHORT/abcdefghijklmnopqrstuvwx/?sig=SIGvalue1&v=1'), { secretPath: true });
    expect(masked).toEqual(expect.arrayContaining(['/services/T0SHORT/B0SHORT/abcdefghijklmnopqrstuvwx', 'abcdefghijklmnopqrstuvwx', 'sig=SIGvalue1&v=1', 'SIGvalue1']));
    // Short segments are words or ids, not credentials on their own; a 1-character value is never a fragment.
    expect(masked).not.toContain('services');
    expect(masked).not.toContain('1');
    expect(masked.some((m) => m.includes('hooks.example.com'))).toBe(false);
  });

  it('registerUrlCredentialParts skips a path too short to be a credential', () => {
    registerUrlCredentialParts(new URL('https://example.com/a/'));
    expect(masked).toEqual([]);
  });
});
