import { describe, expect, it } from 'vitest';
import { getContext, notify, escapeHtml, withRetries } from '../src/index';

const context = getContext({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: 'abcdef1234567', GITHUB_ACTOR: 'octocat', GITHUB_WORKFLOW: 'CI', GITHUB_REF: 'refs/heads/main', GITHUB_RUN_ID: '9' });
const base: notify.Notification = { status: 'success', title: 'CI succeeded', message: '', fields: [], links: [], context, timestamp: new Date('2026-01-02T03:04:05Z') };

describe('text helpers', () => {
  it('truncates with an ellipsis and never splits a surrogate pair', () => {
    expect(notify.truncate('hello', 5)).toBe('hello');
    expect(notify.truncate('hello world', 6)).toBe('hello…');
    const cut = notify.truncate('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(cut.length).toBeLessThanOrEqual(4);
  });

  it('turns Markdown into Slack mrkdwn and escapes control characters', () => {
    expect(notify.markdownToSlack('**bold** and [docs](https://x.io/a?b=1) <b> & ~~old~~\n## Head')).toBe(
      '*bold* and <https://x.io/a?b=1|docs> &lt;b&gt; &amp; ~old~\n*Head*',
    );
  });
});

describe('payload builders', () => {
  it('picks colour, emoji and wording from the status', () => {
    expect(notify.defaultTitle('failure', context)).toBe('CI failed on main');
    expect(notify.defaultTitle('info', context)).toBe('CI');
    const slack = notify.buildSlackMessage({ ...base, status: 'failure' });
    expect(slack.attachments[0]?.color).toBe('#e01e5a');
    expect(slack.text.startsWith('❌')).toBe(true);
    const discord = notify.buildDiscordMessage(base) as { embeds: { color: number; url: string; footer: { text: string } }[] };
    expect(discord.embeds[0]).toMatchObject({ color: 0x2eb67d, url: 'https://github.com/acme/shop/actions/runs/9', footer: { text: 'acme/shop@abcdef1 by octocat' } });
  });

  it('splits many Slack fields into sections of ten', () => {
    const fields: [string, string][] = Array.from({ length: 23 }, (_, i) => [`k${i}`, `v${i}`]);
    const blocks = notify.buildSlackMessage({ ...base, fields }).attachments[0]?.blocks ?? [];
    expect(blocks.filter((b) => b.type === 'section').map((b) => (b.fields as unknown[]).length)).toEqual([10, 10, 3]);
  });

  it('keeps a Teams card under 28 KB', () => {
    const card = notify.buildTeamsMessage({ ...base, message: 'x'.repeat(100_000), fields: [['a', 'y'.repeat(50_000)]] });
    expect(Buffer.byteLength(JSON.stringify(card))).toBeLessThanOrEqual(notify.TEAMS_MAX_BYTES);
  });

  it('builds PagerDuty events: trigger with payload, resolve with only the key', () => {
    const options = { routingKey: 'k'.repeat(32), action: 'auto' as const, severity: 'critical' as const, dedupKey: notify.defaultDedupKey(base), events: { url: new URL(notify.PAGERDUTY_EVENTS_URL), headers: {} } };
    expect(notify.resolveAction('auto', 'failure')).toBe('trigger');
    expect(notify.resolveAction('auto', 'cancelled')).toBeUndefined();
    expect(notify.resolveAction('acknowledge', 'success')).toBe('acknowledge');
    const trigger = notify.buildPagerDutyEvent(options, 'trigger', { ...base, status: 'failure', links: [{ text: 'Run', url: 'https://x' }] });
    expect(trigger).toMatchObject({ event_action: 'trigger', dedup_key: 'slipway/acme/shop/CI/refs/heads/main', payload: { severity: 'critical', source: 'acme/shop' }, links: [{ href: 'https://x', text: 'Run' }] });
    expect(Object.keys(notify.buildPagerDutyEvent(options, 'resolve', base)).sort()).toEqual(['dedup_key', 'event_action', 'routing_key']);
  });

  it('signs the exact body with HMAC-SHA256', () => {
    // Reference value: printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac secret
    expect(notify.sign('{"a":1}', 'secret')).toBe('sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494');
  });

  it('decides notify-on', () => {
    expect(notify.decide('always', 'success').send).toBe(true);
    expect(notify.decide('failure', 'success').send).toBe(false);
    expect(notify.decide('change', 'failure', 'failure').send).toBe(false);
    expect(notify.decide('change', 'failure', 'success').send).toBe(true);
    expect(notify.decide('change', 'info', 'info').send).toBe(true);
    expect(notify.conclusionToStatus('timed_out')).toBe('failure');
  });
});

describe('summary and retry helpers', () => {
  it('escapes HTML in table cells', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('retries only transient errors and counts attempts', async () => {
    let calls = 0;
    const result = await withRetries('op', { retries: 3, timeoutMs: 1000, baseDelayMs: 1 }, async () => {
      if (++calls < 3) throw new Error('flaky');
      return 'done';
    }, () => true);
    expect(result).toEqual({ value: 'done', attempts: 3 });
    await expect(withRetries('op', { retries: 3, timeoutMs: 1000, baseDelayMs: 1 }, async () => { throw new Error('fatal'); }, () => false)).rejects.toMatchObject({ attempts: 1, message: 'op: fatal (after 1 attempt)' });
  });
});
