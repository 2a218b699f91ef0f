import * as core from '@actions/core';
import {
  InputError,
  checkUrl,
  contextVars,
  getBoolean,
  getContext,
  getDuration,
  getEnum,
  getInteger,
  getKeyValues,
  getList,
  getObject,
  getString,
  getUrl,
  renderDeep,
  renderTemplate,
  notify,
} from '@slipway/shared';

export interface ActionConfig extends notify.NotifyConfig {
  summary: boolean;
  failOnError: boolean;
  metricsPushgatewayUrl?: string;
}

/**
 * Reads and checks every input before anything is sent, so a malformed URL or address fails the step
 * with nothing delivered half-way. Secret inputs are registered for masking first of all.
 */
export async function readInputs(env: NodeJS.ProcessEnv = process.env): Promise<ActionConfig> {
  const secret = { secret: true };
  // Read secrets first so that no later error message can echo one unmasked.
  const slackWebhook = getString('slack-webhook-url', secret);
  const slackToken = getString('slack-token', secret);
  const teamsWebhook = getString('teams-webhook-url', secret);
  const discordWebhook = getString('discord-webhook-url', secret);
  const smtpUrl = getString('email-smtp-url', secret);
  const routingKey = getString('pagerduty-routing-key', secret);
  const webhookUrl = getString('webhook-url', secret);
  const webhookSecret = getString('webhook-secret', secret);
  const githubToken = getString('github-token', secret);
  const pushgateway = getString('metrics-pushgateway-url', secret);
  if (smtpUrl) maskUrlPassword(smtpUrl);

  const allowInsecure = getBoolean('allow-insecure-http', false);
  const statusText = getString('status');
  if (!statusText) throw new InputError('status', statusText, `one of ${notify.STATUSES.join(', ')} (pass \`status: \${{ job.status }}\`)`);
  const status = getEnum('status', notify.STATUSES, 'info');
  const context = getContext(env);
  const vars = contextVars(context, { status });
  const render = (input: string): string => renderTemplate(getString(input), vars, input, env);

  const links = getList('links', { separator: 'newline' }).map((line) => {
    const bar = line.lastIndexOf('|');
    if (bar <= 0) throw new InputError('links', line, 'one `text|https://url` pair per line');
    const url = renderTemplate(line.slice(bar + 1).trim(), vars, 'links', env);
    return { text: renderTemplate(line.slice(0, bar).trim(), vars, 'links', env), url: checkUrl('links', url, { allowInsecure: true }).toString() };
  });
  if (getBoolean('add-run-link', true) && context.runUrl && !links.some((l) => l.url === context.runUrl)) {
    links.push({ text: 'View run', url: context.runUrl });
  }

  const notification: notify.Notification = {
    status,
    title: render('title') || notify.defaultTitle(status, context),
    message: render('message'),
    fields: getKeyValues('fields').map(([k, v]) => [renderTemplate(k, vars, 'fields', env), renderTemplate(v, vars, 'fields', env)]),
    links,
    context,
    timestamp: new Date(),
  };

  const policy = { timeoutMs: getDuration('timeout', '10s'), retries: getInteger('retries', 3, { min: 0, max: 10 }) };
  const url = (name: string, value: string): string | undefined =>
    value ? checkUrl(name, value, { secret: true, allowInsecure }).toString() : undefined;

  const config: ActionConfig = {
    notification,
    notifyOn: getEnum('notify-on', notify.NOTIFY_ON, 'always'),
    githubToken: githubToken || undefined,
    policy,
    summary: getBoolean('summary', true),
    failOnError: getBoolean('fail-on-error', true),
    metricsPushgatewayUrl: url('metrics-pushgateway-url', pushgateway),
    slackWebhookUrl: url('slack-webhook-url', slackWebhook),
    teamsWebhookUrl: url('teams-webhook-url', teamsWebhook),
    discordWebhookUrl: url('discord-webhook-url', discordWebhook),
  };

  if (slackToken) {
    const channel = getString('slack-channel');
    if (!channel) throw new InputError('slack-channel', channel, 'a channel ID such as `C0123456789` (required with slack-token)');
    const apiUrl = getUrl('slack-api-url', { allowInsecure }) ?? new URL('https://slack.com/api');
    config.slackApi = {
      token: slackToken,
      channel,
      threadTs: checkTs('slack-thread-ts'),
      updateTs: checkTs('slack-update-ts'),
      apiUrl: apiUrl.toString(),
    };
  }

  if (smtpUrl) {
    const smtp = checkUrl('email-smtp-url', smtpUrl, { secret: true, allowInsecure: true, protocols: ['smtp:', 'smtps:'] });
    const from = getString('email-from');
    if (!from) throw new InputError('email-from', from, 'a sender address such as `Slipway <ci@example.com>` (required with email-smtp-url)');
    const to = getList('email-to');
    if (to.length === 0) throw new InputError('email-to', '', 'one or more recipient addresses (required with email-smtp-url)');
    config.email = {
      smtpUrl: smtp,
      from: notify.checkAddress('email-from', from),
      to: to.map((a) => notify.checkAddress('email-to', a)),
      cc: getList('email-cc').map((a) => notify.checkAddress('email-cc', a)),
      allowInsecure,
      ca: getString('email-ca') || undefined,
    };
  }

  if (routingKey) {
    if (!/^[A-Za-z0-9]{32}$/.test(routingKey)) {
      throw new InputError('pagerduty-routing-key', routingKey, 'the 32-character integration key of an Events API v2 integration', true);
    }
    config.pagerDuty = {
      routingKey,
      action: getEnum('pagerduty-action', notify.PAGERDUTY_ACTIONS, 'auto'),
      severity: getEnum('pagerduty-severity', notify.PAGERDUTY_SEVERITIES, 'error'),
      dedupKey: render('pagerduty-dedup-key') || notify.defaultDedupKey(notification),
      eventsUrl: (getUrl('pagerduty-events-url', { allowInsecure }) ?? new URL(notify.PAGERDUTY_EVENTS_URL)).toString(),
    };
    if (config.pagerDuty.dedupKey.length > 255) {
      throw new InputError('pagerduty-dedup-key', config.pagerDuty.dedupKey, 'at most 255 characters');
    }
  }

  if (webhookUrl) {
    const payload = await getObject('webhook-payload');
    config.webhook = {
      url: checkUrl('webhook-url', webhookUrl, { secret: true, allowInsecure }).toString(),
      secret: webhookSecret || undefined,
      payload: payload === undefined ? undefined : renderDeep(payload, vars, 'webhook-payload'),
    };
  } else if (webhookSecret) {
    throw new InputError('webhook-url', '', 'a URL (webhook-secret was given without webhook-url)');
  }
  return config;
}

/** Slack message timestamps look like `1712345678.123456`. */
function checkTs(name: string): string | undefined {
  const value = getString(name);
  if (!value) return undefined;
  if (!/^\d+\.\d+$/.test(value)) throw new InputError(name, value, 'a Slack message timestamp such as `1712345678.123456`');
  return value;
}

/** The runner masks the whole URL; the password alone can appear too (e.g. decoded in an error). */
function maskUrlPassword(value: string): void {
  try {
    const url = new URL(value);
    if (url.password) {
      core.setSecret(url.password);
      core.setSecret(decodeURIComponent(url.password));
    }
  } catch {
    // reported as a malformed URL when the input is checked
  }
}
