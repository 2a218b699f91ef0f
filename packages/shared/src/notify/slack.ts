import type { RetryPolicy } from '../retry';
import { HttpError, postJson } from '../http';
import { redactUrlEcho, type Endpoint } from '../secrets/index';
import type { Delivery } from './channel';
import { headline, provenance, STYLES, type Notification } from './message';
import { markdownToSlack, truncate } from './text';

// Block Kit limits: https://docs.slack.dev/reference/block-kit/blocks
const LIMITS = { header: 150, section: 3000, field: 2000, fieldsPerSection: 10, blocks: 50, button: 75, url: 3000, text: 4000 };

export interface SlackMessage {
  text: string;
  attachments: { color: string; blocks: Record<string, unknown>[] }[];
}

/** Block Kit message inside a coloured attachment; `text` is the notification/fallback line. */
export function buildSlackMessage(n: Notification): SlackMessage {
  const blocks: Record<string, unknown>[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(headline(n), LIMITS.header), emoji: true } },
  ];
  if (n.message.trim()) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(markdownToSlack(n.message), LIMITS.section) } });
  }
  for (let i = 0; i < n.fields.length; i += LIMITS.fieldsPerSection) {
    blocks.push({
      type: 'section',
      fields: n.fields.slice(i, i + LIMITS.fieldsPerSection).map(([key, value]) => ({
        type: 'mrkdwn',
        text: truncate(`*${markdownToSlack(key)}*\n${markdownToSlack(value)}`, LIMITS.field),
      })),
    });
  }
  const links = n.links.filter((link) => link.url.length <= LIMITS.url).slice(0, 25);
  if (links.length) {
    blocks.push({
      type: 'actions',
      elements: links.map((link, i) => ({
        type: 'button',
        action_id: `slipway_link_${i}`,
        text: { type: 'plain_text', text: truncate(link.text, LIMITS.button), emoji: true },
        url: link.url,
      })),
    });
  }
  const footer = provenance(n.context);
  if (footer) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(markdownToSlack(footer), LIMITS.section) }] });
  // Leave room for the header, context and actions blocks when many field sections were added.
  const kept = blocks.length > LIMITS.blocks ? [...blocks.slice(0, LIMITS.blocks - 2), ...blocks.slice(-2)] : blocks;
  return {
    text: truncate(`${headline(n)}${n.message ? `\n${markdownToSlack(n.message)}` : ''}`, LIMITS.text),
    attachments: [{ color: STYLES[n.status].color, blocks: kept }],
  };
}

export function sendSlackWebhook(webhook: Endpoint, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  return postJson('Slack webhook', webhook.url, buildSlackMessage(n), policy, webhook.headers).then((response) => ({
    result: { ok: true, status: response.status, attempts: response.attempts },
  }));
}

export interface SlackApiOptions {
  token: string;
  channel: string;
  threadTs?: string;
  /** Update this earlier message (chat.update) instead of posting a new one. */
  updateTs?: string;
  /** The Web API base, e.g. https://slack.com/api. */
  api: Endpoint;
}

/**
 * chat.postMessage, a reply in a thread, or chat.update. The Web API answers HTTP 200 with
 * `ok: false` for errors such as `channel_not_found`, so the body decides success.
 */
export async function sendSlackApi(options: SlackApiOptions, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  const method = options.updateTs ? 'chat.update' : 'chat.postMessage';
  const payload = {
    channel: options.channel,
    ...buildSlackMessage(n),
    ...(options.updateTs ? { ts: options.updateTs } : {}),
    ...(options.threadTs && !options.updateTs ? { thread_ts: options.threadTs } : {}),
    unfurl_links: false,
  };
  const url = new URL(`${options.api.url.pathname.replace(/\/+$/, '')}/${method}`, options.api.url);
  const response = await postJson(`Slack ${method}`, url, payload, policy, { ...options.api.headers, authorization: `Bearer ${options.token}` });
  let body: { ok?: boolean; error?: string; ts?: string; channel?: string };
  try {
    body = JSON.parse(response.body) as typeof body;
  } catch {
    throw new HttpError(`Slack ${method}: the answer was not JSON`, response.attempts, response.status);
  }
  if (!body.ok) {
    // The error word comes from the server (or whatever answers in its place): quoted as an error body is.
    throw new HttpError(`Slack ${method}: ${redactUrlEcho(String(body.error ?? 'unknown error'), url).slice(0, 300)}`, response.attempts, response.status);
  }
  return {
    result: { ok: true, status: response.status, attempts: response.attempts },
    outputs: { 'slack-ts': body.ts ?? '', 'slack-channel': body.channel ?? '' },
  };
}
