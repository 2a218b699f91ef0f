import * as core from '@actions/core';

/** Longer failure messages are cut: a system error quoting a huge input must not flood the log. */
const MAX_MESSAGE = 4000;
const cut = (text: string) => (text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}… (${text.length - MAX_MESSAGE} more characters)` : text);

/**
 * The top level of every action: runs main, and on any error fails the step with a clear message
 * (the stack only in debug logs) and exit code 1. Returns the promise so tests can await it.
 */
export async function run(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error && error.stack) core.debug(cut(error.stack));
    core.setFailed(cut(message)); // also sets exit code 1
  }
}
