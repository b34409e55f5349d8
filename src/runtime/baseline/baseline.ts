/**
 * One workload's baseline: counts of its behavioural items (features.ts) per channel, with
 * the number of distinct more-specific items under each key (what the model's escape
 * probability needs), the learning state, the calibration of the anomaly threshold and the
 * deviations seen since it locked.
 *
 * Lifecycle (as StackRox's process baselines): `learning` from the first event; after the
 * observation window (default 1 h of event time) it locks itself; a locked baseline raises
 * deviation alerts and learns nothing more, except what `accept` adds. `unlock` returns to
 * learning with a fresh window.
 */
import type { WorkloadIdentity } from './identity.js';
import { CHANNELS, type Channel, type Feature } from './features.js';

export const BASELINE_VERSION = 1;
export const DEFAULT_LEARN_MS = 60 * 60 * 1000;

export interface ChannelCounts {
  /** Events counted in the channel. */
  n: number;
  /** Count per key (all levels). */
  c: Map<string, number>;
  /** Distinct more-specific keys seen under a key; '' is the channel root. */
  t: Map<string, number>;
}

export interface Deviation {
  channel: Channel;
  keys: string[];
  score: number;
  count: number;
  firstSeen: string;
  lastSeen: string;
  containers: string[];
}

export interface Calibration {
  /** Score histogram of the second half of the learning window (bin = 0.5 bit). */
  hist: number[];
  /** Event-time seconds the histogram covers. */
  seconds: number;
  /** Threshold chosen at lock (bits), and the target it was chosen for. */
  threshold?: number;
  targetPerHour?: number;
}

export type BaselineState = 'learning' | 'locked';
export const HIST_BINS = 128;
export const HIST_STEP = 0.5;

export class Baseline {
  state: BaselineState = 'learning';
  firstSeenNs = 0n;
  lastSeenNs = 0n;
  lockedAt?: string;
  learnMs: number;
  events = 0;
  readonly channels = new Map<Channel, ChannelCounts>();
  readonly deviations = new Map<string, Deviation>();
  /** Container ids of the replicas seen (most recent last, at most 64). */
  replicas: string[] = [];
  calibration: Calibration = { hist: new Array<number>(HIST_BINS).fill(0), seconds: 0 };
  /** Set when the in-memory copy differs from the file. */
  dirty = true;

  constructor(
    readonly workload: WorkloadIdentity,
    learnMs = DEFAULT_LEARN_MS,
  ) {
    this.learnMs = learnMs;
    for (const ch of CHANNELS) this.channels.set(ch, { n: 0, c: new Map(), t: new Map() });
  }

  get locked(): boolean {
    return this.state === 'locked';
  }

