import * as core from '@actions/core';
import { DatabaseUriError, endpointOf, maskValue, parseDatabaseUri, registerSecret, type DatabaseEngine, type DatabaseUri, type Endpoint } from './secrets/index';
import { parseDuration } from './duration';

/** A user-facing mistake in an input: the message names the input, the bad value and the expected form. */
export class InputError extends Error {
  constructor(
    readonly input: string,
    value: string,
    expected: string,
    secret = false,
  ) {
    super(`Input '${input}' is invalid: got ${describe(value, secret)}; expected ${expected}.`);
    this.name = 'InputError';
  }
}

/**
 * A value with a `:` before an `@` may carry `user:password@` (or a password holding `/` or `#`): never
 * echoed. Not only `scheme://…`: the URL parser reads `https:/u:p@h` and `https:u:p@h` as
 * `https://u:p@h`, and a mistyped `https//u:p@h` holds the password all the same.
 */
const MAY_CARRY_CREDENTIALS = /:.*@/s;

/** Longer values are cut in messages: a pasted file or a huge value must not flood the log. */
const SHOWN_LENGTH = 200;

function describe(value: string, secret: boolean): string {
  if (value === '') return 'an empty value';
  if (secret || MAY_CARRY_CREDENTIALS.test(value)) return JSON.stringify(maskValue(value));
  if (value.length <= SHOWN_LENGTH) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, SHOWN_LENGTH / 2))}… (${value.length} characters)`;
}

export interface InputOptions {
  /** Registers the value with the runner so it is masked in every log line. */
  secret?: boolean;
  /** true, or what the value should be, for the error when it is missing. */
  required?: boolean | string;
}

/**
 * Reads an input as the runner passes it (INPUT_<NAME>, trimmed). Secret values are registered
 * for masking before anything else can print them.
 */
export function getString(name: string, options: InputOptions = {}): string {
  const value = core.getInput(name);
  if (options.secret) registerSecret(value);
  if (options.required && !value) {
    throw new InputError(name, value, typeof options.required === 'string' ? options.required : 'a non-empty value (this input is required)', options.secret);
  }
  return value;
}

/** Only `true` or `false` (any case); an empty value gives the default. */
export function getBoolean(name: string, defaultValue: boolean): boolean {
  const value = getString(name).toLowerCase();
  if (value === '') return defaultValue;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new InputError(name, core.getInput(name), '`true` or `false`');
}

export interface IntegerOptions {
  min?: number;
  max?: number;
}

export function getInteger(name: string, defaultValue: number, range: IntegerOptions = {}): number {
  const value = getString(name);
  if (value === '') return defaultValue;
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  const expected = `a whole number from ${min} to ${max}`;
  if (!/^[+-]?\d+$/.test(value)) throw new InputError(name, value, expected);
  const n = Number(value);
  if (n < min || n > max) throw new InputError(name, value, expected);
  return n;
}

/** A decimal number from min, up to max or below `below`; `expected` says what it means, for the error. */
export function getNumber(name: string, defaultValue: number, range: { min: number; max?: number; below?: number; expected: string }): number {
  const value = getString(name);
  if (value === '') return defaultValue;
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(value) ? Number(value) : Number.NaN;
  if (!(n >= range.min && n <= (range.max ?? Infinity) && n < (range.below ?? Infinity))) throw new InputError(name, value, range.expected);
  return n;
}

/** The longest delay setTimeout takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A duration such as `90s`, `5m`, `1h`, `1h30m` or `500ms`, returned in milliseconds. 0 is refused
 * unless the caller gives it a meaning (`allowZero`): as an interval it spins a loop, as a timeout or
 * period it ends the work before it starts.
 */
export function getDuration(name: string, defaultValue: string, options: { allowZero?: boolean } = {}): number {
  const value = getString(name) || defaultValue;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new InputError(name, value, 'a duration such as `500ms`, `90s`, `5m`, `1h` or `1h30m`');
  }
  if (ms === 0 && !options.allowZero) throw new InputError(name, value, 'a duration over 0, such as `500ms`, `90s` or `5m`');
  // Node runs a longer timer at once (after 1 ms): a huge interval would spin, a huge delay not wait.
  if (ms > MAX_TIMER_MS) throw new InputError(name, value, 'a duration of at most 24d');
  return ms;
}

/** Items separated by newlines or commas, trimmed, empty ones dropped. */
export function getList(name: string, options: InputOptions & { separator?: 'newline' | 'newline-or-comma' } = {}): string[] {
  const value = getString(name, options);
  const pattern = options.separator === 'newline' ? /\r?\n/ : /\r?\n|,/;
  return value
    .split(pattern)
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function getEnum<const T extends string>(name: string, allowed: readonly T[], defaultValue: T): T {
  const value = getString(name);
  if (value === '') return defaultValue;
  const match = allowed.find((candidate) => candidate === value.toLowerCase());
  if (match === undefined) {
    throw new InputError(name, value, `one of ${allowed.map((a) => `\`${a}\``).join(', ')}`);
  }
  return match;
}

/**
 * A YAML (or JSON, which is YAML) mapping. Empty gives undefined. The YAML parser is loaded only when
 * such an input is given: it would otherwise cost every action's start-up.
 */
export async function getObject(name: string, options: InputOptions = {}): Promise<Record<string, unknown> | undefined> {
  const value = getString(name, options);
  if (value === '') return undefined;
  let parsed: unknown;
  try {
    const { parse: parseYaml } = await import('yaml');
    parsed = parseYaml(value);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new InputError(name, value, `a YAML or JSON mapping (${reason})`, options.secret);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InputError(name, value, 'a YAML or JSON mapping such as `key: value` or `{"key": "value"}`', options.secret);
  }
  return parsed as Record<string, unknown>;
}

/**
 * `key: value` (or `key=value`) lines, in order. With `secret` (headers, tokens), each value is
 * registered for masking, and an error names the line by its number, never quoting it.
 */
export function getKeyValues(name: string, options: { secret?: boolean } = {}): [string, string][] {
  const lines = getString(name).split(/\r?\n/);
  const pairs: [string, string][] = [];
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const match = /^([^:=]+?)\s*[:=]\s*(.*)$/.exec(line);
    if (!match?.[1]) {
      // A line without its key may be the credential alone (`Bearer …` pasted without `Authorization:`).
      if (options.secret) registerSecret(line);
      throw new InputError(name, line, `one \`key: value\` pair per line (line ${i + 1} is not)`, options.secret);
    }
    const value = match[2] ?? '';
    if (options.secret) {
      registerSecret(value);
      // The credential after an auth scheme may be echoed without the scheme.
      registerSecret(/^[A-Za-z]+\s+(\S.*)$/.exec(value)?.[1], { fragment: true });
    }
    pairs.push([match[1], value]);
  });
  return pairs;
}

