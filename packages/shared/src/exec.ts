import { spawn } from 'node:child_process';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { redact } from './secrets/index';

export interface ExecOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGTERM, then SIGKILL after 5 s) when it runs longer than this. */
  timeoutMs?: number;
  /** Values replaced by *** in everything echoed and in errors. */
  secrets?: readonly string[];
  /** Called with each chunk of output, already redacted (default: echo to this process's stdout/stderr). */
  onStdout?: (text: string) => void;
  onStderr?: (text: string) => void;
  /** Don't echo output at all. */
  silent?: boolean;
  /** Data written to the command's stdin, then closed. */
  input?: string | Buffer;
  /** Keep at most this many bytes of stdout in the result (default 16 MiB); streams past it are still drained. */
  maxCapture?: number;
  /** Resolve with the exit code instead of throwing when the command fails. */
  ignoreExitCode?: boolean;
  /** Stop the command (SIGTERM, then SIGKILL after 5 s) when aborted, e.g. by a cancelled job; the call then fails. */
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export class ExecError extends Error {
  constructor(
    message: string,
    readonly result: ExecResult,
    /** The errno code when the command could not be started (`ENOENT`: not installed), as Node's spawn errors carry it. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

const STDERR_TAIL = 4096;

/** Runs a command from an argv array (never through a shell), streaming and capturing its output. */
export function exec(command: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const secrets = options.secrets ?? [];
  const maxCapture = options.maxCapture ?? 16 * 1024 * 1024;
  const echoOut = options.silent ? undefined : (options.onStdout ?? ((t: string) => process.stdout.write(t)));
  const echoErr = options.silent ? undefined : (options.onStderr ?? ((t: string) => process.stderr.write(t)));
  const display = redact([command, ...args].join(' '), secrets);
  const started = performance.now();

  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new ExecError(`'${display}' was not started: ${abortReason(options.signal)}`, { exitCode: -1, stdout: '', stderr: '', durationMs: 0 }));
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGTERM');
            killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
          }, options.timeoutMs);
    const stop = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    };
    options.signal?.addEventListener('abort', stop, { once: true });

    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < maxCapture) stdout += chunk.slice(0, maxCapture - stdout.length);
      echoOut?.(redact(chunk, secrets));
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = keepTail(stderr, chunk);
      echoErr?.(redact(chunk, secrets));
    });
    child.stdin.on('error', () => {
      // The command may exit without reading its input; its exit status tells what happened.
    });
    child.stdin.end(options.input);

    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(startError(command, error, secrets, { exitCode: -1, stdout, stderr, durationMs: performance.now() - started }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', stop);
      const result: ExecResult = {
        exitCode: code ?? 128,
        stdout: redact(stdout, secrets),
        stderr: redact(stderr, secrets),
        durationMs: performance.now() - started,
      };
      if (options.signal?.aborted) {
        reject(new ExecError(`'${display}' was stopped: ${abortReason(options.signal)}`, result));
      } else if (timedOut) {
        reject(new ExecError(`'${display}' timed out after ${options.timeoutMs} ms${tail(result.stderr)}`, result));
      } else if (code !== 0 && !options.ignoreExitCode) {
        reject(exitError(display, signal, result));
      } else {
        resolve(result);
      }
    });
  });
}

const abortReason = (signal: AbortSignal) => (signal.reason instanceof Error ? signal.reason.message : String(signal.reason));

/** Only the tail of stderr matters for errors; keeping all of it would grow with the command's chatter. */
function keepTail(kept: string, chunk: string): string {
  return (kept + chunk).slice(-STDERR_TAIL * 4);
}

function startError(command: string, error: NodeJS.ErrnoException, secrets: readonly string[], result: ExecResult): ExecError {
  const hint = error.code === 'ENOENT' ? ` (is '${command}' installed and on PATH?)` : '';
  return new ExecError(`Could not start ${redact(command, secrets)}: ${error.message}${hint}`, result, error.code);
}

/** `'cmd args' exited with code 3:` and the stderr tail (result.stderr is redacted already). */
function exitError(display: string, signal: NodeJS.Signals | null, result: ExecResult): ExecError {
  const how = signal ? `was killed by ${signal}` : `exited with code ${result.exitCode}`;
  return new ExecError(`'${display}' ${how}${tail(result.stderr)}`, result);
}

