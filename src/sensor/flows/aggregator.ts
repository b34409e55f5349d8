/**
 * Aggregates connection observations (connect, accept, UDP first packet, conntrack) into
 * flows per interval: one ObservedFlow per (container, process, direction, protocol, remote
 * ip, and the server's port: the remote port for egress, the local port for ingress) and
 * interval, never raw events. The client's port is ephemeral, so it is not part of a flow:
 * it is 0 in the flow (local.port of egress, remote.port of ingress).
 *
 * Intervals are aligned on the observation's own time (floor(t / interval)), so a flow's
 * interval does not depend on when the sensor got round to it. `flush(now)` emits every
 * interval that ended at least `graceMs` before `now`; an observation older than what was
 * already flushed (late: held up in the pipeline) counts in the oldest interval still open,
 * so a flow is never emitted twice for one interval (its id is an idempotency key).
 *
 * Memory is bounded: at most `maxFlows` open flows; beyond the cap a new flow key is dropped
 * and counted (`stats().dropped`), while flows already open keep counting.
 */
import { createHash } from 'node:crypto';
import type { FlowLocalEnd, FlowProtocol, ObservedFlow } from '../../network/flow.js';

/** One connection seen by a probe or by conntrack. */
export interface FlowObservation {
  /** Wall clock, ms since the epoch. */
  timeMs: number;
  protocol: FlowProtocol;
  direction: 'egress' | 'ingress';
  local: FlowLocalEnd;
  remote: { ip: string; port: number; dns?: string };
  observedBy: 'ebpf' | 'conntrack';
  /** Connections this observation stands for (default 1; 0 for a byte update of a known connection). */
  connections?: number;
  bytes?: number;
}

export interface FlowAggregatorOptions {
  intervalMs: number;
  /** Open flows held at most (default 10,000); new flow keys beyond it are dropped and counted. */
  maxFlows?: number;
  /** How long after an interval's end it stays open for late observations (default 2 s). */
  graceMs?: number;
  /** Goes into every flow id, so two hosts' identical host-process flows differ. */
  host?: string;
}

export interface FlowAggregatorStats {
  /** Observations taken. */
  observed: number;
  /** Observations whose flow was not open and could not be opened (cap reached). */
  dropped: number;
  /** Observations that arrived after their interval was flushed (counted in a later one). */
  late: number;
  /** Flows emitted by flush(). */
  flushed: number;
  /** Flows open now. */
  open: number;
}

interface Entry {
  key: string;
  intervalStart: number;
  flow: ObservedFlow;
  first: number;
  last: number;
}

/** The fields that make a flow, as one string (the client's ephemeral port is not part of it). */
export function flowKey(o: Pick<FlowObservation, 'protocol' | 'direction' | 'local' | 'remote' | 'observedBy'>): string {
  // joined by a control character no field holds (process names and paths come from the
  // kernel's records, whose separator it is); per connection, so no JSON.stringify here
  const egress = o.direction === 'egress';
  return `${o.local.container?.id ?? 'host'}\x1f${o.local.process?.name ?? ''}\x1f${o.local.process?.exe ?? ''}\x1f${o.direction}\x1f${o.protocol}\x1f${o.remote.ip}\x1f${egress ? o.remote.port : 0}\x1f${egress ? 0 : o.local.port}\x1f${o.observedBy}`;
}

const RECENT_SLOTS = 256;

/** A slot for the observation's flow among the recent ones: the direction, the server's port, the remote address's length and last character, the process name's length. */
function recentSlot(o: FlowObservation): number {
  const ip = o.remote.ip;
  // the two ends of one connection on this host share port, address and often the program: the direction keeps them apart
  const egress = o.direction === 'egress';
  const h = (egress ? o.remote.port : o.local.port) * 31 + ip.length * 7 + ip.charCodeAt(ip.length - 1) + (o.local.process?.name.length ?? 0) * 3;
  return (h & (RECENT_SLOTS / 2 - 1)) | (egress ? 0 : RECENT_SLOTS / 2);
}

/** The flow has the observation's key (the fields of flowKey, compared one by one). */
function sameFlow(f: ObservedFlow, o: FlowObservation): boolean {
  if (f.direction !== o.direction || f.protocol !== o.protocol || f.observedBy !== o.observedBy || f.remote.ip !== o.remote.ip) return false;
  if (o.direction === 'egress' ? f.remote.port !== o.remote.port : f.local.port !== o.local.port) return false;
  const fl = f.local;
  const ol = o.local;
  return (
    (fl.container?.id ?? 'host') === (ol.container?.id ?? 'host') &&
    (fl.process?.name ?? '') === (ol.process?.name ?? '') &&
    (fl.process?.exe ?? '') === (ol.process?.exe ?? '')
  );
}

/** The flow's idempotency key: a hash of its key, its interval and the host. */
export function flowId(key: string, intervalStart: number, host = ''): string {
  return `flow:${createHash('sha256').update(`${host}\n${intervalStart}\n${key}`).digest('hex').slice(0, 40)}`;
}

