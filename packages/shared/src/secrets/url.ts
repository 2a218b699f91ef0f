import { MIN_FRAGMENT_LENGTH, registerSecret } from './registry';

/** A URL to send requests to, with the credentials that were in it moved into a header. */
export interface Endpoint {
  /** The URL without user-info. */
  url: URL;
  /** `authorization: Basic …` when the URL carried `user:password@`; empty otherwise. */
  headers: Record<string, string>;
  /** The decoded user and password, for protocols that authenticate otherwise (SMTP AUTH). */
  credentials?: { user: string; password: string };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Takes user-info out of a parsed URL (fetch refuses URLs that carry it) and returns it as HTTP Basic
 * credentials. The user and password are registered as secrets, raw and decoded; with `secretPath`
 * (webhook-style URLs whose path or query is the credential) so are the path and query. Never the
 * whole URL or its host: that would mask every later mention of the host.
 */
export function endpointOf(url: URL, options: { secretPath?: boolean } = {}): Endpoint {
  const clean = new URL(url.href);
  const endpoint: Endpoint = { url: clean, headers: {} };
  if (url.username || url.password) {
    const user = decode(url.username);
    const password = decode(url.password);
    registerSecret(url.username, { fragment: true });
    registerSecret(url.password, { fragment: true });
    endpoint.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    registerSecret(endpoint.headers.authorization.slice('Basic '.length));
    endpoint.credentials = { user, password };
    clean.username = '';
    clean.password = '';
  }
  if (options.secretPath) registerUrlCredentialParts(clean);
  return endpoint;
}

const TOKEN_SEGMENT_LENGTH = 16;

/** The path and query of a URL whose path or query is the credential (Slack, Teams, Discord webhooks). */
export function registerUrlCredentialParts(url: URL): void {
  const path = url.pathname.replace(/\/+$/, '');
  if (path.length >= MIN_FRAGMENT_LENGTH) registerSecret(path, { fragment: true });
  // A token segment may be echoed alone; segments that long are tokens or ids, not words.
  for (const segment of path.split('/')) if (segment.length >= TOKEN_SEGMENT_LENGTH) registerSecret(segment, { fragment: true });
  if (url.search.length > 1) registerSecret(url.search.slice(1), { fragment: true });
  for (const [, value] of url.searchParams) registerSecret(value, { fragment: true });
}
