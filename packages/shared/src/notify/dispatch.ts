import { redact } from '../secrets/index';
import type { ChannelResult, Delivery } from './channel';

/**
 * Sends on every channel at once. A channel that throws becomes a failed result; it never stops the
 * others, and every channel is tried before anyone decides whether the step fails. Errors go to the
 * log, the summary, the `results` output and the step's error, so every registered secret is taken
 * out of them here, in any letter case, whatever the channel quoted (an SMTP reply, a library's message).
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
      const { result } = outcome.value;
      results[name] = result.error === undefined ? result : { ...result, error: redact(result.error, [], { anyCase: true }) };
      Object.assign(outputs, outcome.value.outputs);
    } else {
      const error = outcome.reason as { message?: string; attempts?: number; status?: number };
      results[name] = { ok: false, status: error.status ?? null, attempts: error.attempts ?? 1, error: redact(error.message ?? String(outcome.reason), [], { anyCase: true }) };
    }
  });
  return { results, outputs };
}
