import type { RetryPolicy } from '../retry';
import { postJson } from '../http';
import type { Endpoint } from '../secrets/index';
import type { Delivery } from './channel';
import { headline, provenance, STYLES, type Notification } from './message';
import { truncate } from './text';

// https://discord.com/developers/docs/resources/message#embed-object-embed-limits
const LIMITS = { title: 256, description: 4096, fields: 25, fieldName: 256, fieldValue: 1024, footer: 2048, total: 6000 };

export function buildDiscordMessage(n: Notification): Record<string, unknown> {
  const title = truncate(headline(n), LIMITS.title);
  const footer = truncate(provenance(n.context), LIMITS.footer);
  const candidates = n.fields.slice(0, LIMITS.fields - 1).map(([name, value]) => ({
    name: truncate(name || '\u200b', LIMITS.fieldName),
    value: truncate(value || '\u200b', LIMITS.fieldValue),
    inline: value.length <= 40,
  }));
  if (n.links.length) {
    const value = n.links.map((link) => `[${link.text}](${link.url})`).join(' · ');
    candidates.unshift({ name: 'Links', value: truncate(value, LIMITS.fieldValue), inline: false });
  }
  // All text in an embed counts towards 6000 characters. Keep up to 1000 for the message, give fields
  // what is left in order (links first), then the message takes whatever remains.
  const budget = LIMITS.total - title.length - footer.length;
  let used = 0;
  const fields = candidates.filter((f) => {
    const size = f.name.length + f.value.length;
    if (used + size > budget - Math.min(n.message.length, 1000)) return false;
    used += size;
    return true;
  });
  const description = truncate(n.message, Math.max(0, Math.min(LIMITS.description, budget - used)));
  const embed: Record<string, unknown> = {
    title,
    color: Number.parseInt(STYLES[n.status].color.slice(1), 16),
    timestamp: n.timestamp.toISOString(),
    ...(description ? { description } : {}),
    ...(fields.length ? { fields } : {}),
    ...(footer ? { footer: { text: footer } } : {}),
    ...(n.context.runUrl ? { url: n.context.runUrl } : {}),
  };
  // No @everyone or role pings from text that came from a commit message or PR title.
  return { embeds: [embed], allowed_mentions: { parse: [] } };
}

export async function sendDiscord(webhook: Endpoint, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  const response = await postJson('Discord webhook', webhook.url, buildDiscordMessage(n), policy, webhook.headers);
  return { result: { ok: true, status: response.status, attempts: response.attempts } };
}
