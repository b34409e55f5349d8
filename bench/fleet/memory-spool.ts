/**
 * The fleet simulator's stand-in for the sensor's disk spool (src/central/client/spool.ts):
 * the calls EventShipper makes (append, peek, ack, stats, the loss counters), kept in memory.
 * The simulated sensors run the product's EventShipper over it, so they batch and flush as a
 * real sensor with `--nats` does (its batch size, its flush interval, one batch in flight),
 * while the spool's fsyncs — measured by bench:sensor, not by bench:scale — are left out.
 * Nothing is ever dropped here: the publisher stops making events when too many wait
 * (counted as `behind`), so the shipper never sends a spool-loss alert.
 */
import { randomUUID } from 'node:crypto';
import type { AppendResult, SpoolStats } from '../../src/central/client/spool.js';

export class MemorySpool<T> {
  readonly dir = '(memory)';
  readonly id = randomUUID();
  private events: T[] = [];
  /** Index of the first unacknowledged event in `events`. */
  private head = 0;
  private peeked = 0;
  private reported = 0;

  /** `waiting` counts the events of every spool of the process that are not acknowledged yet. */
  constructor(private readonly waiting: { events: number } = { events: 0 }) {}

  get lossReported(): number {
    return this.reported;
  }

  append(events: readonly T[]): AppendResult {
    for (const e of events) this.events.push(e);
    this.waiting.events += events.length;
    return { accepted: events.length, dropped: 0 };
  }

  peek(maxEvents: number): T[] {
    const out = this.events.slice(this.head, this.head + maxEvents);
    this.peeked = out.length;
    return out;
  }

  /** As Spool.ack: the first `n` events of the last peek are gone; more than it peeked is a bug of the caller. */
  ack(n: number): void {
    if (n <= 0) return;
    if (n > this.peeked) throw new Error(`spool: ack(${n}) of more events than the last peek returned (${this.peeked})`);
    this.head += n;
    this.peeked = 0;
    this.waiting.events -= n;
    // Drop the acknowledged prefix once it is most of the array (amortised O(1) per event).
    if (this.head > 1024 && this.head * 2 > this.events.length) {
      this.events = this.events.slice(this.head);
      this.head = 0;
    }
  }

  setLossReported(droppedTotal: number): void {
    if (droppedTotal > this.reported) this.reported = droppedTotal;
  }

  stats(): SpoolStats {
    return { pendingEvents: this.events.length - this.head, pendingBytes: 0, droppedTotal: 0 };
  }

  close(): void {
    // Nothing to release.
  }
}