function tail(stderr: string): string {
  const text = stderr.trim();
  if (!text) return '';
  const cut = text.length > STDERR_TAIL ? `…${text.slice(-STDERR_TAIL)}` : text;
  return `:\n${cut}`;
}

export interface StreamOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  secrets?: readonly string[];
  /** Called with each chunk of stderr, redacted (default: echoed to this process's stderr). */
  onStderr?: (text: string) => void;
}

/**
 * Runs a command from an argv array and yields its stdout as it comes, for data that grows with the
 * user's (a database dump). Reading is paced by the consumer, so memory stays flat. When the command
 * exits non-zero, iteration ends with an ExecError carrying the tail of stderr: a pipeline built on
 * this can never mistake a failed dump for a short one.
 */
export async function* streamCommand(command: string, args: readonly string[], options: StreamOptions = {}): AsyncGenerator<Buffer> {
  const secrets = options.secrets ?? [];
  const echoErr = options.onStderr ?? ((t: string) => process.stderr.write(t));
  const display = redact([command, ...args].join(' '), secrets);
  const started = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = keepTail(stderr, chunk);
    echoErr(redact(chunk, secrets));
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(startError(command, error, secrets, { exitCode: -1, stdout: '', stderr, durationMs: 0 })));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  closed.catch(() => {
    // Reported when the generator awaits it below.
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const { code, signal } = await closed;
    if (code !== 0) {
      throw exitError(display, signal, { exitCode: code ?? 128, stdout: '', stderr: redact(stderr, secrets), durationMs: performance.now() - started });
    }
  } finally {
    // The consumer stopped early or failed: don't leave the command running.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

/**
 * Runs a command with a stream as its stdin (a restore tool reading a dump), paced by the command.
 * If the source fails part-way (a wrong key, a damaged file), the command is killed and that error is
 * thrown, so a restore never completes on partial input.
 */
/**
 * Writes `source` to a command's stdin, returning what went wrong on this side: the source's error, or
 * the pipe's. A command that stopped reading (it exited, perhaps having read all it needs) is not an
 * error here, its exit status says why: the pipe reports that as EPIPE, or as its stdin closing before
 * the end (ERR_STREAM_PREMATURE_CLOSE) when no write was in flight, depending on timing.
 */
export async function writeToStdin(source: AsyncIterable<Uint8Array>, stdin: Writable): Promise<unknown> {
  let failed: unknown;
  // Only what the source throws is the source's error: the pipe's own comes back in through throw().
  async function* read(): AsyncGenerator<Uint8Array> {
    const iterator = source[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next().catch((error: unknown) => {
          failed = error ?? new Error('the source failed');
          throw error;
        });
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  try {
    await pipeline(Readable.from(read()), stdin);
    return undefined;
  } catch (error) {
    if (failed !== undefined) return failed;
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'EPIPE' || code === 'ERR_STREAM_PREMATURE_CLOSE' ? undefined : error;
  }
}

export async function feedCommand(command: string, args: readonly string[], source: AsyncIterable<Uint8Array>, options: StreamOptions & { onStdout?: (text: string) => void } = {}): Promise<ExecResult> {
  const secrets = options.secrets ?? [];
  const display = redact([command, ...args].join(' '), secrets);
  const started = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout = keepTail(stdout, chunk);
    options.onStdout?.(redact(chunk, secrets));
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = keepTail(stderr, chunk);
    (options.onStderr ?? ((t: string) => process.stderr.write(t)))(redact(chunk, secrets));
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => reject(startError(command, error, secrets, { exitCode: -1, stdout: '', stderr, durationMs: 0 })));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const sourceError = await writeToStdin(source, child.stdin);
  if (sourceError) child.kill('SIGTERM');
  const { code, signal } = await closed;
  if (sourceError) throw sourceError;
  const result = { exitCode: code ?? 128, stdout, stderr: redact(stderr, secrets), durationMs: performance.now() - started };
  if (code !== 0) throw exitError(display, signal, result);
  return result;
}
