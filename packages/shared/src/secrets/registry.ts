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

/** Whether text is, or contains, a registered secret. */
export function containsSecret(text: string): boolean {
  for (const secret of registered) if (text.includes(secret)) return true;
  return false;
}
