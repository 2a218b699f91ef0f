import { registerSecret } from './registry';

/**
 * One reader of database connection strings (`postgres://`, `mysql://`, `mongodb://`,
 * `mongodb+srv://`), so that no part of a URI is ever cut out by a regex of its own.
 *
 * Grammar: `scheme://[user[:password]@]host[:port][,host[:port]…][/database][?key=value&…]`.
 * Users write passwords as they are, so the password may hold `/`, `?`, `#`, `:` and `@`
 * unencoded. Every split of the string at an `@` (or none) is tried; a split is a reading when what
 * follows is a host list (names, IPv4, `[IPv6]`, percent-encoded socket paths, ports) followed by
 * nothing, `/database` (one path segment) or `?key=value` parameters, and the user before the first
 * `:` holds no `/`, `?` or `#`. Exactly one reading must exist: so `u:p/w@h/db` is user `u`,
 * password `p/w`, host `h` (libpq would read host `u`, port `p`), and a string that two readings fit
 * (`u:p@h/db?k=a@b`: password `p`, or `p@h/db?k=a` at host `b`?) is refused with a hint to percent-encode, never guessed at.
 */

export type DatabaseEngine = 'postgres' | 'mysql' | 'mongodb';

const ENGINES: Record<string, DatabaseEngine> = {
  mongodb: 'mongodb',
  'mongodb+srv': 'mongodb',
  postgres: 'postgres',
  postgresql: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
};

const DEFAULT_PORTS: Record<DatabaseEngine, number> = { postgres: 5432, mysql: 3306, mongodb: 27017 };

const ENCODE_HINT = 'percent-encode `@`, `/`, `?`, `#` and `%` in the user and password (as %40, %2F, %3F, %23, %25), and `@` elsewhere (as %40)';

/**
 * A connection string that cannot be read. The message never quotes the string or any part of it; the
 * caller (which knows the input's name) turns `expected` into its error.
 */
export class DatabaseUriError extends Error {
  constructor(readonly expected: string) {
    super(`not a usable database connection string: expected ${expected}`);
    this.name = 'DatabaseUriError';
  }
}

export interface DatabaseHost {
  /** Decoded; an IPv6 address without its brackets, a socket path as a path; '' for the default. */
  host: string;
  port?: number;
}

export interface DatabaseUri {
  /** The scheme as written, lower-cased: `postgresql`, `mongodb+srv`, … */
  scheme: string;
  engine: DatabaseEngine;
  /** Decoded; '' when the URI names none. */
  user: string;
  /** Decoded; a `password` parameter (libpq, MySQL) wins over the user-info's, as libpq has it. */
  password?: string;
  hosts: DatabaseHost[];
  /** Decoded; '' when the URI names none. */
  database: string;
  /** Decoded, in order. */
  params: [string, string][];
  /** For messages: scheme, hosts and database, without credentials or parameters. */
  display: string;
  /** The servers' host:port list, normalised (lower case, default port, sorted), for backup metadata. */
  serverIdentity: string;
  /** The host list as written (validated: it holds no credential). */
  hostText: string;
}

/** Parameters whose value is a credential (libpq `password`/`sslpassword`, `tlsCertificateKeyFilePassword`, …). */
const SECRET_PARAM = /pass(word)?$|secret|token/i;

const HOST = String.raw`(?:\[[0-9A-Fa-f:.]+(?:%25[A-Za-z0-9._~%-]+)?\]|[\p{L}\p{N}\p{M}._~%-]*)`;
const HOST_LIST = new RegExp(String.raw`^${HOST}(?::\d{1,5})?(?:,${HOST}(?::\d{1,5})?)*$`, 'u');
const PARAM = /^[A-Za-z][A-Za-z0-9_.-]*=[^&]*$/;

interface Reading {
  userinfo?: string;
  hostText: string;
  path?: string;
  query?: string;
}

/** What follows the user-info, if it is a host list, then nothing, `/database` or `?params`. */
function readAfter(text: string): Reading | undefined {
  const end = text.search(/[/?]/);
  const hostText = end < 0 ? text : text.slice(0, end);
  let rest = end < 0 ? '' : text.slice(end);
  if (!HOST_LIST.test(hostText) || rest.includes('#')) return undefined;
  let path: string | undefined;
  if (rest.startsWith('/')) {
    const q = rest.indexOf('?');
    path = q < 0 ? rest.slice(1) : rest.slice(1, q);
    rest = q < 0 ? '' : rest.slice(q);
    // The database is one segment: a `/` after it is a password's, not a path's.
    if (path.includes('/')) return undefined;
  }
  let query: string | undefined;
  if (rest.startsWith('?')) {
    query = rest.slice(1);
    if (!query.split('&').every((p) => p === '' || PARAM.test(p))) return undefined;
  } else if (rest !== '') return undefined;
  return { hostText, path, query };
}

