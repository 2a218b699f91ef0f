// notify under hostile input, through the bundle, against the SaaS stand-ins (over HTTP and HTTPS):
// templates that try to read the step's inputs and the runner's tokens, credentials in every URL input,
// error replies that echo the request URL, and redirects to another origin or from https to http.
// Every run is scanned for every form of every secret in the log, outputs, summary and in what the
// receivers (or the other origin) got.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAction, visible, type ActionRun } from '../helpers/action';
import { runEnv } from '../helpers/run-env';
import { GITHUB_TOKEN, PAGERDUTY_KEY, SLACK_TOKEN, SaasFake, WEBHOOK_SECRET, echoRequest, type Received } from '../fakes/saas';
import { SMTP_PASS, SMTP_USER, startSmtp, type Smtp } from '../fakes/smtp';
import { expectInputError, expectNoLeaks } from './harness';

// The runner's own tokens, as a job's environment has them.
const RUNNER = {
  ACTIONS_RUNTIME_TOKEN: 'ACTIONS-Runt1meT0kenForNotify',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'IdT0kenRequestSecretXyz',
  ACTIONS_ID_TOKEN_REQUEST_URL: 'https://token.actions.example/oidc?code=OidcC0deSecret',
  ACTIONS_RESULTS_URL: 'https://results.actions.example/ResultsPathSecret42/',
  GITHUB_TOKEN: 'ghs_EnvGitHubT0ken00000000000000000',
};
// What is looked for: the tokens, and of the URLs their distinctive part (a piece such as `https` is no secret).
const RUNNER_SECRETS = [RUNNER.ACTIONS_RUNTIME_TOKEN, RUNNER.ACTIONS_ID_TOKEN_REQUEST_TOKEN, 'OidcC0deSecret', 'ResultsPathSecret42', RUNNER.GITHUB_TOKEN];
// The credential part of each stand-in URL (see SaasFake.urls()).
const HOOK_TOKENS = ['slipwaywebhooksecret', 'teamssecretsig', 'discordsecrettoken'];
const INPUT_SECRETS = [SLACK_TOKEN, WEBHOOK_SECRET, GITHUB_TOKEN, PAGERDUTY_KEY];

let fake: SaasFake;
let tls: SaasFake;
let elsewhere: SaasFake;
let smtp: Smtp;
beforeAll(async () => {
  [fake, tls, elsewhere, smtp] = await Promise.all([new SaasFake().start(), new SaasFake({ tls: true }).start(), new SaasFake().start(), startSmtp()]);
});
afterAll(async () => {
  await Promise.all([fake?.close(), tls?.close(), elsewhere?.close(), smtp?.close()]);
});
beforeEach(() => {
  for (const f of [fake, tls, elsewhere]) f.reset();
});

const environment = () => ({ ...runEnv('1818'), ...RUNNER, NODE_EXTRA_CA_CERTS: tls.caFile ?? '' });

/** Every HTTP channel, on the stand-in at base. */
function channels(f: SaasFake): Record<string, string> {
  return {
    ...f.channelInputs(),
    'github-token': GITHUB_TOKEN,
    status: 'failure',
    retries: '0',
    timeout: '5s',
  };
}

const results = (run: ActionRun) => JSON.parse(run.outputs.results ?? '{}') as Record<string, { ok: boolean; status: number | null; error?: string }>;

/** What the receivers got, bodies only: paths and the PagerDuty body are where credentials belong. */
function bodies(received: readonly Received[], except: string[] = []): { body: string }[] {
  return received.filter((r) => !except.includes(r.service)).map((r) => ({ body: r.body }));
}

