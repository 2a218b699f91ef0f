// The adversarial suite's one check: everything a user or a third party can see of a run — the log
// as the runner shows it, the outputs, the job summary, and every request the stand-ins received —
// holds no form of any secret. Tests here drive only dist/ (through runAction), never actions/*/src.
import { expect } from 'vitest';
import { visible, type ActionRun } from '../helpers/action';

/** The pieces of a secret that could identify it: split at URI delimiters and punctuation, 4+ characters. */
function pieces(secret: string): string[] {
  return secret.split(/[^\p{L}\p{N}_-]+/u).filter((p) => p.length >= 4 && p !== secret);
}

function decoded(secret: string): string | undefined {
  try {
    return decodeURIComponent(secret);
  } catch {
    return undefined;
  }
}

/**
 * The base64 of a secret at each of the three byte alignments it can have inside a longer encoded
 * string (SASL PLAIN's `\0user\0password`, Basic `user:password`): the characters that depend on the
 * secret's bytes alone, as the runner masks them.
 */
function base64Forms(secret: string): string[] {
  const forms: string[] = [];
  for (const [offset, skip] of [[0, 0], [1, 2], [2, 3]] as const) {
    const bytes = Buffer.concat([Buffer.alloc(offset), Buffer.from(secret)]);
    const whole = Math.floor(bytes.length / 3) * 4;
    const standard = bytes.toString('base64').slice(skip, whole);
    if (standard.length >= 6) forms.push(standard, standard.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms;
}

/**
 * Every form in which a secret could show up: as given, percent-encoded and decoded, form-encoded,
 * lower- and upper-cased (normalised hosts, hex digests), JSON-escaped, base64 (standard and URL-safe,
 * also inside a longer encoded string),
 * and each piece of 4 or more characters.
 */
export function leakForms(secret: string): string[] {
  const base = [secret, decoded(secret), encodeURIComponent(secret)].filter((f): f is string => f !== undefined);
  const forms = new Set<string>();
  for (const form of base) {
    forms.add(form);
    forms.add(new URLSearchParams({ v: form }).toString().slice(2));
    forms.add(form.toLowerCase());
    forms.add(form.toUpperCase());
    forms.add(JSON.stringify(form).slice(1, -1));
    forms.add(Buffer.from(form).toString('base64').replace(/=+$/, ''));
    forms.add(Buffer.from(form).toString('base64url'));
    for (const encoded of base64Forms(form)) forms.add(encoded);
    for (const piece of pieces(form)) forms.add(piece);
  }
  return [...forms].filter((f) => f.length >= 3);
}

/** What a stand-in received, as far as the harness reads it. */
export interface SeenRequest {
  path?: string;
  body: string;
  headers?: Record<string, string | string[] | undefined>;
}

/**
 * The places a run's text reaches, by name: `log` (stdout without the `::add-mask::` commands the
 * runner consumes, and stderr), `output <name>`, `summary`, and `request <n>` (path and body of each
 * request a third party received; headers only where named in `scanHeaders`, since credentials are
 * meant to travel in an Authorization header).
 */
export function channelsOf(run: ActionRun, received: readonly SeenRequest[] = [], scanHeaders: readonly string[] = []): Record<string, string> {
  const channels: Record<string, string> = { log: `${visible(run.stdout)}\n${run.stderr}`, summary: run.summary };
  for (const [name, value] of Object.entries(run.outputs)) channels[`output ${name}`] = value;
  received.forEach((r, i) => {
    const headers = scanHeaders.map((h) => `${h}: ${String(r.headers?.[h] ?? '')}`).join('\n');
    channels[`request ${i + 1}`] = [r.path ?? '', r.body, headers].join('\n');
  });
  return channels;
}

export interface Leak {
  channel: string;
  form: string;
  context: string;
}

export function findLeaks(channels: Record<string, string>, secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = [];
  for (const secret of secrets) {
    for (const form of leakForms(secret)) {
      for (const [channel, text] of Object.entries(channels)) {
        const at = text.indexOf(form);
        if (at >= 0) leaks.push({ channel, form, context: text.slice(Math.max(0, at - 60), at + form.length + 60) });
      }
    }
  }
  return leaks;
}

/** Fails with every place a form of a secret was seen. */
export function expectNoLeaks(run: ActionRun, secrets: readonly string[], received: readonly SeenRequest[] = [], scanHeaders: readonly string[] = []): void {
  const leaks = findLeaks(channelsOf(run, received, scanHeaders), secrets);
  expect(leaks.map((l) => `${l.channel}: ${JSON.stringify(l.form)} in …${l.context}…`)).toEqual([]);
}

/** A refused input: exit code 1 and an error that names the input. */
export function expectInputError(run: ActionRun, input: string): void {
  expect(run.exitCode, run.stdout + run.stderr).toBe(1);
  expect(visible(run.stdout)).toContain(`'${input}'`);
}