function readings(body: string): Reading[] {
  const found: Reading[] = [];
  const none = readAfter(body);
  if (none) found.push(none);
  for (let at = body.indexOf('@'); at >= 0; at = body.indexOf('@', at + 1)) {
    const userinfo = body.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
    if (/[/?#]/.test(user)) continue;
    const after = readAfter(body.slice(at + 1));
    if (after) found.push({ ...after, userinfo });
  }
  return found;
}

function decodePart(text: string, what: string, plus = false): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(plus ? text.replace(/\+/g, ' ') : text);
  } catch {
    throw new DatabaseUriError(`${what} written with valid percent-encoding (a \`%\` must be followed by two hexadecimal digits of UTF-8; write a literal \`%\` as %25)`);
  }
  if (decoded.includes('\0')) throw new DatabaseUriError(`${what} without %00 (no database accepts a NUL character)`);
  return decoded;
}

function splitHost(entry: string): DatabaseHost {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(entry);
  const raw = m?.[1] ?? entry;
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (port !== undefined && !(port >= 1 && port <= 65535)) throw new DatabaseUriError('ports from 1 to 65535');
  const host = raw.startsWith('[') ? raw.slice(1, -1).replace(/%25/g, '%') : decodePart(raw, 'a host');
  // `user%3Apassword%40host` decodes to a "host" that is the user-info: it would be shown, and recorded
  // as the server. No host name holds `@`, nor (outside brackets, or a socket path) `:`.
  if (!raw.startsWith('[') && (host.includes('@') || (host.includes(':') && !host.startsWith('/')))) {
    throw new DatabaseUriError('the `@` between the user-info and the host, and the `:` between user and password, written as they are (only the user and password themselves are percent-encoded)');
  }
  return { host, port };
}

/** A host as servers are told apart: IDNA/lower case, canonical IPv4 and IPv6 (WHATWG host parser). */
function normalHost(host: string): string {
  if (host === '') return 'localhost';
  if (host.startsWith('/')) return host;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  try {
    return new URL(`http://${bracketed}/`).hostname;
  } catch {
    return bracketed.toLowerCase();
  }
}

/** The servers connected to: libpq takes `host` and `port` parameters over the URI's (one port for all, or one each). */
function servers(engine: DatabaseEngine, hosts: DatabaseHost[], params: [string, string][]): DatabaseHost[] {
  if (engine !== 'postgres') return hosts;
  const param = (key: string) => params.filter(([k]) => k === key).at(-1)?.[1].split(',');
  const names = param('host') ?? hosts.map((h) => h.host);
  const ports = param('port')?.map((p) => (p === '' ? undefined : Number(p))) ?? hosts.map((h) => h.port);
  return names.map((host, i) => ({ host, port: ports.length === 1 ? ports[0] : ports[i] }));
}

/**
 * Reads a connection string completely (every part decoded), and registers its password (raw and
 * decoded) and its secret parameters for masking before anything derived from it can be printed.
 * `engine` refuses another engine's scheme. Throws DatabaseUriError, which never quotes the string.
 */
