/**
 * Puts records back in kernel time order. bpftrace drains one per-CPU buffer at a time, so
 * a child's exec on one CPU can arrive before its parent's fork or exec on another; the
 * process table needs them in order.
 *
 * The watermark: records of one CPU arrive in the order that CPU wrote them, so once every
 * CPU has shown a time ≥ T (a record of its own, or the probe's heartbeat, which every CPU
 * prints after anything was emitted), no record older than T can still come, and every
 * held record up to T may leave. A record also leaves once it is `windowNs` old (kernel
 * and Node share CLOCK_MONOTONIC): the bound for a CPU that shows nothing, and the only
 * rule for records that carry no CPU. Records leave sorted by time; they mostly arrive
 * in order, so sorting happens only after an out-of-order arrival.
 */
import { readFileSync } from 'node:fs';
import type { RawRecord } from './records.js';

/** The online CPUs ("0-3,6" in sysfs); [] when unknown (then only the window orders). */
export function onlineCpus(list?: string): number[] {
  let text = list;
  if (text === undefined) {
    try {
      text = readFileSync('/sys/devices/system/cpu/online', 'utf8');
    } catch {
      return [];
    }
  }
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return [];
    const a = Number(m[1]);
    const b = Number(m[2] ?? m[1]);
    if (b < a || b - a > 4096) return [];
    for (let c = a; c <= b; c++) out.push(c);
  }
  return out;
}

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

function byTime(a: Held, b: Held): number {
  return a.ts - b.ts || a.seq - b.seq;
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

  /** Latest time each CPU has shown, by CPU number (-Infinity: nothing yet). */
  private readonly progress: number[];

  /** `cpus`: the CPUs whose progress the watermark waits for (none: the window only). */
  constructor(
    private readonly windowNs: bigint,
    private readonly release: (r: RawRecord) => void,
    cpus: readonly number[] = [],
  ) {
    this.progress = [];
    for (const c of cpus) this.progress[c] = -Infinity;
  }

  /** Every record up to this time (ns) may leave: the least progress over the CPUs. */
  watermark(): number {
    const p = this.progress;
    if (p.length === 0) return -Infinity;
    let min = Infinity;
    for (let i = 0; i < p.length; i++) {
      const v = p[i];
      if (v !== undefined && v < min) min = v;
    }
    return min;
  }

  /** A CPU showed its clock: every record it wrote before `ts` has arrived. */
  advance(cpu: number, ts: number): void {
    const v = this.progress[cpu];
    if (v !== undefined && ts > v) this.progress[cpu] = ts;
  }

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
    if (r.t === 'event' || r.t === 'fork' || r.t === 'exit') {
      if (r.cpu !== undefined) this.advance(r.cpu, ts);
    }
    if (ts < this.lastTs) this.sorted = false;
    else this.lastTs = ts;
    this.held.push({ ts, seq: this.seq++, r });
  }

  /** Releases, in time order, every record up to the watermark or older than the window (all with `all`). */
  flush(nowNs: bigint, all = false): void {
    if (this.size === 0) return;
    if (!this.sorted) {
      if (this.head > 0) {
        this.held = this.held.slice(this.head);
        this.head = 0;
      }
      this.held.sort(byTime);
      this.sorted = true;
      this.lastTs = this.held[this.held.length - 1]!.ts;
    }
    const byWindow = Number(nowNs - this.windowNs);
    const wm = this.watermark();
    const held = this.held;
    let i = this.head;
    while (i < held.length && (all || held[i]!.ts < byWindow || held[i]!.ts <= wm)) this.release(held[i++]!.r);
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
