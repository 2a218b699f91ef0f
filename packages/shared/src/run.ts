import * as core from '@actions/core';

/**
 * The top level of every action: runs main, and on any error fails the step with a clear message
 * (the stack only in debug logs) and exit code 1. Returns the promise so tests can await it.
 */
export async function run(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error && error.stack) core.debug(error.stack);
    core.setFailed(message); // also sets exit code 1
  }
}