export function parseDatabaseUri(uri: string, options: { engine?: DatabaseEngine } = {}): DatabaseUri {
  const schemeMatch = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(uri);
  const scheme = schemeMatch?.[1]?.toLowerCase() ?? '';
  const engine = ENGINES[scheme];
  const schemes = Object.keys(ENGINES).filter((s) => !options.engine || ENGINES[s] === options.engine);
  if (!engine || (options.engine && engine !== options.engine)) {
    throw new DatabaseUriError(`${options.engine ? 'a URI' : 'a connection string'} starting with ${schemes.map((s) => `${s}://`).join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
  }
  const srv = scheme === 'mongodb+srv';
  const body = uri.slice(scheme.length + 3);
  const found = readings(body);
  const example = `\`${scheme}://user:password@host${srv ? '' : `:${DEFAULT_PORTS[engine]}`}/database\``;
  if (found.length === 0) throw new DatabaseUriError(`a URI such as ${example} (${ENCODE_HINT})`);
  if (found.length > 1) throw new DatabaseUriError(`a URI that reads one way only: this one can be split into user, password and host in more than one way; ${ENCODE_HINT}`);
  const reading = found[0] as Reading;

  let user = '';
  let userPassword: string | undefined;
  if (reading.userinfo !== undefined) {
    const colon = reading.userinfo.indexOf(':');
    const rawUser = colon < 0 ? reading.userinfo : reading.userinfo.slice(0, colon);
    if (colon >= 0) {
      const rawPassword = reading.userinfo.slice(colon + 1);
      // Registered raw first, so that even a password that fails to decode is never shown.
      registerSecret(rawPassword, { fragment: true });
      userPassword = decodePart(rawPassword, 'a password');
      registerSecret(userPassword, { fragment: true });
    }
    user = decodePart(rawUser, 'a user name');
    if (engine === 'mongodb' && !user && userPassword !== undefined) throw new DatabaseUriError('a user name before the password');
  }

  const params: [string, string][] = [];
  for (const piece of (reading.query ?? '').split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const key = piece.slice(0, eq);
    const rawValue = piece.slice(eq + 1);
    // The MongoDB driver reads parameters as a form does (`+` is a space); libpq only percent-decodes.
    const plus = engine === 'mongodb';
    if (SECRET_PARAM.test(key)) registerSecret(rawValue, { fragment: true });
    const value = decodePart(rawValue, `the value of parameter ${key}`, plus);
    if (SECRET_PARAM.test(key)) registerSecret(value, { fragment: true });
    if (key.toLowerCase() === 'authmechanismproperties') {
      for (const pair of value.split(',')) if (SECRET_PARAM.test(pair.split(':')[0] ?? '')) registerSecret(pair.slice(pair.indexOf(':') + 1), { fragment: true });
    }
    params.push([key, value]);
  }

  const hosts = reading.hostText.split(',').map(splitHost);
  // Only PostgreSQL (a Unix socket) and MySQL (127.0.0.1) have a default host.
  if (engine === 'mongodb' && hosts.some((h) => h.host === '')) throw new DatabaseUriError(`a host in every entry of the host list, such as ${example}`);
  if (engine === 'mysql' && hosts.length > 1) throw new DatabaseUriError('one host (a mysql:// URI names a single server)');
  if (srv && (hosts.length > 1 || hosts[0]?.port !== undefined)) throw new DatabaseUriError('one host name without a port after mongodb+srv:// (the servers are looked up in DNS)');
  const database = decodePart(reading.path ?? '', 'a database name');
  const passwordParam = engine === 'mongodb' ? undefined : params.find(([k]) => k === 'password')?.[1];
  const identity = srv
    ? `_mongodb._tcp.${normalHost(hosts[0]?.host ?? '')}`
    : [...new Set(servers(engine, hosts, params).map((h) => `${normalHost(h.host)}:${h.port ?? DEFAULT_PORTS[engine]}`))].sort().join(',');
  return {
    scheme,
    engine,
    user,
    password: passwordParam ?? userPassword,
    hosts,
    database,
    params,
    display: `${scheme}://${reading.hostText}/${reading.path ?? ''}`,
    serverIdentity: identity,
    hostText: reading.hostText,
  };
}

/**
 * The connection string rebuilt with every part percent-encoded, which every driver reads one way:
 * for the tools (libpq's `--dbname` without the password, the MongoDB driver with it).
 */
export function formatDatabaseUri(uri: DatabaseUri, options: { password?: boolean; database?: string; omitParams?: readonly string[] } = {}): string {
  const enc = encodeURIComponent;
  const password = options.password && uri.password !== undefined ? `:${enc(uri.password)}` : '';
  const userinfo = uri.user || password ? `${enc(uri.user)}${password}@` : '';
  const database = options.database ?? uri.database;
  const params = uri.params.filter(([k]) => !options.omitParams?.includes(k) && !(options.password === false && uri.engine !== 'mongodb' && k === 'password'));
  const query = params.length ? `?${params.map(([k, v]) => `${k}=${enc(v)}`).join('&')}` : '';
  return `${uri.scheme}://${userinfo}${uri.hostText}/${enc(database)}${query}`;
}
