// Secrets review, through dist/: credentials that reached the log, outputs or summary — a link whose
// user-info follows `ftp:/`, `ftp:` or a mistyped `https//` (quoted in the error), a Prometheus whose
// JSON error quotes the request's credentials (quoted in results and summary), and a database URI
// whose `:` and `@` are percent-encoded too (read as a host named by the user-info, and shown).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible } from '../helpers/action';
import { listen, type Listening } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import { expectInputError, expectNoLeaks } from './harness';

const PASSWORD = 'Zq8-Adv3rsarialPw';
const RUN_ENV = runEnv('4242');

let prometheus: Listening;
beforeAll(async () => {
  // A Prometheus (or a proxy before it) whose JSON error quotes the request's credentials and path.
  prometheus = await listen((req, res) => {
    const auth = req.headers.authorization ?? '';
    const decoded = Buffer.from(auth.slice('Basic '.length), 'base64').toString();
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `denied ${decoded} (${auth}) for ${req.url}` }));
  });
});
afterAll(async () => {
  await prometheus?.close();
});

describe('secrets in URL inputs, through dist/', () => {
  for (const link of [`ftp:/ops:${PASSWORD}@docs.example.com`, `https//ops:${PASSWORD}@docs.example.com/x`, `ftp:ops:${PASSWORD}@docs.example.com`]) {
    it(`notify: a link ${link.slice(0, 6)}… with user-info is refused without being quoted`, async () => {
      const run = await runAction('notify', { status: 'success', 'webhook-url': 'http://127.0.0.1:9/h', links: `Docs|${link}` }, RUN_ENV);
      expectInputError(run, 'links');
      expectNoLeaks(run, [PASSWORD]);
    });
  }

  it('canary-analyze: a Prometheus error that quotes the credentials is redacted in log, outputs and summary', async () => {
    const run = await runAction('canary-analyze', {
      'prometheus-url': prometheus.url.replace('://', `://ops:${PASSWORD}@`),
      mode: 'analyze',
      metrics: 'error-rate',
      'step-duration': '2s',
      interval: '1s',
      'consecutive-error-limit': '1',
    }, RUN_ENV);
    expect(visible(run.stdout)).toContain('refused the query');
    expectNoLeaks(run, [PASSWORD, Buffer.from(`ops:${PASSWORD}`).toString('base64')]);
  }, 60_000);

  for (const uri of [`postgres://app%3A${PASSWORD}%40db.example.com:5999/shop`, `mongodb://app%3A${PASSWORD}%40127.0.0.1:1/shop`, `mysql://app%3A${PASSWORD}%40127.0.0.1/shop`]) {
    it(`backup-db: ${uri.split(':')[0]} user-info percent-encoded with its delimiters is refused, never shown as the host`, async () => {
      const run = await runAction('backup-db', { uri, storage: 'local', 'local-path': mkdtempSync(join(tmpdir(), 'zz-secrets-')) }, RUN_ENV);
      expectInputError(run, 'uri');
      expectNoLeaks(run, [PASSWORD]);
    }, 60_000);
  }
});
