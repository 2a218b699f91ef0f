import { describe, expect, it } from 'vitest';
import type { ActionRun } from '../helpers/action';
import { channelsOf, findLeaks, leakForms } from './harness';

const run = (stdout: string, extra: Partial<ActionRun> = {}): ActionRun => ({ exitCode: 0, stdout, stderr: '', outputs: {}, summary: '', ...extra });

// The scanner is what every adversarial test relies on: a form it misses is a leak that passes.
describe('the leak scanner', () => {
  const secret = 'Pa/ss#Wörd?9@x';

  it.each([
    ['raw', secret],
    ['percent-encoded', encodeURIComponent(secret)],
    ['form-encoded', new URLSearchParams({ v: secret }).toString().slice(2)],
    ['lower-cased', secret.toLowerCase()],
    ['JSON-escaped', JSON.stringify('a"b\\c').slice(1, -1)],
    ['base64', Buffer.from(secret).toString('base64')],
    ['a piece of 4+ characters', 'Wörd'],
    ['base64 inside a longer encoded string (SASL PLAIN)', Buffer.from(`\0user\0${secret}`).toString('base64')],
    ['base64 inside Basic credentials', Buffer.from(`u:${secret}`).toString('base64')],
  ])('finds the %s form', (_, text) => {
    const s = text.includes('a\\"b') ? 'a"b\\c' : secret;
    expect(findLeaks(channelsOf(run(`line ${text} end`)), [s]).length).toBeGreaterThan(0);
  });

  it('finds a secret in outputs, the summary and request bodies, but not in ::add-mask:: lines', () => {
    const channels = channelsOf(run(`::add-mask::${secret}\nok`, { outputs: { results: `{"e":"${secret}"}` }, summary: `| ${secret} |` }), [{ path: '/x', body: secret }]);
    expect([...new Set(findLeaks(channels, [secret]).map((l) => l.channel))].sort()).toEqual(['output results', 'request 1', 'summary']);
  });

  it('does not take 3-character pieces (they match ordinary words)', () => {
    expect(leakForms('ab/cde/fghi')).not.toContain('cde');
    expect(leakForms('ab/cde/fghi')).toContain('fghi');
  });
});
