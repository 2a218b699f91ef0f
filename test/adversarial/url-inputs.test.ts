// URL and key/value inputs that carry credentials, and the input gaps around them, through the bundles:
// `user:password@` in a URL the action sends requests to becomes Basic auth (checked against a real
// Prometheus and Pushgateway that demand it), elsewhere it is refused; malformed values fail at once,
// naming the input, with nothing done and no form of any secret shown.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAction, visible } from '../helpers/action';
import { freePort } from '../helpers/net';
import { runEnv } from '../helpers/run-env';
import { startPrometheus } from '../services/prometheus';
import { startPushgateway } from '../services/pushgateway';
import type { Service } from '../services/process';
import { expectInputError, expectNoLeaks } from './harness';

/** Passwords of the two servers, with their bcrypt hashes (cost 4) for the servers' web configs. */
const PROMETHEUS = { user: 'ops', password: 'Pr0m-Adv3rs/ry?Q#z', bcrypt: '$2b$04$qaaI4lvq/9cjsJFLF9zFtePCmH4eBNg2wCXZRD8rMiBEnhE0IZT62' };
const GATEWAY = { user: 'pusher', password: 'Gw-Bas1c/P@ss#Q?z', bcrypt: '$2b$04$Rfj/z4DqwyMafU1Z.vppcOp2V0D9HDCXghCTnx3VKj4jjB6sA1mW2' };
const TOKEN = 'tok-Adv3rsarialHeaderT0ken';
const SAS = 'sv=2024-11-04&ss=b&srt=co&sp=rwdlac&se=2099-01-01T00:00:00Z&sig=Adv3rsarialSasSignatureXyz%3D';

let prometheus: Service;
let gateway: Service;
let closedPort: number;
const RUN_ENV = runEnv('2020');
const withAuth = (s: { user: string; password: string }, url: string) => url.replace('://', `://${s.user}:${encodeURIComponent(s.password)}@`);
const basic = (s: { user: string; password: string }) => ({ authorization: `Basic ${Buffer.from(`${s.user}:${s.password}`).toString('base64')}` });

beforeAll(async () => {
  [prometheus, gateway] = await Promise.all([startPrometheus([], { basicAuth: { [PROMETHEUS.user]: PROMETHEUS.bcrypt } }), startPushgateway({ basicAuth: GATEWAY })]);
  closedPort = await freePort();
}, 60_000);
afterAll(async () => {
  await Promise.all([prometheus?.stop(), gateway?.stop()]);
});

async function pushed(job: string): Promise<string> {
  const text = await (await fetch(`${gateway.url}/metrics`, { headers: basic(GATEWAY) })).text();
  return text.split('\n').filter((l) => l.startsWith(`slipway_${job}_`)).join('\n');
}

const emptyFolder = () => mkdtempSync(join(tmpdir(), 'slipway-url-inputs-'));
const BACKUP = (local: string) => ({ uri: `postgres://u:Pg-Adv3rs@127.0.0.1:${closedPort}/shop`, storage: 'local', 'local-path': local });

