// Benchmarks, reported as ratios against a baseline measured in the same run (never asserted in tests).
// Cold start: each bundle run as the runner runs it, with a required input missing so it exits as soon
// as it has loaded and read its inputs, against bare `node -e 0` on the same Node 24.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { node24 } from './node24.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 30);


/** A bundle that crashes on load would look fast: check it reached the input error first. */
function expectInputError(args, env) {
  const run = spawnSync(node, args, { env, encoding: 'utf8' });
  if (run.status !== 1 || !run.stdout.includes('::error::')) {
    throw new Error(`${args.join(' ')} did not fail on its missing input as expected (exit ${run.status}):\n${run.stderr.slice(0, 800)}`);
  }
}

function time(args, env) {
  const samples = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const start = process.hrtime.bigint();
    spawnSync(node, args, { env, stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (i >= 3) samples.push(ms); // the first runs warm the page cache
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)], p90: samples[Math.floor(samples.length * 0.9)] };
}

const node = node24();
const env = { PATH: process.env.PATH, GITHUB_OUTPUT: '/dev/null', GITHUB_STEP_SUMMARY: '/dev/null', 'INPUT_STATUS': '' };
const baseline = time(['-e', '0'], env);
// A second baseline: a bundle that only imports @actions/core 3 and fails, built the same way. What an
// action costs above this is Slipway's own; below it, nothing an action built on core can reach.
function coreOnlyBundle() {
  const dir = mkdtempSync(join(root, 'node_modules', '.bench-core-'));
  writeFileSync(join(dir, 'main.mjs'), "import * as core from '@actions/core';\ncore.setFailed(core.getInput('status') || 'missing input');\n");
  const out = join(dir, 'out');
  mkdirSync(out);
  const ncc = join(root, 'node_modules', '@vercel', 'ncc', 'dist', 'ncc', 'cli.js');
  const built = spawnSync(process.execPath, [ncc, 'build', join(dir, 'main.mjs'), '--out', out, '--minify', '--target', 'es2023', '--quiet'], { stdio: 'inherit' });
  if (built.status !== 0) throw new Error('could not build the @actions/core baseline bundle');
  return { dir, file: join(out, 'index.mjs') };
}
const core = coreOnlyBundle();
expectInputError([core.file], env);
const coreOnly = time([core.file], env);
rmSync(core.dir, { recursive: true, force: true });

const bundles = existsSync(join(root, 'dist')) ? readdirSync(join(root, 'dist')).filter((d) => existsSync(join(root, 'dist', d, 'index.js'))) : [];

const fmt = (n) => n.toFixed(1).padStart(8);
console.log(`Cold start, ${RUNS} runs each, Node ${spawnSync(node, ['--version']).stdout.toString().trim()} (goal: ≤ 100 ms over bare node)\n`);
console.log('| bundle | median ms | p90 ms | over bare node (ms) | ratio to bare node | main file KiB | all files KiB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
console.log(`| node -e 0 (baseline) |${fmt(baseline.median)} |${fmt(baseline.p90)} | | 1.00 | | |`);
console.log(`| @actions/core only (floor) |${fmt(coreOnly.median)} |${fmt(coreOnly.p90)} |${fmt(coreOnly.median - baseline.median)} | ${(coreOnly.median / baseline.median).toFixed(2)} | | |`);
let worst = 0;
for (const name of bundles) {
  const dir = join(root, 'dist', name);
  expectInputError([join(dir, 'index.js')], env);
  const t = time([join(dir, 'index.js')], env);
  const files = readdirSync(dir).map((f) => statSync(join(dir, f)).size);
  const over = t.median - baseline.median;
  worst = Math.max(worst, over);
  console.log(
    `| ${name} |${fmt(t.median)} |${fmt(t.p90)} |${fmt(over)} | ${(t.median / baseline.median).toFixed(2)} |${fmt(statSync(join(dir, 'index.js')).size / 1024)} |${fmt(files.reduce((a, b) => a + b, 0) / 1024)} |`,
  );
}
console.log(`\nWorst bundle: ${worst.toFixed(1)} ms over bare node — ${worst <= 100 ? 'within' : 'OVER'} the 100 ms goal` +
  `; Slipway's own code adds ${(worst - (coreOnly.median - baseline.median)).toFixed(1)} ms to the @actions/core-only floor.`);