export interface FlushedFlow {
  id: string;
  intervalStart: number;
  flow: ObservedFlow;
}

export class FlowAggregator {
  /** Open flows by interval start, then by key. */
  private readonly open = new Map<number, Map<string, Entry>>();
  private openCount = 0;
  private readonly intervalMs: number;
  private readonly maxFlows: number;
  private readonly graceMs: number;
  /** Every interval before this one is flushed. */
  private flushedUntil = -Infinity;
  private counters = { observed: 0, dropped: 0, late: 0, flushed: 0 };
  /** Flows observed lately, by a cheap hash of their fields (see recentSlot). */
  private readonly recent: Array<Entry | undefined> = new Array<Entry | undefined>(RECENT_SLOTS).fill(undefined);

  constructor(private readonly opts: FlowAggregatorOptions) {
    if (!(opts.intervalMs > 0)) throw new RangeError('intervalMs must be positive');
    this.intervalMs = opts.intervalMs;
    this.maxFlows = opts.maxFlows ?? 10_000;
    this.graceMs = opts.graceMs ?? 2000;
  }

  intervalOf(timeMs: number): number {
    return Math.floor(timeMs / this.intervalMs) * this.intervalMs;
  }

  add(o: FlowObservation): void {
    this.counters.observed++;
    let start = this.intervalOf(o.timeMs);
    if (start < this.flushedUntil) {
      this.counters.late++;
      start = this.flushedUntil;
    }
    const n = o.connections ?? 1;
    // most connections repeat a flow seen a moment ago: found by comparing its fields, the
    // flow key (a string of ~100 characters, built and hashed) is not needed
    const slot = recentSlot(o);
    const recent = this.recent[slot];
    const e = recent !== undefined && recent.intervalStart === start && sameFlow(recent.flow, o) ? recent : this.lookup(o, start);
    if (e) {
      this.recent[slot] = e;
      e.flow.connections += n;
      if (o.bytes !== undefined) e.flow.bytes = (e.flow.bytes ?? 0) + o.bytes;
      if (o.timeMs < e.first) e.first = o.timeMs;
      if (o.timeMs > e.last) e.last = o.timeMs;
      if (!e.flow.remote.dns && o.remote.dns) e.flow.remote.dns = o.remote.dns;
      return;
    }
    const key = flowKey(o);
    let bucket = this.open.get(start);
    if (!bucket) {
      bucket = new Map();
      this.open.set(start, bucket);
    }
    if (this.openCount >= this.maxFlows) {
      this.counters.dropped++;
      return;
    }
    const local: FlowLocalEnd = { ...o.local, port: o.direction === 'ingress' ? o.local.port : 0 };
    const flow: ObservedFlow = {
      protocol: o.protocol,
      direction: o.direction,
      local,
      remote: { ...o.remote, port: o.direction === 'egress' ? o.remote.port : 0 },
      firstSeen: '',
      lastSeen: '',
      connections: n,
      observedBy: o.observedBy,
    };
    if (o.bytes !== undefined) flow.bytes = o.bytes;
    const entry: Entry = { key, intervalStart: start, flow, first: o.timeMs, last: o.timeMs };
    bucket.set(key, entry);
    this.recent[slot] = entry;
    this.openCount++;
  }

  private lookup(o: FlowObservation, start: number): Entry | undefined {
    return this.open.get(start)?.get(flowKey(o));
  }

  /**
   * Emits the flows of every interval that ended at least graceMs before nowMs (all of them
   * with `all`, when the sensor stops), oldest interval first.
   */
  flush(nowMs: number, all = false): FlushedFlow[] {
    const cutoff = all ? Infinity : this.intervalOf(nowMs - this.graceMs);
    const out: FlushedFlow[] = [];
    for (const [start, bucket] of this.open) {
      if (start >= cutoff) continue;
      this.open.delete(start);
      this.recent.fill(undefined);
      this.openCount -= bucket.size;
      for (const e of bucket.values()) {
        e.flow.firstSeen = new Date(e.first).toISOString();
        e.flow.lastSeen = new Date(e.last).toISOString();
        out.push({ id: flowId(e.key, e.intervalStart, this.opts.host), intervalStart: e.intervalStart, flow: e.flow });
      }
    }
    if (all) {
      const latest = out.reduce((m, f) => Math.max(m, f.intervalStart + this.intervalMs), this.intervalOf(nowMs) + this.intervalMs);
      this.flushedUntil = Math.max(this.flushedUntil, latest);
    } else if (cutoff > this.flushedUntil) this.flushedUntil = cutoff;
    out.sort((a, b) => a.intervalStart - b.intervalStart);
    this.counters.flushed += out.length;
    return out;
  }

  stats(): FlowAggregatorStats {
    return { ...this.counters, open: this.openCount };
  }
}
