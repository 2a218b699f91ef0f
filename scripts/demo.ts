// `npm run demo`: a release through Slipway's bundled actions on a local stack, each action run as the
// runner runs it (node dist/<name>/index.js, INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY
// files): back up the database and verify it by restoring, switch blue → green under live traffic,
// shift traffic to a canary step by step while Prometheus judges it, and notify. `--bad-canary` makes
// the canary fail a share of its requests, to show the automatic rollback. Everything it starts is
// stopped at the end, on an error, and on Ctrl-C.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runAction, visible, type ActionRun } from '../test/helpers/action';
import { startLoad, type LoadSample } from '../test/helpers/load';
import { runEnv } from '../test/helpers/run-env';
import { WEBHOOK_SECRET } from '../test/fakes/saas';
import { startAzurite } from '../test/services/azurite';
import { startPostgres } from '../test/services/postgres';
import { startServicesInOwnProcessGroups } from '../test/services/process';
import { startReleaseStack } from '../test/services/release-stack';

const { values: flags } = parseArgs({ options: { 'bad-canary': { type: 'boolean', default: false }, out: { type: 'string', default: join(import.meta.dirname, '..', 'demo-output') } } });
const badCanary = flags['bad-canary'] === true;
const out = String(flags.out);

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: string) => (text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const say = (text = '') => console.log(text);

const cleanups: (() => Promise<unknown>)[] = [];
/** Registers a started service's stop at once, so Ctrl-C during the start-up still stops it. */
async function started<T extends { stop(): Promise<void> }>(service: Promise<T>): Promise<T> {
  const s = await service;
  cleanups.push(() => s.stop());
  return s;
}
/** Settles when every service being started has started or failed. */
let startingUp: Promise<unknown> = Promise.resolve();
/** Settles when the running action has exited. */
let running: Promise<unknown> = Promise.resolve();
const aborted = new AbortController();
let stopping: Promise<void> | undefined;
/** Stops everything started, newest first; safe to call twice (Ctrl-C during the normal shutdown). */
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => console.error(dim(`  (cleanup: ${(error as Error).message})`)));
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    say(`\n${bold(`${signal === 'SIGINT' ? 'Ctrl-C' : signal}: stopping the running step and every service …`)}`);
    aborted.abort();
    // The action cleans up through the services (a canary's traffic is taken away through nginx): they stop after it.
    void Promise.allSettled([startingUp, running]).then(stopAll).then(() => {
      say('Stopped everything the demo started.');
      process.exit(130);
    });
  });
}

/** The action's log as a runner shows it: no masking or debug commands, annotations marked. */
function printLog(text: string): void {
  for (const line of visible(text).split('\n')) {
    if (!line || line.startsWith('::debug::') || line.startsWith('::endgroup::')) continue;
    // Workflow commands escape their message; the runner shows it unescaped.
    const shown = line.replace(/%0D/g, '').replace(/%0A/g, ' ').replace(/%25/g, '%').replace(/^::group::/, '▸ ').replace(/^::error[^:]*::/, red('✖ ')).replace(/^::warning[^:]*::/, '⚠ ').replace(/^::notice[^:]*::/, 'ℹ ');
    say(`  ${dim('│')} ${shown}`);
  }
}

interface Step { name: string; action: string; ok: boolean; failed: boolean; seconds: number; detail: string; summaryFile: string }
const steps: Step[] = [];
const RUN_ENV = { ...runEnv(String(Date.now() % 100000)), GITHUB_WORKFLOW: 'Slipway demo release' };