describe('notify templates, hostile', () => {
  const reading = [
    '{{ env.INPUT_SLACK-TOKEN }}',
    '{{ env.INPUT_WEBHOOK-SECRET }}',
    '{{ env.INPUT_GITHUB-TOKEN }}',
    '{{ env.INPUT_PAGERDUTY-ROUTING-KEY }}',
    '{{ env.INPUT_SLACK-WEBHOOK-URL }}',
    '{{ env.ACTIONS_RUNTIME_TOKEN }}',
    '{{ env.ACTIONS_ID_TOKEN_REQUEST_TOKEN }}',
    '{{ env.ACTIONS_ID_TOKEN_REQUEST_URL }}',
    '{{ env.ACTIONS_RESULTS_URL }}',
    '{{ env.GITHUB_TOKEN }}',
  ].join(' ');

  it('a title, message, fields, links and payload naming inputs and runner tokens send none of them', async () => {
    const run = await runAction(
      'notify',
      {
        ...channels(fake),
        title: `Deploy ${reading}`,
        // As a PR title or commit message passed into message would be.
        message: `Merged "${reading}"`,
        fields: `Token: ${reading}`,
        links: `Hook ${reading}|https://example.com/{{ env.ACTIONS_RUNTIME_TOKEN }}`,
        'webhook-payload': `note: "${reading}"`,
      },
      environment(),
    );
    const secrets = [...INPUT_SECRETS, ...RUNNER_SECRETS, ...HOOK_TOKENS];
    expectNoLeaks(run, secrets, bodies(fake.received, ['pagerduty']));
    expectNoLeaks(run, secrets.filter((s) => s !== PAGERDUTY_KEY), bodies(fake.of('pagerduty')));
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    for (const [name, r] of Object.entries(results(run))) expect(r.ok, `${name}: ${r.error}`).toBe(true);
    expect(fake.of('webhook')[0]?.json).toEqual({ note: reading });
    expect(visible(run.stdout)).toContain("::warning::Input 'message': {{ env.INPUT_SLACK-TOKEN }}, {{ env.INPUT_WEBHOOK-SECRET }}");
  });

  it('a stray {{ … }} in a commit message is sent as text and never fails the notification', async () => {
    const run = await runAction(
      'notify',
      { ...channels(fake), message: 'Merged "fix {{ item.name }} and {{ constructor }} in templates"', 'webhook-payload': 'text: "{{ item.name }}"' },
      environment(),
    );
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    for (const [name, r] of Object.entries(results(run))) expect(r.ok, `${name}: ${r.error}`).toBe(true);
    expect(fake.of('webhook')[0]?.json).toEqual({ text: '{{ item.name }}' });
    expect(JSON.stringify(fake.of('slack')[0]?.json)).toContain('fix {{ item.name }} and {{ constructor }} in templates');
  });

  it.each([
    ['an input', 'INPUT_SLACK-TOKEN'],
    ['the runtime token', 'ACTIONS_RUNTIME_TOKEN'],
    ['the OIDC request token', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'],
    ['the results URL', 'ACTIONS_RESULTS_URL'],
    ['GITHUB_TOKEN', 'GITHUB_TOKEN'],
    ['a credential-named variable', 'DEPLOY_KEY'],
    ['a variable holding a webhook URL', 'HOOK_COPY'],
    ['a variable holding the webhook secret', 'SIGNING'],
  ])('template-env naming %s is refused, naming the input, before anything is sent', async (_, name) => {
    const run = await runAction(
      'notify',
      { ...channels(fake), 'template-env': `DEPLOY_URL, ${name}`, message: `{{ env.${name} }}` },
      { ...environment(), DEPLOY_URL: 'https://shop.example.com', DEPLOY_KEY: 'DeployKeyValue99', HOOK_COPY: fake.urls().slack, SIGNING: `sig ${WEBHOOK_SECRET}` },
    );
    expectInputError(run, 'template-env');
    expect(visible(run.stdout)).toContain(`::error::Input 'template-env' is invalid: got "${name}"`);
    expect(fake.received).toEqual([]);
    expectNoLeaks(run, [...INPUT_SECRETS, ...RUNNER_SECRETS, ...HOOK_TOKENS, 'DeployKeyValue99']);
  });

  it('renders the variables template-env names', async () => {
    const run = await runAction(
      'notify',
      { status: 'success', 'webhook-url': fake.urls().webhook, 'template-env': 'DEPLOY_URL\nSTAGE', message: 'Live at {{ env.DEPLOY_URL }} ({{ env.STAGE }}, {{ env.UNSET_ONE }})' },
      { ...environment(), DEPLOY_URL: 'https://shop.example.com', STAGE: 'prod' },
    );
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    expect(fake.of('webhook')[0]?.json).toMatchObject({ message: 'Live at https://shop.example.com (prod, {{ env.UNSET_ONE }})' });
  });
});

describe('notify URL inputs with credentials', () => {
  /** A distinct user and password for each input; each password holds `/` and `@`, percent-encoded as user-info must be. */
  const creds = (n: number) => ({ user: `user${n}Qx`, password: `Pa/ss@W0rd${n}Zy` });
  const withCreds = (url: string, n: number) => {
    const u = new URL(url);
    u.username = creds(n).user;
    u.password = encodeURIComponent(creds(n).password);
    return u.href;
  };
  const basic = (n: number) => `Basic ${Buffer.from(`${creds(n).user}:${creds(n).password}`).toString('base64')}`;

  it('are sent as Basic auth (SMTP AUTH for mail), masked, and never shown whole or by host', async () => {
    const u = fake.urls();
    const inputs = {
      status: 'failure',
      'slack-webhook-url': withCreds(u.slack, 1),
      'teams-webhook-url': withCreds(u.teams, 2),
      'discord-webhook-url': withCreds(u.discord, 3),
      'webhook-url': withCreds(u.webhook, 4),
      'pagerduty-events-url': withCreds(u.pagerduty, 5),
      'pagerduty-routing-key': PAGERDUTY_KEY,
      'metrics-pushgateway-url': withCreds(`${fake.url}/pushgateway`, 6),
      'email-smtp-url': smtp.url,
      'email-from': 'ci@acme.test',
      'email-to': 'ops@acme.test',
      retries: '0',
    };
    const run = await runAction('notify', inputs, environment());
    const secrets = [...[1, 2, 3, 4, 5, 6].flatMap((n) => [creds(n).user, creds(n).password]), SMTP_PASS, PAGERDUTY_KEY, ...HOOK_TOKENS];
    expectNoLeaks(run, secrets, bodies(fake.received, ['pagerduty']));
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    for (const [name, r] of Object.entries(results(run))) expect(r.ok, `${name}: ${r.error}`).toBe(true);
    const sent = (service: string) => fake.of(service)[0]?.headers.authorization;
    expect([sent('slack'), sent('teams'), sent('discord'), sent('webhook'), sent('pagerduty'), sent('pushgateway')]).toEqual([1, 2, 3, 4, 5, 6].map(basic));
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.url).toContain(`${SMTP_USER}:`);
    // Registered: the credentials and the webhook paths. Never a whole URL or the host.
    const masks = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    expect(masks.filter((l) => l.includes('127.0.0.1'))).toEqual([]);
    for (const n of [1, 2, 3, 4, 5, 6]) expect(masks).toContain(`::add-mask::${creds(n).password}`);
  });

  it('an invalid one is named, shown as scheme and host only', async () => {
    const run = await runAction('notify', { status: 'failure', 'webhook-url': withCreds('http://hooks.acme.test/in/HookPathT0ken', 7) }, environment());
    expectInputError(run, 'webhook-url');
    expect(visible(run.stdout)).toContain(`::error::Input 'webhook-url' is invalid: got "http://hooks.acme.test/***"`);
    expectNoLeaks(run, [creds(7).user, creds(7).password, 'HookPathT0ken']);
  });
});

