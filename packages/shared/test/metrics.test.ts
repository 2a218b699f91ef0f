import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunMetrics, checkEndpoint, getContext, pushMetrics, type Endpoint } from '../src/index';
import { startPushgateway } from '../../../test/services/pushgateway';
import { freePort } from '../../../test/helpers/net';
import type { Service } from '../../../test/services/process';

let gateway: Service;
let endpoint: Endpoint;
beforeAll(async () => {
  gateway = await startPushgateway();
  endpoint = { url: new URL(gateway.url), headers: {} };
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
    await metrics.push(endpoint, context, true, { grouping: { database: 'shop' } });
    const text = await scrape();
    const labels = 'database="shop",instance="",job="slipway_backup_db",repository="acme/shop"';
    expect(text).toMatch(new RegExp(`slipway_backup_db_size_bytes\\{${labels}\\} 1234`));
    expect(text).toMatch(new RegExp(`slipway_backup_db_duration_seconds\\{${labels}\\} \\d`));
    const success = new RegExp(`slipway_backup_db_last_success_timestamp_seconds\\{${labels}\\} ([\\d.e+]+)`).exec(text);
    expect(Number(success?.[1])).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it('keeps the last success timestamp when a later run fails', async () => {
    const ok = new RunMetrics('notify');
    await ok.push(endpoint, context, true);
    const before = /slipway_notify_last_success_timestamp_seconds\{[^}]*\} (\S+)/.exec(await scrape())?.[1];
    await new Promise((r) => setTimeout(r, 20));
    const failed = new RunMetrics('notify');
    await failed.push(endpoint, context, false);
    const after = await scrape();
    expect(/slipway_notify_last_success_timestamp_seconds\{[^}]*\} (\S+)/.exec(after)?.[1]).toBe(before);
  });

  it('only warns when the Pushgateway cannot be reached', async () => {
    const closed = await freePort();
    await expect(pushMetrics(new RunMetrics('notify'), { url: new URL(`http://127.0.0.1:${closed}`), headers: {} }, context, true)).resolves.toBeUndefined();
  });

  it('pushes to a gateway behind basic auth with the user-info of its URL, sent as a header', async () => {
    // bcrypt (cost 4) of the password below, for the gateway's web config.
    const secured = await startPushgateway({ basicAuth: { user: 'pusher', bcrypt: '$2b$04$/7dqrXAhL9dDH2mTTBUWQ.ewQbj1CUeEASsPdsFdPTQYpOdWSFi7C' } });
    try {
      const password = encodeURIComponent('Gw-Bas1c/P@ss#Q?z');
      const metrics = new RunMetrics('canary-analyze');
      await metrics.push(checkEndpoint('metrics-pushgateway-url', `http://pusher:${password}@127.0.0.1:${secured.port}/`), context, true);
      const text = await (await fetch(`${secured.url}/metrics`, { headers: { authorization: `Basic ${Buffer.from('pusher:Gw-Bas1c/P@ss#Q?z').toString('base64')}` } })).text();
      expect(text).toMatch(/slipway_canary_analyze_last_success_timestamp_seconds\{/);
      const wrong = new RunMetrics('canary-analyze');
      await expect(wrong.push(checkEndpoint('metrics-pushgateway-url', `http://pusher:nope@127.0.0.1:${secured.port}/`), context, true)).rejects.toThrow(/HTTP 401/);
    } finally {
      await secured.stop();
    }
  });
});
