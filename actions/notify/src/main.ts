import * as core from '@actions/core';
import { RunMetrics, checkPlatform, pushMetrics, run, writeSummary, notify } from '@slipway/shared';
import { readInputs } from './inputs';

run(async () => {
  checkPlatform('notify', { platforms: ['linux', 'darwin', 'win32'] });
  const metrics = new RunMetrics('notify');
  const config = await readInputs();
  const report = await notify.notify(config);

  core.setOutput('results', JSON.stringify(report.results));
  core.setOutput('sent', String(report.sent));
  core.setOutput('slack-ts', report.outputs['slack-ts'] ?? '');
  core.setOutput('slack-channel', report.outputs['slack-channel'] ?? '');
  core.setOutput('pagerduty-dedup-key', report.outputs['pagerduty-dedup-key'] ?? config.pagerDuty?.dedupKey ?? '');

  if (config.summary) {
    notify.addNotifySummary(config.notification, report);
    await writeSummary();
  }
  const failed = Object.entries(report.results).filter(([, r]) => !r.ok);
  for (const [name] of failed) metrics.set('channel_failed', 'Channels that could not deliver.', 1, { channel: name });
  await pushMetrics(metrics, config.metricsPushgateway, config.notification.context, failed.length === 0);
  if (failed.length && config.failOnError) {
    throw new Error(`${failed.length} of ${Object.keys(report.results).length} channels failed: ${failed.map(([n, r]) => `${n} (${r.error})`).join('; ')}`);
  }
});
