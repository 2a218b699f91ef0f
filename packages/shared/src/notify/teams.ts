import type { RetryPolicy } from '../retry';
import { postJson } from '../http';
import type { Endpoint } from '../secrets/index';
import type { Delivery } from './channel';
import { headline, provenance, STYLES, type Notification } from './message';
import { truncate } from './text';

/** Teams rejects messages over 28 KB. */
export const TEAMS_MAX_BYTES = 28 * 1024;

/**
 * The message a Teams Workflows ("When a Teams webhook request is received") webhook expects: one
 * Adaptive Card attachment. Office 365 connector MessageCards are retired.
 */
export function buildTeamsMessage(n: Notification, messageLimit = 20_000, factLimit = 2000): Record<string, unknown> {
  const style = STYLES[n.status];
  const body: Record<string, unknown>[] = [
    {
      type: 'Container',
      style: style.cardStyle,
      bleed: true,
      items: [{ type: 'TextBlock', text: headline(n), weight: 'Bolder', size: 'Medium', wrap: true }],
    },
  ];
  if (n.message.trim()) body.push({ type: 'TextBlock', text: truncate(n.message, messageLimit), wrap: true });
  if (n.fields.length) body.push({ type: 'FactSet', facts: n.fields.map(([title, value]) => ({ title: truncate(title, 200), value: truncate(value, factLimit) })) });
  const footer = provenance(n.context);
  if (footer) body.push({ type: 'TextBlock', text: footer, isSubtle: true, size: 'Small', wrap: true });
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.4',
    msteams: { width: 'Full' },
    body,
    ...(n.links.length ? { actions: n.links.map((link) => ({ type: 'Action.OpenUrl', title: link.text, url: link.url })) } : {}),
  };
  const message = {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
  };
  // Shrink the message and fact values until the whole card fits, rather than have Teams refuse it.
  const size = Buffer.byteLength(JSON.stringify(message));
  if (size > TEAMS_MAX_BYTES && (messageLimit > 50 || factLimit > 20)) {
    const factor = Math.min(0.8, TEAMS_MAX_BYTES / size);
    return buildTeamsMessage(n, Math.floor(messageLimit * factor), Math.max(20, Math.floor(factLimit * factor)));
  }
  return message;
}

export async function sendTeams(webhook: Endpoint, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  const response = await postJson('Teams webhook', webhook.url, buildTeamsMessage(n), policy, webhook.headers);
  return { result: { ok: true, status: response.status, attempts: response.attempts } };
}
