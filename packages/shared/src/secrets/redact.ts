import { registeredSecrets, secretForms } from './registry';

/**
 * What may be shown of a secret value in a message: a URL keeps only its scheme and host (credentials,
 * path and query are where tokens live); anything else is hidden entirely.
 */
export function maskValue(value: string): string {
  if (value === '') return '';
  const url = parseUrl(value);
  if (url?.host && trustedHost(url)) return `${url.protocol}//${url.host}/***`;
  return '***';
}

/** A URL for messages: scheme and host only, e.g. `https://hooks.slack.com`. */
export function displayUrl(url: URL | string): string {
  const parsed = typeof url === 'string' ? parseUrl(url) : url;
  return parsed?.host && trustedHost(parsed) ? `${parsed.protocol}//${parsed.host}` : '(a URL)';
}

/**
 * Whether what the URL parser calls the host is one. A password holding `/`, `?` or `#` ends the
 * authority early (`postgres://u:1234/x@h` has host `u`, port 1234): an `@` after it gives that away;
 * user-info percent-encoded with its `:` and `@` is a host with `%` in it.
 */
function trustedHost(url: URL): boolean {
  // A non-special scheme's host is kept percent-encoded: `postgres://u%3Apw%40h/db` has host `u%3Apw%40h`.
  return !url.host.includes('%') && !`${url.pathname}${url.search}${url.hash}`.includes('@');
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

const REGEXP_SPECIAL = /[.*+?^${}()|[\]\\/]/g;

/**
 * Replaces every occurrence of each secret in text, and of every secret registered by this process
 * (longest first, so overlapping secrets are hidden whole). `anyCase`, for what a server wrote (it may
 * have lower-cased the path it echoes): in any letter case too.
 */
export function redact(text: string, secrets: readonly string[] = [], options: { anyCase?: boolean } = {}): string {
  let out = text;
  const all = [...new Set([...secrets, ...registeredSecrets()])].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  for (const secret of all) {
    out = options.anyCase ? out.replace(new RegExp(secret.replace(REGEXP_SPECIAL, '\\$&'), 'giu'), '***') : out.split(secret).join('***');
  }
  return out;
}

/**
 * Text that a server sent back about a request to url (an error body), fit to quote: receivers often
 * echo the request's path or query, which for webhooks is the credential, so the URL, its path, every
 * path segment and query parameter, name and value of 4+ characters (each as sent, decoded and
 * re-encoded), and every registered secret are removed first, in any letter case.
 */
export function redactUrlEcho(text: string, url: URL | string): string {
  const parsed = typeof url === 'string' ? parseUrl(url) : url;
  if (!parsed) return redact(text, [], { anyCase: true });
  const query = parsed.search.slice(1);
  const pieces = [parsed.href, `${parsed.pathname}${parsed.search}`, parsed.pathname, query, ...parsed.pathname.split('/')];
  for (const pair of query.split('&')) {
    const at = pair.indexOf('=');
    pieces.push(pair, pair.slice(at + 1));
    if (at > 0) pieces.push(pair.slice(0, at));
  }
  const forms = pieces.flatMap(secretForms).filter((p) => p.length >= 4);
  return redact(text, forms, { anyCase: true });
}
