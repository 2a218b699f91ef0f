import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEnv } from '../../../test/helpers/run-env';
import { runAction } from '../../../test/helpers/action';
import { freePort } from '../../../test/helpers/net';
import { GITHUB_TOKEN, PAGERDUTY_KEY, SLACK_CHANNEL_ID, SLACK_TOKEN, SaasFake, WEBHOOK_SECRET } from '../../../test/fakes/saas';
import { SMTP_PASS, startSmtp, type Smtp } from '../../../test/fakes/smtp';

const RUN_ENV = runEnv('77');

/** The runner consumes `::add-mask::` commands and never shows them; every other line is visible in the log. */
function withoutMaskCommands(log: string): string {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

let fake: SaasFake;
let smtp: Smtp;
beforeAll(async () => {
  fake = await new SaasFake().start();
  smtp = await startSmtp();
});
afterAll(async () => {
  await Promise.all([fake.close(), smtp.close()]);
});

describe('dist/notify/index.js as the runner runs it', () => {
  it('delivers everywhere, writes outputs and summary, and never prints a secret', async () => {
    const u = fake.urls();
    const secrets = {
      'slack-webhook-url': u.slack,
      'slack-token': SLACK_TOKEN,
      'teams-webhook-url': u.teams,
      'discord-webhook-url': u.discord,
      'pagerduty-routing-key': PAGERDUTY_KEY,
      'webhook-url': u.webhook,
      'webhook-secret': WEBHOOK_SECRET,
      'email-smtp-url': smtp.url,
    };
    fake.script('slack', { status: 429, headers: { 'retry-after': '1' } });
    const run = await runAction(
      'notify',
      {
        ...secrets,
        status: 'failure',
        message: 'Release {{ short_sha }} failed',
        fields: 'Stage: production',
        'slack-channel': SLACK_CHANNEL_ID,
        'slack-api-url': u.slackApi,
        'pagerduty-events-url': u.pagerduty,
        'email-from': 'ci@acme.test',
        'email-to': 'ops@acme.test',
        timeout: '5s',
        retries: '2',
      },
      RUN_ENV,
    );
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const results = JSON.parse(run.outputs.results ?? '{}') as Record<string, { ok: boolean; attempts: number }>;
    expect(Object.keys(results).sort()).toEqual(['discord', 'email', 'pagerduty', 'slack', 'slack-api', 'teams', 'webhook']);
    expect(Object.values(results).every((r) => r.ok)).toBe(true);
    expect(results.slack?.attempts).toBe(2);
    expect(run.outputs.sent).toBe('true');
    expect(run.outputs['slack-channel']).toBe(SLACK_CHANNEL_ID);
    expect(run.outputs['slack-ts']).toMatch(/^\d+\.\d+$/);
    expect(run.outputs['pagerduty-dedup-key']).toBe('slipway/acme/shop/Release/refs/heads/main');
    expect(run.summary).toContain('❌ Release failed on main');
    expect(run.summary).toContain('Release c0ffee0 failed');
    expect(run.summary).toMatch(/<td>teams<\/td><td>✅ delivered<\/td><td>202<\/td><td>1<\/td>/);
    expect(run.summary).toContain('[View run](https://github.com/acme/shop/actions/runs/77)');
    expect(fake.received.flatMap((r) => r.problems)).toEqual([]);
    expect(smtp.mails).toHaveLength(1);

    // Every secret was registered for masking, and none appears in clear anywhere in the output.
    const printed = withoutMaskCommands(run.stdout + run.stderr) + run.summary;
    for (const value of [...Object.values(secrets), SMTP_PASS, 'slipwaywebhooksecret', 'discordsecrettoken']) {
      expect(printed.includes(value), `secret ${value.slice(0, 12)}… printed`).toBe(false);
    }
    // Tokens are registered whole; of a URL only its credential parts, never the whole URL or the host,
    // which would mask every later mention of the host. Workflow commands escape % as %25.
    const masks = run.stdout.split('\n').filter((line) => line.startsWith('::add-mask::'));
    for (const value of [SLACK_TOKEN, PAGERDUTY_KEY, WEBHOOK_SECRET, 'slipwaywebhooksecret', 'teamssecretsig', 'discordsecrettoken']) {
      expect(masks).toContain(`::add-mask::${value}`);
    }
    expect(masks.filter((line) => line.includes('127.0.0.1'))).toEqual([]);
  });

  it('fails the step after trying every channel when one cannot deliver', async () => {
    fake.reset();
    fake.script('discord', ...Array.from({ length: 2 }, () => ({ status: 503 })));
    const u = fake.urls();
    const run = await runAction(
      'notify',
      { status: 'success', 'discord-webhook-url': u.discord, 'webhook-url': u.webhook, retries: '1' },
      RUN_ENV,
    );
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain('::error::1 of 2 channels failed: discord (Discord webhook: HTTP 503 (after 2 attempts))');
    expect(JSON.parse(run.outputs.results ?? '{}')).toMatchObject({ webhook: { ok: true }, discord: { ok: false, attempts: 2 } });
    expect(fake.of('webhook')).toHaveLength(1);
    expect(run.summary).toContain('❌ failed');
  });

  it('with fail-on-error false, reports the failure and succeeds', async () => {
    fake.reset();
    const closed = await freePort();
    const run = await runAction('notify', { status: 'success', 'webhook-url': `http://127.0.0.1:${closed}/`, retries: '0', 'fail-on-error': 'false' }, RUN_ENV);
    expect(JSON.parse(run.outputs.results ?? '{}').webhook.error).toContain('ECONNREFUSED');
    expect(run.exitCode).toBe(0);
    expect(run.outputs.sent).toBe('false');
  });

  it('rejects a malformed input with exit code 1 and a message naming it, sending nothing', async () => {
    fake.reset();
    const run = await runAction('notify', { status: 'failure', 'teams-webhook-url': fake.urls().teams, 'email-smtp-url': smtp.url, 'email-from': 'ci@acme.test', 'email-to': 'ops at acme' }, RUN_ENV);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain(`::error::Input 'email-to' is invalid: got "ops at acme"; expected an e-mail address`);
    expect(fake.received).toHaveLength(0);
    expect(withoutMaskCommands(run.stdout)).not.toContain(SMTP_PASS);
  });
});

describe('dist/notify/index.js and GitHub\'s rate limits', () => {
  // notify-on: change looks up this run and the previous one on its branch.
  const runs = [
    { id: 77, workflow_id: 7, head_branch: 'main', conclusion: null, status: 'in_progress', created_at: '2026-11-22T10:00:00Z' },
    { id: 76, workflow_id: 7, head_branch: 'main', conclusion: 'success', status: 'completed', created_at: '2026-11-21T10:00:00Z' },
  ];
  it.each(['secondary', 'primary'] as const)('a %s rate limit is waited for and retried: an unchanged status still sends nothing', async (kind) => {
    fake.reset();
    fake.runs = runs;
    fake.rateLimit(kind);
    const run = await runAction('notify', { status: 'success', 'notify-on': 'change', 'github-token': GITHUB_TOKEN, 'webhook-url': fake.urls().webhook }, { ...RUN_ENV, GITHUB_API_URL: fake.urls().github });
    expect(run.exitCode, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/GitHub API \(this run\): HTTP 403; retrying in \d/);
    expect(fake.of('github').map((r) => r.path.split('?')[0])).toEqual(['/github/repos/acme/shop/actions/runs/77', '/github/repos/acme/shop/actions/runs/77', '/github/repos/acme/shop/actions/workflows/7/runs']);
    expect(run.outputs.sent).toBe('false');
    expect(fake.of('webhook')).toHaveLength(0);
  });
});
