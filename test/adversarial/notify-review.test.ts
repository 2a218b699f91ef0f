// A second hostile pass over notify (issue 18, findings 1, 2, 3 and 18), through dist/notify against the
// SaaS stand-ins and a real SMTP exchange: template-env values that hold a secret in another form, or
// names that say they hold one; URL inputs whose password holds an unencoded `@` with `/` or `#`; error
// replies that echo the request in another case or quote the SMTP AUTH line; and 301/302 redirects that
// would turn the POST into a body-less GET.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { PAGERDUTY_KEY, SLACK_TOKEN, SaasFake, WEBHOOK_SECRET, type Received } from '../fakes/saas';
import { expectInputError, expectNoLeaks } from './harness';

let fake: SaasFake;
let elsewhere: SaasFake;
beforeAll(async () => {
  [fake, elsewhere] = await Promise.all([new SaasFake().start(), new SaasFake().start()]);
});
afterAll(async () => {
  await Promise.all([fake?.close(), elsewhere?.close()]);
});
beforeEach(() => {
  for (const f of [fake, elsewhere]) f.reset();
});

const environment = () => runEnv('1819');
const results = (run: ActionRun) => JSON.parse(run.outputs.results ?? '{}') as Record<string, { ok: boolean; status: number | null; error?: string }>;
const seen = (received: readonly Received[]) => received.map((r) => ({ path: r.path, body: r.body }));

describe('template-env values holding a secret in another form', () => {
  const HOOK = 'slipwaywebhooksecret';
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  it.each([
    ['the webhook URL, base64-encoded', () => base64(fake.urls().slack)],
    ['the webhook URL, upper-cased', () => fake.urls().slack.toUpperCase()],
    ['the webhook URL with one letter percent-encoded', () => fake.urls().slack.replace('secret', '%73ecret')],
    ['the Slack token, base64url-encoded inside other text', () => `token=${Buffer.from(`Bearer ${SLACK_TOKEN}`).toString('base64url')};`],
    ['the PagerDuty routing key, lower-cased', () => PAGERDUTY_KEY.toLowerCase()],
  ])('a variable holding %s is refused before anything is sent', async (_, value) => {
    const held = value();
    const run = await runAction(
      'notify',
      {
        status: 'failure',
        'slack-webhook-url': fake.urls().slack,
        'slack-token': SLACK_TOKEN,
        'slack-channel': 'C0SLIPWAY1',
        'slack-api-url': fake.urls().slackApi,
        'pagerduty-routing-key': PAGERDUTY_KEY,
        'pagerduty-events-url': fake.urls().pagerduty,
        'template-env': 'DEPLOY_URL, HELD',
        message: 'Live at {{ env.DEPLOY_URL }}: {{ env.HELD }}',
      },
      { ...environment(), DEPLOY_URL: 'https://shop.example.com', HELD: held },
    );
    expectInputError(run, 'template-env');
    expect(visible(run.stdout)).toContain(`::error::Input 'template-env' is invalid: got "HELD"`);
    expect(fake.received).toEqual([]);
    expectNoLeaks(run, [HOOK, SLACK_TOKEN, PAGERDUTY_KEY, held]);
  });
});

describe('template-env names that say they hold a credential', () => {
  it.each(['DB_PASS', 'GH_PAT', 'SLACK_WEBHOOK', 'STORAGE_SAS', 'SENTRY_DSN', 'deployCreds'])('%s is refused before anything is sent', async (name) => {
    const value = 'Adv3rsarialCredValue';
    const run = await runAction(
      'notify',
      { status: 'failure', 'webhook-url': fake.urls().webhook, 'template-env': `DEPLOY_URL, ${name}`, message: `{{ env.${name} }}` },
      { ...environment(), DEPLOY_URL: 'https://shop.example.com', [name]: value },
    );
    expectInputError(run, 'template-env');
    expect(visible(run.stdout)).toContain(`::error::Input 'template-env' is invalid: got "${name}"`);
    expect(fake.received).toEqual([]);
    expectNoLeaks(run, [value]);
  });
});

