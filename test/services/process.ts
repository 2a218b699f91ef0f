import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { waitForPort } from '../helpers/net';

export interface Service {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Fails, never skips, when a program a test needs is missing, and says how to get it; returns its path. */
export function requireCommand(command: string, howToGet: string): string {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', command], { encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`'${command}' is not installed: ${howToGet} (\`npm test\` does this in its pretest step).`);
  return found.stdout.trim();
}

let ownProcessGroups = false;
/**
 * From now on, start services in process groups of their own, so that a terminal's Ctrl-C reaches only
 * the program that started them, which then stops them in its own order (`npm run demo` does: the
 * running action takes its traffic away through nginx first). Tests leave services in their group.
 */
export function startServicesInOwnProcessGroups(): void {
  ownProcessGroups = true;
}

/** Starts a long-running program; stop() ends it and waits for it to exit. */
export function startProcess(command: string, args: string[]): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: ownProcessGroups });
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

/**
 * Starts a server process and waits until it listens on its loopback port. If it never does, it is
 * stopped and the error carries what it printed, so a broken service explains itself.
 */
export async function startService(what: string, command: string, args: string[], port: number, timeoutMs = 30_000): Promise<ReturnType<typeof startProcess>> {
  const proc = startProcess(command, args);
  try {
    await waitForPort(port, what, timeoutMs);
  } catch (error) {
    await proc.stop();
    throw new Error(`${(error as Error).message}\n${proc.output()}`, { cause: error });
  }
  return proc;
}

/** Database servers refuse to run as root: as root, their folder goes to the user they run as. */
export function giveToUser(user: string, dir: string, howToGet: string): void {
  if (process.getuid?.() !== 0) return;
  chmodSync(dir, 0o755);
  if (spawnSync('chown', ['-R', `${user}:${user}`, dir]).status !== 0) throw new Error(`could not give ${dir} to the ${user} user (${howToGet}).`);
}
