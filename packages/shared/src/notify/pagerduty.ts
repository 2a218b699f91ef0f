import type { RetryPolicy } from '../retry';
import { postJson } from '../http';
import type { Endpoint } from '../secrets/index';
import type { Delivery } from './channel';
import { headline, type Notification, type Status } from './message';
import { truncate } from './text';

export const PAGERDUTY_ACTIONS = ['auto', 'trigger', 'acknowledge', 'resolve'] as const;
export type PagerDutyAction = (typeof PAGERDUTY_ACTIONS)[number];
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];
export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

export interface PagerDutyOptions {
  routingKey: string;
  action: PagerDutyAction;
  severity: PagerDutySeverity;
  dedupKey: string;
  events: Endpoint;
}

/** `auto` pages on failure and resolves on success; other statuses don't page anyone. */
export function resolveAction(action: PagerDutyAction, status: Status): Exclude<PagerDutyAction, 'auto'> | undefined {
  if (action !== 'auto') return action;
  if (status === 'failure') return 'trigger';
  if (status === 'success') return 'resolve';
  return undefined;
}

/**
 * The same key for every run of a workflow on a ref, so that a later success resolves the incident a
 * failure opened. PagerDuty allows 255 characters.
 */
export function defaultDedupKey(n: Pick<Notification, 'context'>): string {
  const { repo, workflow, ref } = n.context;
  return truncate(`slipway/${repo}/${workflow}/${ref}`, 255);
}

export function buildPagerDutyEvent(options: PagerDutyOptions, eventAction: string, n: Notification): Record<string, unknown> {
  const event: Record<string, unknown> = {
    routing_key: options.routingKey,
    event_action: eventAction,
    dedup_key: options.dedupKey,
  };
  if (eventAction === 'trigger') {
    event.payload = {
      summary: truncate(headline(n), 1024),
      source: n.context.repo || 'slipway',
      severity: options.severity,
      timestamp: n.timestamp.toISOString(),
      component: n.context.workflow || undefined,
      group: n.context.repo || undefined,
      class: 'ci',
      custom_details: {
        ...Object.fromEntries(n.fields),
        ...(n.message ? { message: truncate(n.message, 8192) } : {}),
        ...(n.context.runUrl ? { run_url: n.context.runUrl } : {}),
      },
    };
    event.links = n.links.map((link) => ({ href: link.url, text: link.text }));
    event.client = 'Slipway';
    if (n.context.runUrl) event.client_url = n.context.runUrl;
  }
  return event;
}

export async function sendPagerDuty(options: PagerDutyOptions, n: Notification, policy: RetryPolicy): Promise<Delivery> {
  const outputs = { 'pagerduty-dedup-key': options.dedupKey };
  const eventAction = resolveAction(options.action, n.status);
  if (!eventAction) {
    return { result: { ok: true, status: null, attempts: 0, skipped: `pagerduty-action auto sends nothing for status ${n.status}` }, outputs };
  }
  const response = await postJson(`PagerDuty ${eventAction}`, options.events.url, buildPagerDutyEvent(options, eventAction, n), policy, options.events.headers);
  return { result: { ok: true, status: response.status, attempts: response.attempts }, outputs };
}
