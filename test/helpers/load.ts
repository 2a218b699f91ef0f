export interface LoadSample {
  /** ms since the load started, when the request was sent. */
  at: number;
  status?: number;
  /** The `color` the demo app answered with. */
  color?: string;
  error?: string;
  /** Sent again because its keep-alive connection was closed before any answer (see startLoad). */
  retried?: boolean;
}

/**
 * What a request sent on an idle keep-alive connection gets when nginx's reload closes that connection
 * at the same moment, before any answer: undici's "other side closed", or a reset when the request
 * arrived unread on the closing socket.
 */
const CLOSED_BEFORE_ANSWER = new Set(['UND_ERR_SOCKET', 'ECONNRESET']);

/**
 * Sends GETs at a fixed rate over fetch's keep-alive connections, as a client population would, until
 * stop(); every request is recorded, so a test can count failures and see when answers changed colour.
 * Like a browser (RFC 9112 §9.3.1), a GET whose connection closed before any answer is sent again;
 * such samples are marked `retried`, so callers can report them.
 */
export function startLoad(url: string, perSecond: number): { stop(): Promise<LoadSample[]>; startedAt: number } {
  const samples: LoadSample[] = [];
  const pending = new Set<Promise<void>>();
  const startedAt = Date.now();
  let sent = 0;
  const send = () => {
    const sample: LoadSample = { at: Date.now() - startedAt };
    samples.push(sample);
    // fetch cannot ask for a new connection, and the next pooled one may be closing too: up to 3 sends.
    const get = (sends = 1): Promise<Response> =>
      fetch(url, { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => {
        if (sends >= 3 || !CLOSED_BEFORE_ANSWER.has((error as { cause?: { code?: string } }).cause?.code ?? '')) throw error;
        sample.retried = true;
        return get(sends + 1);
      });
    const task = get()
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