describe('notify error replies that echo the request', () => {
  it('are quoted without the URL, its path, segments, query or any secret, in the log, summary, results and error', async () => {
    for (const service of ['slack', 'teams', 'discord', 'webhook']) fake.script(service, { status: 400, body: echoRequest });
    fake.script('pagerduty', { status: 400, body: (r) => `invalid routing_key ${String((r.json as { routing_key?: string }).routing_key)} at ${r.path}` });
    fake.script('slack-api', { status: 200, body: (r) => JSON.stringify({ ok: false, error: `invalid_auth for ${String(r.headers.authorization)} at ${r.path}` }) });
    const run = await runAction('notify', channels(fake), environment());
    expectNoLeaks(run, [...INPUT_SECRETS, ...HOOK_TOKENS, 'T0SLIPWAY/B0SLIPWAY', 'abc123']);
    expect(run.exitCode).toBe(1);
    const r = results(run);
    for (const name of ['slack', 'teams', 'discord', 'webhook', 'pagerduty']) {
      expect(r[name]).toMatchObject({ ok: false, status: 400 });
      // Still worth reading: what the receiver said, with the secrets cut out.
      expect(r[name]?.error).toMatch(/: HTTP 400: .*\*\*\*/);
    }
    expect(r['slack-api']?.error).toMatch(/^Slack chat\.postMessage: invalid_auth for Bearer \*\*\*/);
    expect(run.summary).toContain('❌ failed');
  });
});

