/**
 * Cooperative time slices for long synchronous loops on Central's main thread (a source's
 * first load, the image catalog's load, a full evaluation pass). Yielding after a fixed count
 * of items left slices of 50–900 ms on PostgreSQL at 15,000 deployments (bench:central's
 * profile: 2,000 object bodies parsed per page, 15,000 image rows, 25 evaluations between
 * writes), and every API request waiting behind them: `/healthz` p99 55 ms on a quiet machine.
 * A clock check per item is cheap (performance.now() is ~30 ns) next to what an item costs.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Longest run of loop work between two turns of the event loop. */
export const SLICE_MS = 5;

export class TimeSlice {
  private since = performance.now();

  constructor(
    private readonly budgetMs: number = SLICE_MS,
    /** Called after each turn given back (tests count them). */
    private readonly onYield?: () => void,
  ) {}

  /** Yields to the event loop (pending I/O and timers run) when this slice has used its budget. */
  async check(): Promise<void> {
    if (performance.now() - this.since < this.budgetMs) return;
    await yieldToEventLoop();
    this.onYield?.();
    this.since = performance.now();
  }

  /** A turn the caller gave back itself (an await on I/O): the next slice starts now. */
  reset(): void {
    this.since = performance.now();
  }
}