describe('URL inputs whose password holds an unencoded @ with / or #', () => {
  it('webhook-url: the piece before the / is not taken for the host (nothing is sent there, with or without the Basic credentials)', async () => {
    // The password is `Tr0ub4dor@<elsewhere>/Battery99`; the URL parser ends the authority at its `/`.
    const password = `Tr0ub4dor@${new URL(elsewhere.url).host}/Battery99`;
    const url = `http://hookuser:${password}@${new URL(fake.url).host}/webhook`;
    const run = await runAction('notify', { status: 'failure', retries: '0', 'webhook-url': url }, environment());
    expectInputError(run, 'webhook-url');
    expect(elsewhere.received).toEqual([]);
    expect(fake.received).toEqual([]);
    expectNoLeaks(run, [password, 'hookuser']);
  });

  it('email-smtp-url: no connection to a host named by a piece of the password, and that piece is never shown', async () => {
    const password = 'Hunter2@Mailhost/Pass#9';
    const smtp = await echoSmtp('PLAIN');
    const run = await runAction(
      'notify',
      { status: 'failure', retries: '0', timeout: '3s', 'email-smtp-url': `smtp://mailer:${password}@127.0.0.1:${smtp.port}`, 'email-from': 'ci@acme.test', 'email-to': 'ops@acme.test' },
      environment(),
    );
    smtp.close();
    expectInputError(run, 'email-smtp-url');
    expectNoLeaks(run, [password]);
  });
});

describe('error replies that echo the request in another form', () => {
  const PATH_TOKEN = 'AbCdEfGhPathT0ken';
  const QUERY_TOKEN = 'ZyXwVuQueryT0ken';
  const KEY_TOKEN = 'QueryKeyT0kenAbc';

  it('a path, query value and query key echoed lower- or upper-cased are cut out of the error', async () => {
    fake.script('webhook', { status: 400, body: (r) => `no route for ${r.path.toLowerCase()} (${r.path.toUpperCase()}); unknown parameter ${KEY_TOKEN}` });
    const run = await runAction('notify', { status: 'failure', retries: '0', 'webhook-url': `${fake.url}/webhook/${PATH_TOKEN}?sig=${QUERY_TOKEN}&${KEY_TOKEN}=1` }, environment());
    expect(run.exitCode).toBe(1);
    expect(results(run).webhook?.error).toMatch(/^Webhook: HTTP 400: no route for .*\*\*\*/);
    expectNoLeaks(run, [PATH_TOKEN, QUERY_TOKEN, KEY_TOKEN]);
  });

  it('PagerDuty echoing the routing key upper-cased', async () => {
    fake.script('pagerduty', { status: 400, body: (r) => `invalid routing key ${String((r.json as { routing_key?: string }).routing_key).toUpperCase()}` });
    const run = await runAction('notify', { status: 'failure', retries: '0', 'pagerduty-routing-key': PAGERDUTY_KEY, 'pagerduty-events-url': fake.urls().pagerduty }, environment());
    expect(results(run).pagerduty?.error).toBe('PagerDuty trigger: HTTP 400: invalid routing key *** (after 1 attempt)');
    expectNoLeaks(run, [PAGERDUTY_KEY], seen(fake.received.filter((r) => r.service !== 'pagerduty')));
  });
});

/**
 * A mail relay that answers every AUTH with a 535 quoting what the client sent, as some do ("535 5.7.8
 * Authentication failed for AUTH PLAIN AG1h…"): the SASL PLAIN token or the AUTH LOGIN lines are the
 * credentials in base64.
 */