describe('notify redirects', () => {
  const LOCATION_SECRET = 'LocationPathT0ken77';

  it('a 307/308 to another origin is not followed: nothing reaches it, and the error shows its scheme and host only', async () => {
    const to = `${elsewhere.url}/webhook/${LOCATION_SECRET}?k=${LOCATION_SECRET}`;
    for (const [service, status] of [['slack', 307], ['teams', 308], ['discord', 307], ['webhook', 308], ['pagerduty', 307], ['slack-api', 308]] as const) {
      fake.script(service, { status, headers: { location: to } });
    }
    const run = await runAction('notify', channels(fake), environment());
    expect(elsewhere.received).toEqual([]);
    expect(run.exitCode).toBe(1);
    const r = results(run);
    for (const name of ['slack', 'teams', 'discord', 'webhook', 'pagerduty', 'slack-api']) {
      expect(r[name]?.ok, name).toBe(false);
      expect(r[name]?.error, name).toMatch(new RegExp(`HTTP 30[78] redirect to ${elsewhere.url.replace(/\./g, '\\.')} not followed: another origin`));
    }
    expectNoLeaks(run, [...INPUT_SECRETS, ...HOOK_TOKENS, LOCATION_SECRET]);
  });

  it('a 308 from https to plain http is not followed, even on the same host', async () => {
    const plain = `${elsewhere.url}/pagerduty/v2/enqueue`;
    tls.script('pagerduty', { status: 308, headers: { location: plain } });
    tls.script('webhook', { status: 307, headers: { location: `${elsewhere.url}/webhook` } });
    const u = tls.urls();
    const run = await runAction(
      'notify',
      { status: 'failure', 'pagerduty-routing-key': PAGERDUTY_KEY, 'pagerduty-events-url': u.pagerduty, 'webhook-url': u.webhook, 'webhook-secret': WEBHOOK_SECRET, retries: '0' },
      environment(),
    );
    expect(elsewhere.received).toEqual([]);
    expect(run.exitCode).toBe(1);
    expect(tls.of('pagerduty')).toHaveLength(1);
    expect(results(run).pagerduty?.error).toBe(`PagerDuty trigger: HTTP 308 redirect to ${elsewhere.url} not followed: it leaves https (after 1 attempt)`);
    expectNoLeaks(run, [PAGERDUTY_KEY, WEBHOOK_SECRET]);
  });

  it('a redirect on the same origin is still followed, with the body', async () => {
    fake.script('webhook', { status: 308, headers: { location: '/webhook' } });
    const run = await runAction('notify', { status: 'success', 'webhook-url': fake.urls().webhook, 'webhook-secret': WEBHOOK_SECRET }, environment());
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    expect(fake.of('webhook').map((r) => r.json !== undefined && r.problems.length === 0)).toEqual([true, true]);
  });
});
