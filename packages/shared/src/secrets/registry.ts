import * as core from '@actions/core';

/**
 * Derived pieces of a secret (a password inside a URI, a webhook URL's path) shorter than this are not
 * registered: the runner masks every occurrence of a registered string, so `ab` or `true` would turn
 * ordinary words into `***` across the whole job log.
 */
export const MIN_FRAGMENT_LENGTH = 4;

const registered = new Set<string>();

function decoded(value: string, plusIsSpace: boolean): string | undefined {
  try {
    const text = decodeURIComponent(plusIsSpace ? value.replace(/\+/g, '%20') : value);
    return text === value ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * The forms a secret takes in text: as given, percent-decoded (as in a path or user-info, and with `+`
 * as a space, as in a query),
 * percent-encoded as a URI component and as a form value, and, for several lines (an age identity
 * file), each line on its own, since the runner matches a log line at a time.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>();
  const add = (form: string | undefined) => {
    if (!form) return;
    forms.add(form);
    forms.add(encodeURIComponent(form));
    forms.add(new URLSearchParams({ v: form }).toString().slice(2));
  };
  add(value);
  add(decoded(value, false));
  add(decoded(value, true));
  if (/[\r\n]/.test(value)) for (const line of value.split(/\r?\n/)) add(line.trim());
  return [...forms];
}

/**
 * Registers a secret with the runner in all its forms before anything can print it, and remembers it,
 * so that text this process sends elsewhere (error messages, summaries, requests) can be redacted
 * too. A whole input value is registered at any length; a fragment (`fragment: true`) only from
 * MIN_FRAGMENT_LENGTH characters.
 */
export function registerSecret(value: string | undefined, options: { fragment?: boolean } = {}): void {
  if (!value) return;
  for (const form of secretForms(value)) {
    const isWhole = form === value && !options.fragment;
    if ((!isWhole && form.length < MIN_FRAGMENT_LENGTH) || registered.has(form)) continue;
    registered.add(form);
    core.setSecret(form);
  }
}

/** Every form registered so far, longest first (so that redaction hides overlapping secrets whole). */
export function registeredSecrets(): string[] {
  return [...registered].sort((a, b) => b.length - a.length);
}

/** Runs of percent-escapes (`%73`, `%E2%82%AC`) decoded where they form UTF-8, the rest of text kept. */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** What each base64 or base64url run of 8+ characters in text decodes to, where that is UTF-8 text. */
function base64Decoded(text: string): string[] {
  const decoded: string[] = [];
  for (const [run] of text.matchAll(/[A-Za-z0-9+/_-]{8,}={0,2}/g)) {
    const bytes = Buffer.from(run, 'base64');
    const utf8 = bytes.toString('utf8');
    if (!utf8.includes('\uFFFD')) decoded.push(utf8);
  }
  return decoded;
}

/**
 * Whether text is, or contains, a registered secret — also in another case, with some characters
 * percent-encoded, or base64-encoded (alone or with other text): forms anyone who reads the text
 * turns back into the secret at once.
 */
export function containsSecret(text: string): boolean {
  const texts = [text, ...base64Decoded(text), ...base64Decoded(percentDecoded(text))];
  const readings = texts.flatMap((t) => [t, percentDecoded(t)]).map((t) => t.toLowerCase());
  for (const secret of registered) {
    const lower = secret.toLowerCase();
    if (readings.some((reading) => reading.includes(lower))) return true;
  }
  return false;
}
