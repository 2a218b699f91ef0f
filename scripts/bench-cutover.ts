// blue-green-switch cutover benchmark: load at a fixed rate through a real nginx in front of two
// demo-app instances while traffic is switched back and forth, by the action (as the runner runs it)
// and, as the baseline in the same run, by hand (write the upstream file, `nginx -s reload`). For each
// switch: failed requests, and the time from the switch's start to the first and to every answer
// from the new colour.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { renderUpstream } from '../packages/shared/src/routing/index';
import { runAction } from '../test/helpers/action';
import { startLoad, type LoadSample } from '../test/helpers/load';
import { runEnv } from '../test/helpers/run-env';
import { startDemoApp } from '../test/services/demo-app';
import { startNginx } from '../test/services/nginx';

const RATE = Number(process.env.BENCH_CUTOVER_RATE ?? 500);
const SWITCHES = Number(process.env.BENCH_CUTOVER_SWITCHES ?? 6);
const record = { by: 'bench', at: new Date().toISOString(), reason: 'bench' };

const [blue, green] = await Promise.all([startDemoApp({ color: 'blue' }), startDemoApp({ color: 'green' })]);
const servers = { blue: [blue.address], green: [green.address] };
const upstream = (to: string) => renderUpstream({ upstream: 'app', backends: ['blue', 'green'], servers }, { blue: to === 'blue' ? 100 : 0, green: to === 'green' ? 100 : 0 }, record);
const nginx = await startNginx({ upstream: 'app', writeUpstream: (file) => writeFileSync(file, upstream('blue')) });

interface Cutover {
  how: string;
  failed: number;
  /** Closed by nginx's reload before any answer and sent again, as browsers do. */
  retried: number;
  requests: number;
  firstMs: number;
  allMs: number;
}

/** From the switch's start: when the new colour first answered, and after when nothing else did. */
function cutover(how: string, samples: LoadSample[], startAt: number, to: string): Cutover {
  const after = samples.filter((s) => s.at >= startAt);
  const first = after.find((s) => s.color === to);
  const lastOther = [...after].reverse().find((s) => s.color !== to);
  return {
    how,
    failed: samples.filter((s) => s.error || s.status !== 200).length,
    retried: samples.filter((s) => s.retried).length,
    requests: samples.length,
    firstMs: (first?.at ?? NaN) - startAt,
    allMs: Math.max(0, (lastOther?.at ?? startAt) - startAt),
  };
}

async function measure(how: string, to: string, doSwitch: () => Promise<void>): Promise<Cutover> {
  const load = startLoad(nginx.url, RATE);
  await new Promise((r) => setTimeout(r, 1500));
  const startAt = Date.now() - load.startedAt;
  await doSwitch();
  await new Promise((r) => setTimeout(r, 3000));
  const samples = await load.stop();
  const result = cutover(how, samples, startAt, to);
  const kinds = [...new Set(samples.filter((s) => s.error || s.status !== 200).map((s) => s.error ?? `HTTP ${s.status}`))];
  console.error(`  ${how} → ${to}: ${result.failed} failed of ${result.requests}${kinds.length ? ` (${kinds.join(', ')})` : ''}, ${result.retried} retried, first ${result.firstMs} ms, all ${result.allMs} ms`);
  return result;
}

const results: Cutover[] = [];
try {
  let live = 'blue';
  for (let i = 0; i < SWITCHES; i++) {
    const to = live === 'blue' ? 'green' : 'blue';
    if (i % 2 === 0) {
      results.push(await measure('nginx -s reload by hand (baseline)', to, async () => {
        writeFileSync(nginx.upstreamFile, upstream(to));
        const reload = spawnSync(nginx.reloadCommand[0] as string, nginx.reloadCommand.slice(1));
        if (reload.status !== 0) throw new Error(`reload failed: ${reload.stderr}`);
      }));
    } else {
      results.push(await measure('blue-green-switch', to, async () => {
        const run = await runAction('blue-green-switch', {
          router: 'nginx', target: to, 'nginx-config-path': nginx.upstreamFile, 'nginx-upstream-name': 'app',
          'nginx-upstream-blue': blue.address, 'nginx-upstream-green': green.address,
          'nginx-test-command': nginx.testCommand.join(' '), 'nginx-reload-command': nginx.reloadCommand.join(' '), summary: 'false',
        }, runEnv(String(i)));
        if (run.exitCode !== 0) throw new Error(`blue-green-switch failed:\n${run.stdout}${run.stderr}`);
      }));
    }
    live = to;
  }
} finally {
  await Promise.all([nginx.stop(), blue.stop(), green.stop()]);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
console.log(`\nblue-green cutover at ${RATE} req/s through nginx, ${SWITCHES} switches alternating baseline and action, Node ${process.versions.node} (goals: 0 failed; all answers from the new colour ≤ 2 s after the switch starts)\n`);
console.log('| how | switches | failed requests | retried (keep-alive closed by the reload) | requests | first from new colour, median ms | all from new colour, median ms | worst ms | ratio to baseline (all) |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const baseline = median(results.filter((r) => r.how.includes('baseline')).map((r) => r.allMs));
for (const how of [...new Set(results.map((r) => r.how))]) {
  const rows = results.filter((r) => r.how === how);
  const all = median(rows.map((r) => r.allMs));
  console.log(`| ${how} | ${rows.length} | ${rows.reduce((a, r) => a + r.failed, 0)} | ${rows.reduce((a, r) => a + r.retried, 0)} | ${rows.reduce((a, r) => a + r.requests, 0)} | ${median(rows.map((r) => r.firstMs))} | ${all} | ${Math.max(...rows.map((r) => r.allMs))} | ${(all / baseline).toFixed(2)} |`);
}
