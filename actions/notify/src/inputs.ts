import {
  InputError,
  checkEndpoint,
  checkUrl,
  contextVars,
  getBoolean,
  getContext,
  getDuration,
  getEndpoint,
  getEnum,
  getInteger,
  getKeyValues,
  getList,
  getObject,
  getString,
  renderDeep,
  renderTemplate,
  templateEnv,
  notify,
  type Endpoint,
} from '@slipway/shared';

export interface ActionConfig extends notify.NotifyConfig {
  summary: boolean;
  failOnError: boolean;
  metricsPushgateway?: Endpoint;
}

/**
 * Reads and checks every input before anything is sent, so a malformed URL or address fails the step
 * with nothing delivered half-way. Secrets are registered for masking first of all, and before any
 * template is rendered, so that template-env can refuse a variable holding one.
 */
export async function readInputs(env: NodeJS.ProcessEnv = process.env): Promise<ActionConfig> {
  const secret = { secret: true };
  const slackToken = getString('slack-token', secret);
  const routingKey = getString('pagerduty-routing-key', secret);
  const webhookSecret = getString('webhook-secret', secret);
  const githubToken = getString('github-token', secret);
  // URLs: their user-info becomes Basic auth; a webhook's path and query are its credential. Neither
  // the whole URL nor its host is registered, or every later mention of the host would be masked.
  const allowInsecure = getBoolean('allow-insecure-http', false);
  const webhook = { allowInsecure, secretPath: true };
  const slackWebhook = getEndpoint('slack-webhook-url', webhook);
  const teamsWebhook = getEndpoint('teams-webhook-url', webhook);
  const discordWebhook = getEndpoint('discord-webhook-url', webhook);
  const webhookUrl = getEndpoint('webhook-url', webhook);
  const smtp = getEndpoint('email-smtp-url', { allowInsecure: true, protocols: ['smtp:', 'smtps:'] });
  const metricsPushgateway = getEndpoint('metrics-pushgateway-url', { allowInsecure });
  const slackApi = getEndpoint('slack-api-url', { allowInsecure }) ?? checkEndpoint('slack-api-url', 'https://slack.com/api');
  const pagerDutyEvents = getEndpoint('pagerduty-events-url', { allowInsecure }) ?? checkEndpoint('pagerduty-events-url', notify.PAGERDUTY_EVENTS_URL);

  const statusText = getString('status');
  if (!statusText) throw new InputError('status', statusText, `one of ${notify.STATUSES.join(', ')} (pass \`status: \${{ job.status }}\`)`);
  const status = getEnum('status', notify.STATUSES, 'info');
  const context = getContext(env);
  const vars = contextVars(context, { status, ...templateEnv('template-env', getList('template-env'), env) });
  const render = (input: string): string => renderTemplate(getString(input), vars, input);

  const links = getList('links', { separator: 'newline' }).map((line) => {
    const bar = line.lastIndexOf('|');
    if (bar <= 0) throw new InputError('links', line, 'one `text|https://url` pair per line');
    const url = renderTemplate(line.slice(bar + 1).trim(), vars, 'links');
    return { text: renderTemplate(line.slice(0, bar).trim(), vars, 'links'), url: checkUrl('links', url, { allowInsecure: true }).toString() };
  });
  if (getBoolean('add-run-link', true) && context.runUrl && !links.some((l) => l.url === context.runUrl)) {
    links.push({ text: 'View run', url: context.runUrl });
  }

  const notification: notify.Notification = {
    status,
    title: render('title') || notify.defaultTitle(status, context),
    message: render('message'),
    fields: getKeyValues('fields').map(([k, v]) => [renderTemplate(k, vars, 'fields'), renderTemplate(v, vars, 'fields')]),
    links,
    context,
    timestamp: new Date(),
  };

  const policy = { timeoutMs: getDuration('timeout', '10s'), retries: getInteger('retries', 3, { min: 0, max: 10 }) };

  const config: ActionConfig = {
    notification,
    notifyOn: getEnum('notify-on', notify.NOTIFY_ON, 'always'),
    githubToken: githubToken || undefined,
    policy,
    summary: getBoolean('summary', true),
    failOnError: getBoolean('fail-on-error', true),
    metricsPushgateway,
    slackWebhook,
    teamsWebhook,
    discordWebhook,
  };

  if (slackToken) {
    const channel = getString('slack-channel');
    if (!channel) throw new InputError('slack-channel', channel, 'a channel ID such as `C0123456789` (required with slack-token)');
    // The token is the Authorization header: there is no room for the URL's Basic credentials too.
    if (slackApi.credentials) throw new InputError('slack-api-url', slackApi.url.href, 'a URL without `user:password@` (slack-token is sent as the Authorization header)', true);
    config.slackApi = {
      token: slackToken,
      channel,
      threadTs: checkTs('slack-thread-ts'),
      updateTs: checkTs('slack-update-ts'),
      api: slackApi,
    };
  }

  if (smtp) {
    const from = getString('email-from');
    if (!from) throw new InputError('email-from', from, 'a sender address such as `Slipway <ci@example.com>` (required with email-smtp-url)');
    const to = getList('email-to');
    if (to.length === 0) throw new InputError('email-to', '', 'one or more recipient addresses (required with email-smtp-url)');
    config.email = {
      smtp,
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
      events: pagerDutyEvents,
    };
    if (config.pagerDuty.dedupKey.length > 255) {
      throw new InputError('pagerduty-dedup-key', config.pagerDuty.dedupKey, 'at most 255 characters');
    }
  }

  if (webhookUrl) {
    const payload = await getObject('webhook-payload');
    config.webhook = {
      endpoint: webhookUrl,
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
