export interface LoadSample {
  /** ms since the load started, when the request was sent. */
  at: number;
  status?: number;
  /** The `color` the demo app answered with. */
  color?: string;
  error?: string;
}

/**
 * Sends GETs at a fixed rate over fetch's keep-alive connections, as a client population would, until
 * stop(); every request is recorded, so a test can count failures and see when answers changed colour.
 */
export function startLoad(url: string, perSecond: number): { stop(): Promise<LoadSample[]>; startedAt: number } {
  const samples: LoadSample[] = [];
  const pending = new Set<Promise<void>>();
  const startedAt = Date.now();
  let sent = 0;
  const send = () => {
    const sample: LoadSample = { at: Date.now() - startedAt };
    samples.push(sample);
    const task = fetch(url, { signal: AbortSignal.timeout(10_000) })
      .then(async (response) => {
        sample.status = response.status;
        sample.color = ((await response.json()) as { color?: string }).color;
      })
      .catch((error: unknown) => {
        sample.error = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      })
      .finally(() => pending.delete(task));
    pending.add(task);
  };
  // A tick every 10 ms sends what the rate owes so far, so the rate holds even when timers drift.
  const timer = setInterval(() => {
    const owed = Math.floor(((Date.now() - startedAt) / 1000) * perSecond) - sent;
    for (let i = 0; i < owed; i++, sent++) send();
  }, 10);
  return {
    startedAt,
    stop: async () => {
      clearInterval(timer);
      await Promise.all(pending);
      return samples;
    },
  };
}
