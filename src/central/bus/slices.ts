/**
 * Long synchronous stretches of the bus path (parsing a fetch of ~2,000 events, the notices
 * and correlation after its commit) cut into slices: between two slices the event loop
 * answers what waits, such as API requests, so they do not queue behind a whole fetch.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Synchronous work allowed before the event loop gets a turn (ms). */
export const SLICE_MS = 4;

export class Slices {
  private since = performance.now();

  constructor(private readonly sliceMs = SLICE_MS) {}

  /** Gives the event loop a turn if this slice has run for `sliceMs`; else returns at once. */
  async pass(): Promise<void> {
    if (performance.now() - this.since < this.sliceMs) return;
    await nextTurn();
    this.since = performance.now();
  }
}