describe('credentials in URL inputs', () => {
  it('canary-analyze: prometheus-url and metrics-pushgateway-url user-info authenticate as Basic, and are never shown', async () => {
    const run = await runAction('canary-analyze', {
      'prometheus-url': withAuth(PROMETHEUS, prometheus.url),
      'metrics-pushgateway-url': withAuth(GATEWAY, gateway.url),
      mode: 'analyze',
      metrics: 'error-rate',
      'step-duration': '3s',
      interval: '1s',
      'consecutive-error-limit': '1',
    }, RUN_ENV);
    expectNoLeaks(run, [PROMETHEUS.password, GATEWAY.password]);
    // Prometheus answered every query (no target scraped: no data, but no error such as a 401).
    const results = JSON.parse(run.outputs.results ?? '{}') as { steps?: { measurements: { metrics: Record<string, { result: string }> }[] }[] };
    const ticks = results.steps?.[0]?.measurements.map((m) => m.metrics['error-rate']?.result) ?? [];
    expect(ticks.length, `${visible(run.stdout)}\n${run.outputs.results}`).toBeGreaterThan(0);
    expect(ticks).not.toContain('error');
    expect(visible(run.stdout)).not.toMatch(/401|credentials/);
    expect(await pushed('canary_analyze')).toMatch(/slipway_canary_analyze_duration_seconds\{/);
  }, 60_000);

  it('backup-db: metrics-pushgateway-url user-info authenticates as Basic, and is never shown', async () => {
    const run = await runAction('backup-db', { ...BACKUP(emptyFolder()), mode: 'prune', 'metrics-pushgateway-url': withAuth(GATEWAY, gateway.url) }, RUN_ENV);
    expect(run.exitCode, visible(run.stdout)).toBe(0);
    expect(visible(run.stdout)).toContain('Metrics pushed to the Pushgateway.');
    expectNoLeaks(run, [GATEWAY.password, 'Pg-Adv3rs']);
    expect(await pushed('backup_db')).toMatch(/slipway_backup_db_duration_seconds\{/);
  });

  it.each([
    ['azure-account-url', { 'azure-account-url': 'https://u:Az-Adv3rs%2Fpw@acct.blob.core.windows.net', 'azure-sas-token': SAS }, /without `user:password@`/, ['Az-Adv3rs/pw']],
    ['azure-account-url', { 'azure-account-url': 'http://acct.example.invalid', 'azure-sas-token': SAS }, /an https:\/\/ URL/, []],
    ['azure-account-url', { 'azure-account-url': `https://acct.blob.core.windows.net/?${SAS}`, 'azure-sas-token': SAS }, /without a query/, []],
    ['azure-account-url', { 'azure-account-url': 'notaurl', 'azure-sas-token': SAS }, /an absolute URL/, []],
    ['azure-authority-host', { 'azure-account-url': 'https://acct.blob.core.windows.net', 'azure-client-id': 'c', 'azure-tenant-id': 't', 'azure-authority-host': 'http://login.example.invalid' }, /an https:\/\/ URL/, []],
    ['metrics-pushgateway-url', { 'metrics-pushgateway-url': 'not a url' }, /an absolute URL/, []],
    ['metrics-pushgateway-url', { 'metrics-pushgateway-url': 'http://pusher:4821/Gw-Cut@127.0.0.1:9/' }, /user-info has `\/`/, ['4821/Gw-Cut']],
    ['timeout', { timeout: '0s' }, /a duration over 0/, []],
  ])('backup-db refuses a bad %s before anything is done, naming it and showing no secret', async (input, inputs, expected, secrets) => {
    const local = emptyFolder();
    const azure = 'azure-account-url' in inputs;
    const run = await runAction('backup-db', { ...BACKUP(local), ...(azure ? { storage: 'azure', 'local-path': '' } : {}), ...inputs }, RUN_ENV);
    expectInputError(run, input);
    const log = visible(run.stdout);
    expect(log).toMatch(new RegExp(`Input '${input}' is invalid: .*`));
    expect(log).toMatch(expected);
    expect(log).not.toMatch(/Invalid URL|Backing up|Metrics pushed|Could not push/);
    expect(readdirSync(local)).toEqual([]);
    expectNoLeaks(run, [SAS, 'Adv3rsarialSasSignatureXyz=', 'Pg-Adv3rs', ...secrets]);
  });

  it('canary-analyze: a prometheus-headers line without a colon is named by its number, never quoted', async () => {
    const run = await runAction('canary-analyze', { 'prometheus-url': prometheus.url, mode: 'analyze', 'prometheus-headers': `X-Scope-OrgID: shop\nBearer ${TOKEN}` }, RUN_ENV);
    expectInputError(run, 'prometheus-headers');
    expect(visible(run.stdout)).toContain('line 2');
    expectNoLeaks(run, [TOKEN]);
  });

  it('helm-deploy: environment-url, a link, refuses user-info without showing it', async () => {
    const run = await runAction('helm-deploy', { release: 'shop', chart: 'oci://127.0.0.1:1/charts/shop', 'environment-url': 'https://viewer:Env-Adv3rs%23pw@shop.example.com/' }, RUN_ENV);
    expectInputError(run, 'environment-url');
    expectNoLeaks(run, ['Env-Adv3rs#pw']);
  });
});
