/** Retry pacing for watchers: jittered exponential backoff, capped, and an abortable sleep. */

/** Delay before retry number `attempt` (0-based): 250 ms doubling, capped, with full jitter in its upper half. */
export function backoffDelay(attempt: number, capMs = 5000, baseMs = 250): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  // Half fixed, half random: many watchers of one restarted apiserver do not all come back at once.
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs sink calls one after another in arrival order (watch events arrive synchronously,
 * sink calls are async; an upsert must not overtake the delete that followed it). The first
 * failure is kept and later calls are dropped: the caller re-lists, which repairs the sink.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  failure: unknown;

  constructor(private readonly onFailure: (e: unknown) => void = () => {}) {}

  push(task: () => Promise<void>): void {
    this.tail = this.tail.then(async () => {
      if (this.failure !== undefined) return;
      try {
        await task();
      } catch (e) {
        this.failure = e ?? new Error('sink call failed');
        this.onFailure(this.failure);
      }
    });
  }

  /** Waits for every queued call; throws the first failure. */
  async drain(): Promise<void> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure;
  }
}
