import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inputEnv } from './inputs';
import { node24 } from './node24';

const ROOT = join(import.meta.dirname, '..', '..');

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses the GITHUB_OUTPUT file format (`name<<DELIMITER` heredocs, or `name=value`). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delimiter] = heredoc;
      const end = lines.indexOf(delimiter ?? '', i + 1);
      outputs[name ?? ''] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (line.includes('=')) {
      outputs[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1);
    }
  }
  return outputs;
}

/**
 * The bundles a test runs: the work tree's `dist/`, or SLIPWAY_DIST (e.g. an extracted earlier
 * release's `dist/`, to show that a regression test fails on the code before a fix, or that what an
 * older bundle wrote is still read).
 */
export const distRoot = (): string => process.env.SLIPWAY_DIST ?? join(ROOT, 'dist');

/**
 * Runs `node dist/<action>/index.js` on Node 24 as the runner does: inputs as INPUT_* variables,
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, and only the environment given (no leakage from the
 * test process). `interrupt` sends a signal once stdout matches, as a cancelled job gets one;
 * `onStdout` sees the log as it comes, and `signal` kills the action when aborted.
 */
export async function runAction(
  action: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  options: { interrupt?: { when: RegExp; signal: NodeJS.Signals }; onStdout?: (text: string) => void; signal?: AbortSignal; onSpawn?: (pid: number) => void } = {},
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), `slipway-${action}-`));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const child = spawn(node24(), [join(distRoot(), action, 'index.js')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      RUNNER_TEMP: dir,
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      ...env,
      ...inputEnv(inputs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: options.signal,
  });
  // An abort is reported through the exit code, like a cancelled step.
  child.on('error', () => undefined);
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    options.onStdout?.(d);
    // As the runner cancels a job: a signal to the action's process once it has printed `when`.
    if (options.interrupt && !interrupted && options.interrupt.when.test(stdout)) {
      interrupted = true;
      child.kill(options.interrupt.signal);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exitCode = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return {
    exitCode,
    stdout,
    stderr,
    outputs: parseOutputFile(readFileSync(outputFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
  };
}

/** What the runner would show of a run's log: it consumes `::add-mask::` commands, never printing them. */
export const visible = (log: string): string => log.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n');