/**
 * `NAME=value` lines (build arguments, build secrets): the name is checked, the value kept as given.
 * With `secret`, each value is masked on its own too, and errors show only the name.
 */
export function getPairs(name: string, options: { secret?: boolean; expected: string }): [string, string][] {
  return getList(name, { separator: 'newline', secret: options.secret }).map((line) => {
    const at = line.indexOf('=');
    const key = line.slice(0, Math.max(at, 0)).trim();
    if (at < 1 || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) throw new InputError(name, options.secret ? key : line, options.expected);
    const value = line.slice(at + 1);
    if (options.secret) registerSecret(value);
    return [key, value];
  });
}

/**
 * An absolute http(s) URL. Plain http is refused unless the host is loopback or insecure is allowed.
 * `user:password@` is refused too: an input that may carry credentials is read with getEndpoint.
 */
export function getUrl(name: string, options: InputOptions & { allowInsecure?: boolean } = {}): URL | undefined {
  const value = getString(name, options);
  if (value === '') return undefined;
  return checkUrl(name, value, options);
}

export interface UrlOptions {
  secret?: boolean;
  allowInsecure?: boolean;
  protocols?: string[];
}

export function checkUrl(name: string, value: string, options: UrlOptions = {}): URL {
  const url = parseUrl(name, value, options);
  if (url.username || url.password) {
    throw new InputError(name, value, 'a URL without `user:password@` (this input cannot carry credentials)', true);
  }
  return url;
}

/**
 * A URL to send requests to, whose `user:password@` (registered as secrets, never echoed) becomes an
 * `authorization: Basic` header. With `secretPath`, for webhook URLs whose path or query is the
 * credential, those are registered as secrets too.
 */
export function checkEndpoint(name: string, value: string, options: UrlOptions & { secretPath?: boolean } = {}): Endpoint {
  const url = parseUrl(name, value, { ...options, secret: true });
  // The authority ends at the first `/`, `?` or `#`, so a password holding one before its last `@` is
  // cut there: `https://user:1234/x@host` parses as host `user`, port 1234, and `https://u:p@ss/w@host`
  // as user `u`, password `p` and host `ss`, a piece of the password that the rest would be sent to.
  if ((url.username || url.password || url.port) && `${url.pathname}${url.search}${url.hash}`.includes('@')) {
    throw new InputError(name, value, 'a URL whose user-info has `/`, `?`, `#` and `@` percent-encoded (%2F, %3F, %23, %40), as has an `@` in its path or query when it carries user-info or a port', true);
  }
  return endpointOf(url, options);
}

export function getEndpoint(name: string, options: UrlOptions & { secretPath?: boolean; required?: boolean | string } = {}): Endpoint | undefined {
  const value = getString(name, options);
  if (value === '') return undefined;
  return checkEndpoint(name, value, options);
}

function parseUrl(name: string, value: string, options: UrlOptions): URL {
  const protocols = options.protocols ?? ['https:', 'http:'];
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(name, value, `an absolute URL such as ${protocols[0]}//host/path`, options.secret);
  }
  if (!protocols.includes(url.protocol)) {
    throw new InputError(name, value, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`, options.secret);
  }
  if (url.protocol === 'http:' && !options.allowInsecure && !isLoopback(url.hostname)) {
    throw new InputError(
      name,
      value,
      'an https:// URL (plain http is only allowed for loopback hosts, or with `allow-insecure-http: true`)',
      options.secret,
    );
  }
  return url;
}

/**
 * A database connection string, read completely by parseDatabaseUri (which registers its password and
 * secret parameters first); the error names the input and never quotes the URI or a part of it.
 */
export function checkDatabaseUri(name: string, value: string, engine?: DatabaseEngine): DatabaseUri {
  try {
    return parseDatabaseUri(value, { engine });
  } catch (error) {
    if (error instanceof DatabaseUriError) throw new InputError(name, value, error.expected, true);
    throw error;
  }
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
