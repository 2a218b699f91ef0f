import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunMetrics, getContext, pushMetrics } from '../src/index';
import { startPushgateway } from '../../../test/services/pushgateway';
import { freePort } from '../../../test/helpers/net';
import type { Service } from '../../../test/services/process';

let gateway: Service;
beforeAll(async () => {
  gateway = await startPushgateway();
});
afterAll(() => gateway.stop());

const context = getContext({ GITHUB_REPOSITORY: 'acme/shop' });

async function scrape(): Promise<string> {
  return (await fetch(`${gateway.url}/metrics`)).text();
}

describe('metrics', () => {
  it('pushes duration, last success and action gauges to a real Pushgateway', async () => {
    const metrics = new RunMetrics('backup-db');
    metrics.set('size_bytes', 'Size of the backup.', 1234, { database: 'shop' });
    await metrics.push(gateway.url, context, true, { grouping: { database: 'shop' } });
    const text = await scrape();
    const labels = 'database="shop",instance="",job="slipway_backup_db",repository="acme/shop"';
    expect(text).toMatch(new RegExp(`slipway_backup_db_size_bytes\\{${labels}\\} 1234`));
    expect(text).toMatch(new RegExp(`slipway_backup_db_duration_seconds\\{${labels}\\} \\d`));
    const success = new RegExp(`slipway_backup_db_last_success_timestamp_seconds\\{${labels}\\} ([\\d.e+]+)`).exec(text);
    expect(Number(success?.[1])).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('keeps the last success timestamp when a later run fails', async () => {
    const ok = new RunMetrics('notify');
    await ok.push(gateway.url, context, true);
    const before = /slipway_notify_last_success_timestamp_seconds\{[^}]*\} (\S+)/.exec(await scrape())?.[1];
    await new Promise((r) => setTimeout(r, 20));
    const failed = new RunMetrics('notify');
    await failed.push(gateway.url, context, false);
    const after = await scrape();
    expect(/slipway_notify_last_success_timestamp_seconds\{[^}]*\} (\S+)/.exec(after)?.[1]).toBe(before);
  });

  it('only warns when the Pushgateway cannot be reached', async () => {
    const closed = await freePort();
    await expect(pushMetrics(new RunMetrics('notify'), `http://127.0.0.1:${closed}`, context, true)).resolves.toBeUndefined();
  });
});