  /** Adds one observation of a feature (every level of its key chain). */
  learn(f: Feature, times = 1): void {
    const cc = this.channels.get(f.ch)!;
    cc.n += times;
    const keys = f.keys;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const before = cc.c.get(k) ?? 0;
      cc.c.set(k, before + times);
      if (before === 0) {
        const parent = i + 1 < keys.length ? keys[i + 1]! : '';
        cc.t.set(parent, (cc.t.get(parent) ?? 0) + 1);
      }
    }
    this.dirty = true;
  }

  count(ch: Channel, key: string): number {
    return this.channels.get(ch)!.c.get(key) ?? 0;
  }

  /** Marks the time of an event; true when the observation window just ended. */
  observe(tNs: bigint, container: string): boolean {
    if (this.firstSeenNs === 0n) this.firstSeenNs = tNs;
    if (tNs > this.lastSeenNs) this.lastSeenNs = tNs;
    this.events++;
    if (this.replicas[this.replicas.length - 1] !== container) {
      const i = this.replicas.indexOf(container);
      if (i >= 0) this.replicas.splice(i, 1);
      this.replicas.push(container);
      if (this.replicas.length > 64) this.replicas.shift();
      this.dirty = true;
    }
    return this.state === 'learning' && Number(tNs - this.firstSeenNs) / 1e6 >= this.learnMs;
  }

  /** Elapsed share of the observation window, 0..1. */
  progress(): number {
    if (this.firstSeenNs === 0n) return 0;
    return Math.min(1, Number(this.lastSeenNs - this.firstSeenNs) / 1e6 / this.learnMs);
  }

  lock(when = new Date()): void {
    this.state = 'locked';
    this.lockedAt = when.toISOString();
    this.dirty = true;
  }

  unlock(): void {
    this.state = 'learning';
    this.lockedAt = undefined;
    this.firstSeenNs = 0n;
    this.lastSeenNs = 0n;
    this.calibration = { hist: new Array<number>(HIST_BINS).fill(0), seconds: 0 };
    this.dirty = true;
  }

  /** Moves a deviation into the baseline; false when there is no such deviation. */
  accept(item: string): boolean {
    const d = this.deviations.get(item);
    if (!d) return false;
    this.learn({ ch: d.channel, keys: d.keys, prior: 0 }, d.count);
    this.deviations.delete(item);
    this.dirty = true;
    return true;
  }

  /** Records a deviation seen while locked. */
  deviate(f: Feature, score: number, time: string, container: string): Deviation {
    const key = `${f.ch}:${f.keys[0]!}`;
    let d = this.deviations.get(key);
    if (!d) {
      d = { channel: f.ch, keys: f.keys, score, count: 0, firstSeen: time, lastSeen: time, containers: [] };
      if (this.deviations.size >= 10_000) this.deviations.delete(this.deviations.keys().next().value!);
      this.deviations.set(key, d);
    }
    d.count++;
    d.lastSeen = time;
    if (score > d.score) d.score = score;
    if (!d.containers.includes(container) && d.containers.length < 64) d.containers.push(container);
    this.dirty = true;
    return d;
  }

  /** Distinct replicas that showed a deviation. */
  static deviationKey(f: Feature): string {
    return `${f.ch}:${f.keys[0]!}`;
  }

  /** The most frequent items of a channel at one level (0 = most specific), for explanations. */
  top(ch: Channel, predicate: (key: string) => boolean, limit = 3): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const [k, v] of this.channels.get(ch)!.c) if (predicate(k)) out.push([k, v]);
    out.sort((a, b) => b[1] - a[1]);
    return out.slice(0, limit);
  }

  // --- persistence ---------------------------------------------------------------------------

  toJSON(): BaselineFile {
    const channels: BaselineFile['channels'] = {};
    for (const [ch, cc] of this.channels) {
      channels[ch] = { n: cc.n, counts: Object.fromEntries(cc.c), distinct: Object.fromEntries(cc.t) };
    }
    return {
      apiVersion: 'gatehouse.dev/v1',
      kind: 'Baseline',
      version: BASELINE_VERSION,
      workload: this.workload,
      state: this.state,
      ...(this.lockedAt ? { lockedAt: this.lockedAt } : {}),
      learnMs: this.learnMs,
      firstSeenNs: this.firstSeenNs.toString(),
      lastSeenNs: this.lastSeenNs.toString(),
      events: this.events,
      replicas: this.replicas,
      calibration: this.calibration,
      channels,
      deviations: Object.fromEntries(this.deviations),
    };
  }

  static fromJSON(j: unknown, where: string): Baseline {
    const bad = (why: string): never => {
      throw new BaselineFormatError(`${where}: ${why}`);
    };
    if (typeof j !== 'object' || j === null || Array.isArray(j)) bad('not a baseline (expected a JSON object)');
    const o = j as Record<string, unknown>;
    if (o.kind !== 'Baseline') bad(`not a baseline (kind ${JSON.stringify(o.kind)})`);
    const unknown = Object.keys(o).filter((k) => !FILE_KEYS.has(k));
    if (unknown.length) bad(`unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}`);
    if (o.version !== BASELINE_VERSION) bad(`baseline version ${JSON.stringify(o.version)} is not supported (expected ${BASELINE_VERSION})`);
    const w = o.workload as WorkloadIdentity | undefined;
    if (!w || typeof w.id !== 'string') bad('workload.id missing');
    if (o.state !== 'learning' && o.state !== 'locked') bad(`state must be learning or locked, got ${JSON.stringify(o.state)}`);
    if (typeof o.learnMs !== 'number' || !(o.learnMs > 0)) bad('learnMs must be a positive number');
    const b = new Baseline(w!, o.learnMs as number);
    b.state = o.state as BaselineState;
    if (typeof o.lockedAt === 'string') b.lockedAt = o.lockedAt;
    const big = (v: unknown, name: string): bigint => {
      if (typeof v !== 'string' || !/^\d+$/.test(v)) bad(`${name} must be a decimal string`);
      return BigInt(v as string);
    };
    b.firstSeenNs = big(o.firstSeenNs, 'firstSeenNs');
    b.lastSeenNs = big(o.lastSeenNs, 'lastSeenNs');
    b.events = typeof o.events === 'number' ? o.events : 0;
    if (Array.isArray(o.replicas)) b.replicas = o.replicas.filter((r): r is string => typeof r === 'string');
    const cal = o.calibration as Calibration | undefined;
    if (cal && Array.isArray(cal.hist) && cal.hist.length === HIST_BINS) b.calibration = cal;
    const chans = o.channels;
    if (typeof chans !== 'object' || chans === null) bad('channels missing');
    for (const [ch, v] of Object.entries(chans as Record<string, unknown>)) {
      if (!CHANNELS.includes(ch as Channel)) bad(`unknown channel '${ch}'`);
      const cv = v as { n?: unknown; counts?: unknown; distinct?: unknown };
      if (typeof cv?.n !== 'number' || typeof cv.counts !== 'object' || typeof cv.distinct !== 'object' || !cv.counts || !cv.distinct) bad(`channel '${ch}' is malformed`);
      const cc = b.channels.get(ch as Channel)!;
      cc.n = cv.n as number;
      for (const [k, c] of Object.entries(cv.counts as Record<string, unknown>)) {
        if (typeof c !== 'number') bad(`channel '${ch}': count of '${k}' is not a number`);
        cc.c.set(k, c as number);
      }
      for (const [k, c] of Object.entries(cv.distinct as Record<string, unknown>)) {
        if (typeof c !== 'number') bad(`channel '${ch}': distinct count of '${k}' is not a number`);
        cc.t.set(k, c as number);
      }
    }
    if (o.deviations && typeof o.deviations === 'object') {
      for (const [k, d] of Object.entries(o.deviations as Record<string, Deviation>)) {
        if (!d || !CHANNELS.includes(d.channel) || !Array.isArray(d.keys)) bad(`deviation '${k}' is malformed`);
        b.deviations.set(k, d);
      }
    }
    b.dirty = false;
    return b;
  }
}

const FILE_KEYS = new Set(['apiVersion', 'kind', 'version', 'workload', 'state', 'lockedAt', 'learnMs', 'firstSeenNs', 'lastSeenNs', 'events', 'replicas', 'calibration', 'channels', 'deviations']);

export interface BaselineFile {
  apiVersion: 'gatehouse.dev/v1';
  kind: 'Baseline';
  version: number;
  workload: WorkloadIdentity;
  state: BaselineState;
  lockedAt?: string;
  learnMs: number;
  firstSeenNs: string;
  lastSeenNs: string;
  events: number;
  replicas: string[];
  calibration: Calibration;
  channels: Partial<Record<Channel, { n: number; counts: Record<string, number>; distinct: Record<string, number> }>>;
  deviations: Record<string, Deviation>;
}

export class BaselineFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BaselineFormatError';
  }
}