/** Runs one action's bundle and keeps its job summary as `<n>-<action>.md`. */
async function step(name: string, action: string, inputs: Record<string, string>, describe: (run: ActionRun) => string, expectSuccess = true): Promise<ActionRun> {
  say(`\n${bold(`${steps.length + 1}. ${name}`)} ${dim(`(node dist/${action}/index.js)`)}`);
  const t0 = Date.now();
  let partial = '';
  const runningAction = runAction(action, inputs, RUN_ENV, {
    signal: aborted.signal,
    onStdout: (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      printLog(lines.join('\n'));
    },
  });
  running = runningAction;
  const run = await runningAction;
  printLog(partial);
  if (aborted.signal.aborted) await new Promise(() => undefined); // the signal handler exits
  const summaryFile = join(out, `${steps.length + 1}-${action}.md`);
  writeFileSync(summaryFile, run.summary);
  const ok = (run.exitCode === 0) === expectSuccess;
  const detail = describe(run);
  steps.push({ name, action, ok, failed: run.exitCode !== 0, seconds: (Date.now() - t0) / 1000, detail, summaryFile });
  say(`  ${mark({ ok, failed: run.exitCode !== 0 })} ${detail} ${dim(`(exit ${run.exitCode}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`)}`);
  return run;
}

/** ✅ succeeded, ↩️ failed as it should (the bad canary), ❌ did not do what it should. */
const mark = (s: { ok: boolean; failed: boolean }) => (!s.ok ? '❌' : s.failed ? '↩️' : '✅');

function traffic(samples: LoadSample[]): { total: number; failed: number; colours: string } {
  const counts = new Map<string, number>();
  for (const s of samples) counts.set(s.color ?? 'none', (counts.get(s.color ?? 'none') ?? 0) + 1);
  return {
    total: samples.length,
    failed: samples.filter((s) => s.error || s.status !== 200).length,
    colours: [...counts].map(([c, n]) => `${c} ${n}`).join(', '),
  };
}

async function main(): Promise<number> {
  const began = Date.now();
  startServicesInOwnProcessGroups();
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  say(bold(`Slipway demo${badCanary ? ' (--bad-canary: the canary fails 30 % of its requests)' : ''}`));
  say(dim('Starting the local stack: Azurite, PostgreSQL with sample data, Prometheus, two nginx, the demo service as blue, green, stable and canary, a notification sink …'));

  const starting = [started(startAzurite()), started(startPostgres()), started(startReleaseStack())] as const;
  startingUp = Promise.allSettled(starting);
  const [azurite, pg, stack] = await Promise.all(starting);
  if (aborted.signal.aborted) await new Promise(() => undefined); // the signal handler exits
  pg.sql('create database shop');
  pg.sql(`create table customers (id int primary key, name text not null);
    create table orders (id int primary key, customer int references customers, total numeric(10,2), placed timestamptz default now());
    insert into customers select g, 'customer ' || g from generate_series(1, 1000) g;
    insert into orders select g, 1 + g % 1000, (g % 997) / 10.0 from generate_series(1, 20000) g;`, 'shop');
  if (badCanary) await stack.canary.fail(0.3);
  say(`  Azurite         ${azurite.url}`);
  say(`  PostgreSQL      127.0.0.1:${pg.port} (database shop: 1,000 customers, 20,000 orders)`);
  say(`  Prometheus      ${stack.prometheus.url}`);
  say(`  blue/green      ${stack.blueGreen.url} → blue ${stack.blue.address}, green ${stack.green.address}`);
  say(`  stable/canary   ${stack.canaryRouter.url} → stable ${stack.stable.address}, canary ${stack.canary.address}`);
  say(`  sink            ${stack.sink.url} (Slack webhook and signed webhook)`);

  // Live traffic through both routers for the whole release, as users would send it.
  const blueGreenLoad = startLoad(stack.blueGreen.url, 20);
  const canaryLoad = startLoad(stack.canaryRouter.url, 60);
  cleanups.push(() => Promise.all([blueGreenLoad.stop(), canaryLoad.stop()]));

  const backup = await step('Back up the database and verify it by restoring', 'backup-db', {
    uri: pg.uri('shop'),
    'azure-connection-string': azurite.connectionString,
    container: 'demo-backups',
    verify: 'restore',
    'verify-uri': pg.uri('postgres'),
    'keep-last': '5',
  }, (run) => (run.exitCode === 0 ? `${run.outputs['backup-name']} (${run.outputs['size-bytes']} bytes, sha256 ${run.outputs.sha256?.slice(0, 12)}…) verified by restore` : 'backup failed'));

  const switched = await step('Blue-green switch under live traffic', 'blue-green-switch', {
    ...stack.blueGreenInputs,
    target: 'green',
    'health-url': `${stack.green.url}/healthz`,
    'health-expect-body': 'ok',
    'health-interval': '500ms',
    'watch-url': stack.blueGreen.url,
    'watch-duration': '5s',
    'watch-interval': '1s',
  }, (run) => (run.outputs.switched === 'true' ? `traffic moved ${run.outputs.previous} → ${run.outputs.active}${run.outputs['rolled-back'] === 'true' ? ', then rolled back' : ''}` : 'no switch'));
  const blueGreenTraffic = traffic(await blueGreenLoad.stop());

  const canary = await step('Canary analysis with progressive traffic (10 → 25 → 50 → 100 %)', 'canary-analyze', {
    ...stack.canaryInputs,
    steps: '10,25,50,100',
    // Enough samples per side for the statistical judge: the query window plus 4 intervals, and one more.
    'step-duration': '8s',
    interval: '1s',
    'query-window': '3s',
    'min-requests': '10',
  }, (run) => `verdict ${run.outputs.verdict} (${run.outputs.outcome}); canary at ${run.outputs['final-weight']} %${run.outputs['rolled-back'] === 'true' ? ', its traffic taken away' : ''}`, !badCanary);
  const canaryTraffic = traffic(await canaryLoad.stop());

  const released = backup.exitCode === 0 && switched.exitCode === 0 && canary.exitCode === 0;
  await step('Notify', 'notify', {
    status: released ? 'success' : 'failure',
    title: released ? 'Release 1.1.0 is live' : 'Release 1.1.0 rolled back',
    message: released ? 'Backed up, switched to green, canary promoted.' : 'The canary failed its analysis and was rolled back automatically.',
    fields: `Backup: ${backup.outputs['backup-name'] ?? ''}\nLive colour: ${switched.outputs.active ?? ''}\nCanary: ${canary.outputs.verdict ?? ''} at ${canary.outputs['final-weight'] ?? ''} %`,
    'slack-webhook-url': stack.sink.urls().slack,
    'webhook-url': stack.sink.urls().webhook,
    'webhook-secret': WEBHOOK_SECRET,
  }, (run) => `sent: ${Object.entries(JSON.parse(run.outputs.results ?? '{}') as Record<string, { ok: boolean }>).map(([c, r]) => `${c} ${r.ok ? 'delivered' : 'failed'}`).join(', ')}; the sink accepted ${stack.sink.received.filter((r) => r.problems.length === 0).length}`);

  const report = [
    `# Slipway demo${badCanary ? ' (--bad-canary)' : ''}`,
    '',
    `Release ${released ? '**live**' : '**rolled back**'} in ${((Date.now() - began) / 1000).toFixed(0)} s.`,
    '',
    '| Step | Action | Result | Time | Job summary |',
    '|---|---|---|---:|---|',
    ...steps.map((s, i) => `| ${i + 1}. ${s.name} | \`${s.action}\` | ${mark(s)} ${s.detail} | ${s.seconds.toFixed(1)} s | [${s.summaryFile.split('/').pop()}](${s.summaryFile.split('/').pop()}) |`),
    '',
    '**Live traffic**',
    '',
    `- blue/green router: ${blueGreenTraffic.total} requests during the backup and the switch, ${blueGreenTraffic.failed} failed; answered by ${blueGreenTraffic.colours}.`,
    `- stable/canary router: ${canaryTraffic.total} requests during the canary, ${canaryTraffic.failed} failed; answered by ${canaryTraffic.colours}.`,
    '',
  ].join('\n');
  writeFileSync(join(out, 'report.md'), report);
  const expected = steps.every((s) => s.ok);
  say(`\n${bold('Report')}`);
  for (const line of report.split('\n').slice(2)) say(`  ${line}`);
  say(`\nJob summaries and this report: ${out}/`);
  say(expected ? green(badCanary ? 'The bad canary was rolled back automatically, as it should be.' : 'Everything went as it should.') : red('Something did not go as expected; see the log above.'));
  return expected ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  console.error(red(`demo failed: ${(error as Error).message}`));
} finally {
  await stopAll();
}
say(dim('Stopped every service the demo started.'));
process.exit(code);
