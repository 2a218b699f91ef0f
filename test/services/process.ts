import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface Service {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Fails, never skips, when a program a test needs is missing, and says how to get it. */
export function requireCommand(command: string, howToGet: string): void {
  if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { stdio: 'ignore' }).status !== 0) {
    throw new Error(`'${command}' is not installed: ${howToGet} (\`npm test\` does this in its pretest step).`);
  }
}

/** Starts a long-running program; stop() ends it and waits for it to exit. */
export function startProcess(command: string, args: string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-8000)));
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}
