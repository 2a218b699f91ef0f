import { createHmac } from 'node:crypto';
import type { RetryPolicy } from '../retry';
import { postJson } from '../http';
import type { Endpoint } from '../secrets/index';
import type { Delivery } from './channel';
import type { Notification } from './message';

export const SIGNATURE_HEADER = 'x-slipway-signature-256';

/** `sha256=<hex HMAC-SHA256 of the exact body bytes>`, as GitHub signs its own webhooks. */
export function sign(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export function defaultWebhookPayload(n: Notification): Record<string, unknown> {
  const c = n.context;
  return {
    status: n.status,
    title: n.title,
    message: n.message,
    fields: Object.fromEntries(n.fields),
    links: n.links,
    repository: c.repo,
    sha: c.sha,
    ref: c.ref,
    actor: c.actor,
    workflow: c.workflow,
    run_id: c.runId,
    run_url: c.runUrl,
    timestamp: n.timestamp.toISOString(),
  };
}

export interface WebhookOptions {
  endpoint: Endpoint;
  secret?: string;
  /** The body to send instead of the default payload (already rendered). */
  payload?: unknown;
}

export async function sendWebhook(options: WebhookOptions, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  // Sign the exact string that is sent: the receiver verifies bytes, not a re-serialised object.
  const body = JSON.stringify(options.payload ?? defaultWebhookPayload(n));
  const headers: Record<string, string> = { ...options.endpoint.headers, 'x-slipway-event': 'notification' };
  if (options.secret) headers[SIGNATURE_HEADER] = sign(body, options.secret);
  const response = await postJson('Webhook', options.endpoint.url, body, policy, headers);
  return { result: { ok: true, status: response.status, attempts: response.attempts } };
}
