/**
 * Puts records back in kernel time order. bpftrace drains one per-CPU buffer at a time, so
 * a child's exec on one CPU can arrive before its parent's fork or exec on another; the
 * process table needs them in order. Records wait until they are `windowNs` old (kernel
 * and Node share CLOCK_MONOTONIC), then leave sorted by time.
 */
import type { RawRecord } from './records.js';

export function recordTime(r: RawRecord): bigint {
  switch (r.t) {
    case 'event':
      return r.head.ts;
    case 'fork':
    case 'exit':
      return r.ts;
    default:
      return 0n;
  }
}

export class ReorderBuffer {
  private held: RawRecord[] = [];
  private seq = 0;
  private order = new WeakMap<RawRecord, number>();

  constructor(
    private readonly windowNs: bigint,
    private readonly release: (r: RawRecord) => void,
  ) {}

  get size(): number {
    return this.held.length;
  }

  push(r: RawRecord): void {
    this.order.set(r, this.seq++);
    this.held.push(r);
  }

  /** Releases, in time order, every record older than the window (all with `all`). */
  flush(nowNs: bigint, all = false): void {
    if (!this.held.length) return;
    const cut = nowNs - this.windowNs;
    this.held.sort((a, b) => {
      const d = recordTime(a) - recordTime(b);
      return d < 0n ? -1 : d > 0n ? 1 : this.order.get(a)! - this.order.get(b)!;
    });
    let n = 0;
    while (n < this.held.length && (all || recordTime(this.held[n]!) < cut)) n++;
    const out = this.held.splice(0, n);
    for (const r of out) this.release(r);
  }
}
