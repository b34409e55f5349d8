/**
 * Puts records back in kernel time order. bpftrace drains one per-CPU buffer at a time, so
 * a child's exec on one CPU can arrive before its parent's fork or exec on another; the
 * process table needs them in order. Records wait until they are `windowNs` old (kernel
 * and Node share CLOCK_MONOTONIC), then leave sorted by time. Records mostly arrive in
 * order, so sorting happens only after an out-of-order arrival.
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

interface Held {
  /** ns since boot: exact as a double for centuries of uptime */
  ts: number;
  seq: number;
  r: RawRecord;
}

export class ReorderBuffer {
  private held: Held[] = [];
  private head = 0;
  private seq = 0;
  private lastTs = -Infinity;
  private sorted = true;

  constructor(
    private readonly windowNs: bigint,
    private readonly release: (r: RawRecord) => void,
  ) {}

  get size(): number {
    return this.held.length - this.head;
  }

  /** When (ns, the records' clock) the oldest held record may leave; undefined when empty. */
  nextReleaseNs(): bigint | undefined {
    if (this.size === 0) return undefined;
    let oldest = this.held[this.head]!.ts;
    if (!this.sorted) for (let i = this.head; i < this.held.length; i++) oldest = Math.min(oldest, this.held[i]!.ts);
    return BigInt(Math.ceil(oldest)) + this.windowNs;
  }

  push(r: RawRecord): void {
    const ts = Number(recordTime(r));
    if (ts < this.lastTs) this.sorted = false;
    else this.lastTs = ts;
    this.held.push({ ts, seq: this.seq++, r });
  }

  /** Releases, in time order, every record older than the window (all with `all`). */
  flush(nowNs: bigint, all = false): void {
    if (this.size === 0) return;
    if (!this.sorted) {
      if (this.head > 0) {
        this.held = this.held.slice(this.head);
        this.head = 0;
      }
      this.held.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
      this.sorted = true;
      this.lastTs = this.held[this.held.length - 1]!.ts;
    }
    const cut = Number(nowNs - this.windowNs);
    const held = this.held;
    let i = this.head;
    while (i < held.length && (all || held[i]!.ts < cut)) this.release(held[i++]!.r);
    this.head = i;
    if (this.head === held.length) {
      this.held = [];
      this.head = 0;
    } else if (this.head > 4096) {
      this.held = held.slice(this.head);
      this.head = 0;
    }
  }
}
