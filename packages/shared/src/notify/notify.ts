import * as core from '@actions/core';
import type { RunContext } from '../context';
import { attempts, type RetryPolicy } from '../retry';
import type { Endpoint } from '../secrets/index';
import { addTable } from '../summary';
import type { ChannelResult, Delivery } from './channel';
import { dispatch } from './dispatch';
import { sendDiscord } from './discord';
import { sendEmail, type EmailOptions } from './email';
import { headline, type Notification } from './message';
import { decide, previousRunStatus, type NotifyOn } from './notify-on';
import { sendPagerDuty, type PagerDutyOptions } from './pagerduty';
import { sendSlackApi, sendSlackWebhook, type SlackApiOptions } from './slack';
import { sendTeams } from './teams';
import { sendWebhook, type WebhookOptions } from './webhook';

export interface NotifyConfig {
  notification: Notification;
  notifyOn: NotifyOn;
  githubToken?: string;
  slackWebhook?: Endpoint;
  slackApi?: SlackApiOptions;
  teamsWebhook?: Endpoint;
  discordWebhook?: Endpoint;
  email?: EmailOptions;
  pagerDuty?: PagerDutyOptions;
  webhook?: WebhookOptions;
  policy: RetryPolicy;
}

export interface NotifyReport {
  sent: boolean;
  /** Why nothing was sent, when notify-on filtered the notification out. */
  skippedReason?: string;
  results: Record<string, ChannelResult>;
  outputs: Record<string, string>;
}

/** The channels the configuration enables, keyed by the name used in the `results` output. */
export function channelsOf(config: NotifyConfig): Record<string, () => Promise<Delivery>> {
  const { notification: n, policy, slackWebhook, slackApi, teamsWebhook, discordWebhook, email, pagerDuty, webhook } = config;
  const channels: Record<string, () => Promise<Delivery>> = {};
  if (slackWebhook) channels.slack = () => sendSlackWebhook(slackWebhook, n, policy);
  if (slackApi) channels['slack-api'] = () => sendSlackApi(slackApi, n, policy);
  if (teamsWebhook) channels.teams = () => sendTeams(teamsWebhook, n, policy);
  if (discordWebhook) channels.discord = () => sendDiscord(discordWebhook, n, policy);
  if (email) channels.email = () => sendEmail(email, n, policy);
  if (pagerDuty) channels.pagerduty = () => sendPagerDuty(pagerDuty, n, policy);
  if (webhook) channels.webhook = () => sendWebhook(webhook, n, policy);
  return channels;
}

/** Decides whether to notify, sends on every enabled channel concurrently and reports each result. */
export async function notify(config: NotifyConfig): Promise<NotifyReport> {
  const n = config.notification;
  let previous: string | undefined;
  if (config.notifyOn === 'change' && n.status !== 'info') {
    previous = await lookUpPrevious(n.context, config.githubToken, config.policy);
  }
  const decision = decide(config.notifyOn, n.status, previous);
  core.info(`${decision.send ? 'Sending' : 'Not sending'}: ${decision.reason}.`);
  if (!decision.send) return { sent: false, skippedReason: decision.reason, results: {}, outputs: {} };

  const channels = channelsOf(config);
  if (Object.keys(channels).length === 0) core.info('No channel is configured; the notification goes to the job summary only.');
  const { results, outputs } = await dispatch(channels);
  for (const [name, result] of Object.entries(results)) {
    if (result.skipped) core.info(`${name}: skipped (${result.skipped})`);
    else if (result.ok) core.info(`${name}: delivered (status ${result.status}, ${attempts(result.attempts)})`);
    else core.error(`${name}: not delivered: ${result.error}`);
  }
  const sent = Object.values(results).some((r) => r.ok && !r.skipped);
  return { sent, results, outputs };
}

async function lookUpPrevious(context: RunContext, token: string | undefined, policy: RetryPolicy): Promise<string | undefined> {
  if (!token || !context.repo || !context.runId) {
    core.warning('notify-on: change needs github-token and the runner variables GITHUB_REPOSITORY and GITHUB_RUN_ID; sending anyway.');
    return undefined;
  }
  try {
    return await previousRunStatus(context, token, policy);
  } catch (error) {
    // Better a notification too many than a missed failure.
    core.warning(`notify-on: change could not read the previous run (${error instanceof Error ? error.message : String(error)}); sending anyway.`);
    return undefined;
  }
}

/** The notification and how each channel fared, for the job summary. */
export function addNotifySummary(n: Notification, report: NotifyReport): void {
  core.summary.addHeading(headline(n), 3);
  if (n.message) core.summary.addRaw(`\n\n${n.message}\n\n`);
  if (n.fields.length) addTable(['Field', 'Value'], n.fields);
  if (n.links.length) {
    core.summary.addRaw(n.links.map((l) => `[${l.text.replace(/[[\]]/g, '')}](${l.url})`).join(' · ')).addEOL();
  }
  if (report.skippedReason) {
    core.summary.addRaw(`\n\n_Not sent: ${report.skippedReason}._\n`);
  } else if (Object.keys(report.results).length) {
    addTable(
      ['Channel', 'Result', 'Status', 'Attempts', 'Error'],
      Object.entries(report.results).map(([name, r]) => [
        name,
        r.skipped ? '⏭️ skipped' : r.ok ? '✅ delivered' : '❌ failed',
        r.status === null ? '' : String(r.status),
        String(r.attempts),
        r.error ?? r.skipped ?? '',
      ]),
    );
  }
}
