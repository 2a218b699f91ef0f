import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { notify } from '@slipway/shared';
import { readInputs } from '../src/inputs';
import { runEnv } from '../../../test/helpers/run-env';
import { withInputs } from '../../../test/helpers/inputs';
import { GITHUB_TOKEN, PAGERDUTY_KEY, SLACK_CHANNEL_ID, SLACK_TOKEN, SaasFake, WEBHOOK_SECRET } from '../../../test/fakes/saas';
import { startSmtp, type Smtp, SMTP_PASS } from '../../../test/fakes/smtp';

const RUN_ENV = runEnv('1002');

let fake: SaasFake;
let smtp: Smtp;
let smtps: Smtp;
let starttls: Smtp;

beforeAll(async () => {
  Object.assign(process.env, RUN_ENV);
  fake = await new SaasFake().start();
  smtp = await startSmtp();
  smtps = await startSmtp({ mode: 'tls' });
  starttls = await startSmtp({ mode: 'starttls' });
});
afterAll(async () => {
  await Promise.all([fake.close(), smtp.close(), smtps.close(), starttls.close()]);
});
beforeEach(() => {
  fake.reset();
  smtp.mails.length = 0;
  smtps.mails.length = 0;
});

function allChannels(): Record<string, string> {
  return {
    ...fake.channelInputs(),
    'email-smtp-url': smtp.url,
    'email-from': 'Slipway <ci@acme.test>',
    'email-to': 'ops@acme.test, dev@acme.test',
    'email-cc': 'lead@acme.test',
    timeout: '3s',
    retries: '2',
  };
}

async function send(inputs: Record<string, string>) {
  return withInputs(inputs, async () => {
    const config = await readInputs();
    return { config, report: await notify.notify(config) };
  });
}

function problems() {
  return fake.received.filter((r) => r.problems.length).map((r) => `${r.service}: ${r.problems.join(', ')}`);
}

