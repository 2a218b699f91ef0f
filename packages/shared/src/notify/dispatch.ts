import type { ChannelResult, Delivery } from './channel';

/**
 * Sends on every channel at once. A channel that throws becomes a failed result; it never stops the
 * others, and every channel is tried before anyone decides whether the step fails.
 */
export async function dispatch(channels: Record<string, () => Promise<Delivery>>): Promise<{
  results: Record<string, ChannelResult>;
  outputs: Record<string, string>;
}> {
  const entries = Object.entries(channels);
  const settled = await Promise.allSettled(entries.map(([, send]) => send()));
  const results: Record<string, ChannelResult> = {};
  const outputs: Record<string, string> = {};
  entries.forEach(([name], i) => {
    const outcome = settled[i] as PromiseSettledResult<Delivery>;
    if (outcome.status === 'fulfilled') {
      results[name] = outcome.value.result;
      Object.assign(outputs, outcome.value.outputs);
    } else {
      const error = outcome.reason as { message?: string; attempts?: number; status?: number };
      results[name] = { ok: false, status: error.status ?? null, attempts: error.attempts ?? 1, error: error.message ?? String(outcome.reason) };
    }
  });
  return { results, outputs };
}