async function echoSmtp(method: 'PLAIN' | 'LOGIN'): Promise<{ port: number; close: () => void; lines: string[] }> {
  const lines: string[] = [];
  const server: Server = createServer((socket) => {
    socket.write('220 relay.acme.test ESMTP\r\n');
    let buffer = '';
    let step = '';
    socket.on('data', (data: Buffer) => {
      buffer += data.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        lines.push(line);
        if (step === 'user') {
          step = 'password';
          socket.write('334 UGFzc3dvcmQ6\r\n');
        } else if (step === 'password') {
          step = '';
          socket.write(`535 5.7.8 Authentication failed: ${line}\r\n`);
        } else if (/^EHLO/i.test(line)) {
          socket.write(`250-relay.acme.test\r\n250 AUTH ${method}\r\n`);
        } else if (/^AUTH PLAIN/i.test(line)) {
          socket.write(`535 5.7.8 Authentication failed for ${line}\r\n`);
        } else if (/^AUTH LOGIN/i.test(line)) {
          step = 'user';
          socket.write('334 VXNlcm5hbWU6\r\n');
        } else if (/^QUIT/i.test(line)) {
          socket.end('221 bye\r\n');
        } else {
          socket.write('502 not here\r\n');
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, close: () => server.close(), lines };
}

describe('SMTP replies quoting the AUTH exchange', () => {
  it.each(['PLAIN', 'LOGIN'] as const)('AUTH %s: the base64 credentials the relay quotes are cut out of the error', async (method) => {
    const user = 'mailer';
    const password = 'Sm7p-Passw0rd!';
    const smtp = await echoSmtp(method);
    const run = await runAction(
      'notify',
      { status: 'failure', retries: '0', 'email-smtp-url': `smtp://${user}:${encodeURIComponent(password)}@127.0.0.1:${smtp.port}`, 'email-from': 'ci@acme.test', 'email-to': 'ops@acme.test' },
      environment(),
    );
    smtp.close();
    // The relay did get them (that is how it could quote them), and said so with a 535.
    const sent = method === 'PLAIN' ? [Buffer.from(`\0${user}\0${password}`).toString('base64')] : [Buffer.from(user).toString('base64'), Buffer.from(password).toString('base64')];
    expect(smtp.lines.join('\n')).toContain(sent.at(-1));
    expect(results(run).email).toMatchObject({ ok: false, status: 535 });
    expect(results(run).email?.error).toContain('Authentication failed');
    expectNoLeaks(run, [password, ...sent]);
  });
});

describe('redirects that would resend the POST as a GET', () => {
  it.each([301, 302])('a %i on the same origin is not followed: the notification is reported lost, not delivered', async (status) => {
    fake.script('webhook', { status, headers: { location: '/webhook/landing' } });
    // Unsigned, so that the receiver accepts the empty GET as it would a login page's answer.
    const run = await runAction('notify', { status: 'failure', retries: '0', 'webhook-url': fake.urls().webhook }, environment());
    expect(run.exitCode).toBe(1);
    expect(results(run).webhook).toMatchObject({ ok: false, status });
    expect(results(run).webhook?.error).toBe(`Webhook: HTTP ${status} redirect to ${fake.url} not followed: it would resend this request as a GET without its body (after 1 attempt)`);
    // Only the POST itself reached the receiver; no body-less GET was counted as a delivery.
    expect(fake.received.map((r) => r.path)).toEqual(['/webhook']);
    expect(run.outputs.sent).toBe('false');
  });

  it('a 303 (taken; see the result there) is followed as a GET', async () => {
    fake.script('webhook', { status: 303, headers: { location: '/webhook/landing' } });
    const run = await runAction('notify', { status: 'failure', retries: '0', 'webhook-url': fake.urls().webhook }, environment());
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    expect(fake.received.map((r) => [r.path, r.body === '' ? 'no body' : 'body'])).toEqual([['/webhook', 'body'], ['/webhook/landing', 'no body']]);
  });

  it('a 307 on the same origin is still followed with the body', async () => {
    fake.script('webhook', { status: 307, headers: { location: '/webhook/landing' } });
    const run = await runAction('notify', { status: 'failure', retries: '0', 'webhook-url': fake.urls().webhook, 'webhook-secret': WEBHOOK_SECRET }, environment());
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    expect(fake.received.map((r) => [r.path, r.problems])).toEqual([['/webhook', []], ['/webhook/landing', []]]);
  });
});