describe('notify channels', () => {
  it('delivers a failure to every channel at once, in the shape each service accepts', async () => {
    const { report } = await send({
      ...allChannels(),
      status: 'failure',
      title: 'Deploy of {{ repo }} {{ status }}',
      message: 'Smoke tests **failed** on `staging`.\n\n<script>alert(1)</script> [logs](https://logs.acme.test/1)',
      fields: 'Environment: staging\nVersion: {{ short_sha }}',
      links: 'Dashboard|https://grafana.acme.test/d/1',
    });
    expect(problems()).toEqual([]);
    for (const name of ['slack', 'slack-api', 'teams', 'discord', 'pagerduty', 'webhook', 'email']) {
      expect(report.results[name], name).toMatchObject({ ok: true, attempts: 1 });
    }
    expect(report.sent).toBe(true);
    expect(report.outputs['slack-channel']).toBe(SLACK_CHANNEL_ID);
    expect(report.outputs['slack-ts']).toMatch(/^\d+\.\d+$/);
    expect(report.outputs['pagerduty-dedup-key']).toBe('slipway/acme/shop/Release/refs/heads/main');

    const slack = fake.of('slack')[0]!.json as { text: string; attachments: { color: string; blocks: { type: string; text?: { text: string } }[] }[] };
    expect(slack.attachments[0]!.color).toBe('#e01e5a');
    expect(slack.attachments[0]!.blocks[0]!.text!.text).toBe('❌ Deploy of acme/shop failure');
    expect(slack.attachments[0]!.blocks[1]!.text!.text).toContain('Smoke tests *failed*');
    expect(slack.attachments[0]!.blocks[1]!.text!.text).toContain('&lt;script&gt;');
    expect(slack.attachments[0]!.blocks[1]!.text!.text).toContain('<https://logs.acme.test/1|logs>');

    const pd = fake.of('pagerduty')[0]!.json as { event_action: string; payload: { severity: string; custom_details: Record<string, string> } };
    expect(pd.event_action).toBe('trigger');
    expect(pd.payload.severity).toBe('error');
    expect(pd.payload.custom_details.Version).toBe('c0ffee0');

    const hook = fake.of('webhook')[0]!;
    expect(hook.headers['x-slipway-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(hook.json).toMatchObject({ status: 'failure', repository: 'acme/shop', fields: { Environment: 'staging' } });

    const mail = smtp.mails[0]!;
    expect(mail.subject).toBe('❌ Deploy of acme/shop failure');
    expect(mail.to && !Array.isArray(mail.to) && mail.to.value.map((a) => a.address)).toEqual(['ops@acme.test', 'dev@acme.test']);
    expect(mail.text).toContain('Environment: staging');
    expect(mail.html).toContain('<strong>failed</strong>');
    expect(mail.html).toContain('&lt;script&gt;');
    expect(mail.html).not.toContain('<script>');
  });

  it('waits as told by Retry-After after a 429, then delivers', async () => {
    fake.script('teams', { status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const { report } = await send({ status: 'success', 'teams-webhook-url': fake.urls().teams });
    expect(report.results.teams).toMatchObject({ ok: true, status: 202, attempts: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('keeps delivering on the other channels while one fails with 500 until its retries run out', async () => {
    fake.script('discord', ...Array.from({ length: 3 }, () => ({ status: 500, body: '{"message": "Internal Server Error"}' })));
    const { report } = await send({ ...allChannels(), status: 'success' });
    expect(report.results.discord).toMatchObject({ ok: false, status: 500, attempts: 3 });
    expect(report.results.discord?.error).toContain('Discord webhook: HTTP 500');
    expect(fake.of('discord')).toHaveLength(3);
    for (const name of ['slack', 'slack-api', 'teams', 'webhook', 'email', 'pagerduty']) expect(report.results[name]?.ok, name).toBe(true);
    expect(report.sent).toBe(true);
  });

  it('gives up on a channel that does not answer in time', async () => {
    fake.script('webhook', { status: 200, delayMs: 5000 }, { status: 200, delayMs: 5000 });
    const { report } = await send({ status: 'info', 'webhook-url': fake.urls().webhook, timeout: '300ms', retries: '1' });
    expect(report.results.webhook).toMatchObject({ ok: false, status: null, attempts: 2 });
    expect(report.results.webhook?.error).toBe('Webhook: no response within 300ms (after 2 attempts)');
  });

  it('keeps every payload within the services’ limits for very long input', async () => {
    const fields = Array.from({ length: 60 }, (_, i) => `Field ${i}: ${'v'.repeat(3000)}`).join('\n');
    const links = Array.from({ length: 30 }, (_, i) => `Link ${i} ${'x'.repeat(100)}|https://acme.test/${i}`).join('\n');
    const { report } = await send({ ...allChannels(), status: 'failure', title: 'T'.repeat(400), message: '😀'.repeat(30_000), fields, links });
    expect(problems()).toEqual([]);
    for (const [name, r] of Object.entries(report.results)) expect(r.ok, `${name}: ${r.error}`).toBe(true);
    const discord = fake.of('discord')[0]!.json as { embeds: { description: string }[] };
    expect(discord.embeds[0]!.description.endsWith('…')).toBe(true);
  });

  it('replies in a thread and updates an earlier Slack message', async () => {
    const base = { status: 'success', 'slack-token': SLACK_TOKEN, 'slack-channel': SLACK_CHANNEL_ID, 'slack-api-url': fake.urls().slackApi };
    const first = await send(base);
    const ts = first.report.outputs['slack-ts']!;
    await send({ ...base, 'slack-thread-ts': ts });
    await send({ ...base, 'slack-update-ts': ts });
    const [post, reply, update] = fake.of('slack-api');
    expect(post!.path).toBe('/slack/api/chat.postMessage');
    expect(reply!.json).toMatchObject({ thread_ts: ts });
    expect(update!.path).toBe('/slack/api/chat.update');
    expect(update!.json).toMatchObject({ ts, channel: SLACK_CHANNEL_ID });
    expect(problems()).toEqual([]);
  });

  it('reports a Slack Web API error given with HTTP 200', async () => {
    const { report } = await send({ status: 'success', 'slack-token': 'xoxb-wrong-token', 'slack-channel': SLACK_CHANNEL_ID, 'slack-api-url': fake.urls().slackApi });
    expect(report.results['slack-api']).toMatchObject({ ok: false, status: 200 });
    expect(report.results['slack-api']?.error).toBe('Slack chat.postMessage: invalid_auth');
  });

  it('resolves on success what a failure triggered, with the same dedup key', async () => {
    const inputs = { 'pagerduty-routing-key': PAGERDUTY_KEY, 'pagerduty-events-url': fake.urls().pagerduty };
    await send({ ...inputs, status: 'failure' });
    await send({ ...inputs, status: 'success' });
    const info = await send({ ...inputs, status: 'info' });
    const [trigger, resolve] = fake.of('pagerduty').map((r) => r.json as { event_action: string; dedup_key: string });
    expect(trigger!.event_action).toBe('trigger');
    expect(resolve!.event_action).toBe('resolve');
    expect(resolve!.dedup_key).toBe(trigger!.dedup_key);
    expect(fake.of('pagerduty')).toHaveLength(2);
    expect(info.report.results.pagerduty).toMatchObject({ ok: true, attempts: 0 });
    expect(info.report.results.pagerduty?.skipped).toContain('auto');
  });

  it('sends a custom webhook payload, rendered and signed', async () => {
    process.env.NOTE = 'from "the" env';
    try {
      await send({
        status: 'success',
        'webhook-url': fake.urls().webhook,
        'webhook-secret': WEBHOOK_SECRET,
        'template-env': 'NOTE, UNSET_NOTE',
        'webhook-payload': 'event: deploy\nsha: "{{ sha }}"\nnote: "{{ env.NOTE }}"\nempty: "{{ env.UNSET_NOTE }}"\nother: "{{ env.HOME }}"',
      });
    } finally {
      delete process.env.NOTE;
    }
    expect(fake.of('webhook')[0]!.json).toEqual({ event: 'deploy', sha: RUN_ENV.GITHUB_SHA, note: 'from "the" env', empty: '', other: '{{ env.HOME }}' });
    expect(problems()).toEqual([]);
  });

  it('delivers a message that mentions an unknown placeholder, leaving it as text', async () => {
    const { report } = await send({ status: 'success', 'webhook-url': fake.urls().webhook, message: 'Fix rendering of {{ item.name }} in {{ repo }}' });
    expect(report.results.webhook).toMatchObject({ ok: true });
    expect(fake.of('webhook')[0]!.json).toMatchObject({ message: 'Fix rendering of {{ item.name }} in acme/shop' });
  });

  it('sends the user-info of a webhook URL as Basic auth, not in the URL', async () => {
    const url = new URL(fake.urls().webhook);
    url.username = 'hook-user';
    url.password = 'p@ss/w0rd';
    const { report } = await send({ status: 'success', 'webhook-url': url.href });
    expect(report.results.webhook).toMatchObject({ ok: true });
    expect(fake.of('webhook')[0]!.headers.authorization).toBe(`Basic ${Buffer.from('hook-user:p@ss/w0rd').toString('base64')}`);
  });

  it('mails over implicit TLS and retries a greylisting 451', async () => {
    smtps.rejectNext.push(451);
    const { report } = await withInputs(
      { status: 'success', 'email-smtp-url': smtps.url, 'email-from': 'ci@acme.test', 'email-to': 'ops@acme.test', 'email-ca': smtps.ca ?? '', retries: '2' },
      async () => ({ report: await notify.notify(await readInputs()) }),
    );
    expect(report.results.email).toMatchObject({ ok: true, status: 250, attempts: 2 });
    expect(smtps.mails).toHaveLength(1);
  });

  it('upgrades smtp:// with STARTTLS before authenticating', async () => {
    const { report } = await send({
      status: 'success',
      'email-smtp-url': starttls.url,
      'email-from': 'ci@acme.test',
      'email-to': 'ops@acme.test',
      'email-ca': starttls.ca ?? '',
    });
    expect(report.results.email).toMatchObject({ ok: true, status: 250 });
    expect(starttls.encrypted).toEqual([true]);
  });

  it('refuses a server certificate it cannot verify', async () => {
    const { report } = await send({ status: 'success', 'email-smtp-url': smtps.url, 'email-from': 'ci@acme.test', 'email-to': 'ops@acme.test', retries: '0' });
    expect(report.results.email?.ok).toBe(false);
    expect(report.results.email?.error).toMatch(/certificate/i);
    expect(report.results.email?.error).not.toContain(SMTP_PASS);
  });
});

describe('notify-on', () => {
  const runs = (previous: string | null) => [
    { id: 1002, workflow_id: 7, head_branch: 'main', conclusion: null, status: 'in_progress', created_at: '2026-11-22T10:00:00Z' },
    { id: 1001, workflow_id: 7, head_branch: 'main', conclusion: previous, status: 'completed', created_at: '2026-11-21T10:00:00Z' },
    { id: 999, workflow_id: 7, head_branch: 'feature', conclusion: 'failure', status: 'completed', created_at: '2026-11-21T11:00:00Z' },
  ];
  const inputs = () => ({ 'notify-on': 'change', 'github-token': GITHUB_TOKEN, 'webhook-url': fake.urls().webhook });
  beforeAll(() => {
    process.env.GITHUB_API_URL = fake.urls().github;
  });
  afterAll(() => {
    delete process.env.GITHUB_API_URL;
  });

  it('sends when the status changed since the previous run on this branch', async () => {
    fake.runs = runs('success');
    const { report } = await send({ ...inputs(), status: 'failure' });
    expect(report.sent).toBe(true);
    const list = fake.of('github').find((r) => r.path.includes('/workflows/7/runs'));
    expect(list?.path).toContain('branch=main');
    expect(list?.path).toContain('status=completed');
    expect(problems()).toEqual([]);
  });

  it('stays quiet when the status is unchanged, and counts timed_out as failure', async () => {
    fake.runs = runs('timed_out');
    const { report } = await send({ ...inputs(), status: 'failure' });
    expect(report).toMatchObject({ sent: false, results: {} });
    expect(report.skippedReason).toBe('status failure is unchanged since the previous run');
    expect(fake.of('webhook')).toHaveLength(0);
  });

  it('sends on the first run and when the API cannot be read', async () => {
    fake.runs = runs(null).slice(0, 1);
    expect((await send({ ...inputs(), status: 'success' })).report.sent).toBe(true);
    expect((await send({ ...inputs(), 'github-token': 'wrong', status: 'success' })).report.sent).toBe(true);
  });

  it('filters on failure and success', async () => {
    expect((await send({ status: 'success', 'notify-on': 'failure', 'webhook-url': fake.urls().webhook })).report.sent).toBe(false);
    expect((await send({ status: 'failure', 'notify-on': 'failure', 'webhook-url': fake.urls().webhook })).report.sent).toBe(true);
  });
});

describe('bad input fails before anything is sent', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'email-to': 'not-an-address' }, /Input 'email-to' is invalid: got "not-an-address"/],
    [{ 'email-smtp-url': 'http://x:y@mail.acme.test' }, /Input 'email-smtp-url' is invalid: got "http:\/\/mail.acme.test\/\*\*\*"/],
    [{ 'pagerduty-routing-key': 'short' }, /Input 'pagerduty-routing-key' is invalid: got "\*\*\*"; expected the 32-character/],
    [{ 'discord-webhook-url': 'http://discord.example.com/api/webhooks/1/tok' }, /Input 'discord-webhook-url'.*https:\/\/ URL/],
    [{ status: 'green' }, /Input 'status' is invalid: got "green"/],
    [{ 'template-env': 'INPUT_SLACK-TOKEN' }, /Input 'template-env' is invalid: got "INPUT_SLACK-TOKEN"; expected names of variables that hold no credential/],
    [{ 'slack-api-url': 'https://u:p@slack.example.com/api' }, /Input 'slack-api-url' is invalid: got "https:\/\/slack.example.com\/\*\*\*"/],
    [{ links: 'no url here' }, /Input 'links' is invalid/],
    [{ timeout: 'soon' }, /Input 'timeout' is invalid/],
    [{ 'slack-channel': '' }, /Input 'slack-channel' is invalid/],
    [{ 'webhook-payload': '{ not yaml: [' }, /Input 'webhook-payload' is invalid/],
  ];
  it.each(cases)('%o', async (override, message) => {
    const inputs = { ...allChannels(), status: 'failure', ...override };
    await expect(withInputs(inputs, () => readInputs())).rejects.toThrow(message);
    expect(fake.received).toHaveLength(0);
    expect(smtp.mails).toHaveLength(0);
  });
});

describe('defaults', () => {
  it('in code are the ones action.yml declares', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const yml = parse(readFileSync(new URL('../action.yml', import.meta.url), 'utf8')) as { inputs: Record<string, { default?: string }> };
    // Expressions are evaluated by the runner; fill them with what it would give.
    const declared = Object.fromEntries(
      Object.entries(yml.inputs)
        .filter(([, spec]) => spec.default !== undefined && !String(spec.default).includes('${{'))
        .map(([name, spec]) => [name, String(spec.default)]),
    );
    const channels = { 'pagerduty-routing-key': PAGERDUTY_KEY, 'slack-token': SLACK_TOKEN, 'slack-channel': SLACK_CHANNEL_ID, status: 'success' };
    const strip = (c: Awaited<ReturnType<typeof readInputs>>) => ({ ...c, notification: { ...c.notification, timestamp: 0 } });
    const bare = strip(await withInputs(channels, () => readInputs()));
    const withDefaults = strip(await withInputs({ ...declared, ...channels }, () => readInputs()));
    expect(bare).toEqual(withDefaults);
  });
});
