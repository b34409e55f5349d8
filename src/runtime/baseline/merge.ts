/**
 * One baseline per workload shared by every sensor that sees its replicas (issue 19 item 1,
 * "replicas of one workload share one baseline", also across hosts), merged by Central.
 *
 * Sensors push DELTAS: the features they learned since their last push (each with its key
 * chain and how many times), the events and calibration histogram counted since, and their
 * event-time bounds. Counts are additive across hosts, so the merged baseline is exactly the
 * baseline one sensor would have learned had it seen every replica; a key chain lets Central
 * keep the "distinct more specific items" counts the model's escape probability needs (a key
 * new to the merged baseline adds one under its parent, however many hosts learned it). Full
 * snapshots could not be merged: a sensor adopts the merged baseline, so its snapshot holds
 * the other hosts' counts too. A push carries an id; a retry of a push Central applied is
 * recognised and not counted twice (the sensor never sends a new push before the last one is
 * acknowledged).
 *
 * Lifecycle is Central's when a Central is used: it locks the merged baseline when the merged
 * window (first to last event over all hosts) has passed, or when an admin locks it, and
 * calibrates the threshold on the merged histogram; `unlock` starts a new epoch (pushes from
 * an older epoch still add counts, but not their window bounds or histogram). A locked merged
 * baseline learns nothing from pushes: only `accept` adds to it.
 *
 * Deviations stay per host (each push replaces its host's set; items the merged baseline
 * knows are dropped) and are shown merged: counts summed, highest score, hosts and replicas.
 */
import { AnomalyDetector } from '../anomaly/detector.js';
import { Baseline, HIST_BINS, type BaselineFile, type Deviation } from './baseline.js';
import { CHANNELS, type Channel, type Feature } from './features.js';
import type { WorkloadIdentity } from './identity.js';

export interface LearnedItem {
  ch: Channel;
  /** The feature's key chain, most specific first. */
  keys: string[];
  n: number;
}

export interface HostDeviation {
  /** `channel:most specific key`, what `baseline accept` takes. */
  item: string;
  channel: Channel;
  keys: string[];
  score: number;
  count: number;
  firstSeen: string;
  lastSeen: string;
  containers: string[];
}

/** What one sensor pushes for one workload. */
export interface BaselineDelta {
  workload: WorkloadIdentity;
  /** The epoch of the merged baseline the sensor last adopted (0 before any). */
  epoch: number;
  learnMs: number;
  /** Event-time bounds of what this sensor saw in the current window ('0': none). */
  firstSeenNs: string;
  lastSeenNs: string;
  /** Events observed since the last push. */
  events: number;
  replicas: string[];
  /** Calibration histogram increments since the last push: [bin, count] pairs. */
  hist: Array<[number, number]>;
  items: LearnedItem[];
  /** This host's current deviations (the whole set: it replaces the previous one). */
  deviations: HostDeviation[];
}

export interface MergedBaseline {
  baseline: Baseline;
  epoch: number;
}

/** What a detector learned for one workload between two pushes. */
export interface LearnedSince {
  items: LearnedItem[];
  /** Events learned. */
  events: number;
  /** Calibration histogram increments: [bin, count]. */
  hist: Array<[number, number]>;
}

interface JournalEntry {
  items: Map<string, LearnedItem>;
  events: number;
  hist: Map<number, number>;
}

/** Collects what a detector learns between pushes, per workload (bounded by distinct items). */
export class LearnJournal {
  private readonly byWorkload = new Map<string, JournalEntry>();

  /** One learned event: its features and, in the calibration half of the window, its histogram bin. */
  record(workload: string, features: readonly Feature[], bin?: number): void {
    let e = this.byWorkload.get(workload);
    if (!e) this.byWorkload.set(workload, (e = { items: new Map(), events: 0, hist: new Map() }));
    e.events++;
    if (bin !== undefined) e.hist.set(bin, (e.hist.get(bin) ?? 0) + 1);
    for (const f of features) {
      // the first key names the item (its chain follows from it), as Baseline.deviate does
      const k = `${f.ch}\u0000${f.keys[0]!}`;
      const it = e.items.get(k);
      if (it) it.n++;
      else e.items.set(k, { ch: f.ch, keys: f.keys, n: 1 });
    }
  }

  /** What a workload learned since the last take, forgetting it. */
  take(workload: string): LearnedSince {
    const out = this.peek(workload);
    this.byWorkload.delete(workload);
    return out;
  }

  peek(workload: string): LearnedSince {
    const e = this.byWorkload.get(workload);
    return e ? { items: [...e.items.values()], events: e.events, hist: [...e.hist] } : { items: [], events: 0, hist: [] };
  }

  drop(workload: string): void {
    this.byWorkload.delete(workload);
  }

  /** Distinct items held (what bounds its memory). */
  get size(): number {
    let n = 0;
    for (const e of this.byWorkload.values()) n += e.items.size;
    return n;
  }

  toJSON(): Record<string, LearnedSince> {
    return Object.fromEntries([...this.byWorkload.keys()].map((k) => [k, this.peek(k)]));
  }

  /** Adds what another journal held (a saved one, read back at start). */
  restore(saved: Record<string, LearnedSince>): void {
    for (const [wl, l] of Object.entries(saved)) {
      let e = this.byWorkload.get(wl);
      if (!e) this.byWorkload.set(wl, (e = { items: new Map(), events: 0, hist: new Map() }));
      e.events += l.events;
      for (const [bin, n] of l.hist) e.hist.set(bin, (e.hist.get(bin) ?? 0) + n);
      for (const it of l.items) {
        const k = `${it.ch}\u0000${it.keys[0]!}`;
        const have = e.items.get(k);
        if (have) have.n += it.n;
        else e.items.set(k, { ...it });
      }
    }
  }
}

const minNs = (a: bigint, b: bigint) => (a === 0n ? b : b === 0n ? a : a < b ? a : b);

/** Central's side: merges one sensor's delta into the workload's baseline; `autoLocked` when its window just ended. */
export function applyDelta(current: MergedBaseline | undefined, d: BaselineDelta): MergedBaseline & { autoLocked: boolean } {
  const m = current ?? { baseline: new Baseline(d.workload, d.learnMs), epoch: 0 };
  const b = m.baseline;
  const sameEpoch = d.epoch === m.epoch;
  if (!b.locked) {
    for (const it of d.items) b.learn({ ch: it.ch, keys: it.keys, prior: 0 }, it.n);
    if (sameEpoch) {
      b.firstSeenNs = minNs(b.firstSeenNs, BigInt(d.firstSeenNs));
      if (BigInt(d.lastSeenNs) > b.lastSeenNs) b.lastSeenNs = BigInt(d.lastSeenNs);
      for (const [bin, n] of d.hist) if (bin >= 0 && bin < HIST_BINS) b.calibration.hist[bin]! += n;
    }
  }
  b.events += d.events;
  for (const r of d.replicas) {
    if (!b.replicas.includes(r)) b.replicas.push(r);
    if (b.replicas.length > 64) b.replicas.shift();
  }
  let autoLocked = false;
  if (!b.locked && b.firstSeenNs > 0n && Number(b.lastSeenNs - b.firstSeenNs) / 1e6 >= b.learnMs) {
    new AnomalyDetector({ learnMs: b.learnMs }).lock(b);
    autoLocked = true;
  }
  return { ...m, autoLocked };
}

/** Locks now (an admin's decision), calibrating on the merged histogram; false when already locked. */
export function lockMerged(m: MergedBaseline, when: Date): boolean {
  if (m.baseline.locked) return false;
  new AnomalyDetector({ learnMs: m.baseline.learnMs }).lock(m.baseline, when);
  return true;
}

/** Starts a new observation window: a new epoch, so stale window bounds from sensors are not taken. */
export function unlockMerged(m: MergedBaseline): void {
  m.baseline.unlock();
  m.epoch++;
}

/** A host's deviations minus the items the merged baseline knows (accepted, or learned elsewhere). */
export function liveDeviations(b: Baseline, devs: readonly HostDeviation[]): HostDeviation[] {
  return devs.filter((d) => b.count(d.channel, d.keys[0]!) === 0);
}

export interface MergedDeviation {
  item: string;
  channel: Channel;
  keys: string[];
  score: number;
  count: number;
  firstSeen: string;
  lastSeen: string;
  hosts: string[];
  replicas: string[];
}

/** Per-host deviations shown as one list: counts summed, the highest score, hosts and replicas. */
export function mergeDeviations(perHost: ReadonlyArray<{ host: string; deviations: readonly HostDeviation[] }>): MergedDeviation[] {
  const out = new Map<string, MergedDeviation>();
  for (const { host, deviations } of perHost) {
    for (const d of deviations) {
      let m = out.get(d.item);
      if (!m) out.set(d.item, (m = { item: d.item, channel: d.channel, keys: d.keys, score: d.score, count: 0, firstSeen: d.firstSeen, lastSeen: d.lastSeen, hosts: [], replicas: [] }));
      m.count += d.count;
      if (d.score > m.score) m.score = d.score;
      if (d.firstSeen < m.firstSeen) m.firstSeen = d.firstSeen;
      if (d.lastSeen > m.lastSeen) m.lastSeen = d.lastSeen;
      if (!m.hosts.includes(host)) m.hosts.push(host);
      for (const c of d.containers) if (!m.replicas.includes(c)) m.replicas.push(c);
    }
  }
  return [...out.values()].sort((a, b) => b.score - a.score || a.item.localeCompare(b.item));
}

/** Accepts merged deviations (one item, or all) into the baseline with their summed counts; returns the items accepted. */
export function acceptMerged(b: Baseline, merged: readonly MergedDeviation[], item?: string): string[] {
  const chosen = item === undefined ? merged : merged.filter((d) => d.item === item);
  for (const d of chosen) b.learn({ ch: d.channel, keys: d.keys, prior: 0 }, d.count);
  return chosen.map((d) => d.item);
}

/** A baseline's deviations in push form. */
export function hostDeviations(b: Baseline): HostDeviation[] {
  return [...b.deviations.entries()].map(([item, d]) => ({ item, channel: d.channel, keys: d.keys, score: d.score, count: d.count, firstSeen: d.firstSeen, lastSeen: d.lastSeen, containers: d.containers }));
}

/**
 * The sensor's side: takes Central's merged baseline into the local one, in place (the detector
 * keeps its object). `since` is what the sensor learned after it cut the push this answers:
 * kept while the merged baseline learns (it goes in the next push), dropped once it is locked
 * (a locked baseline learns nothing). Local deviations stay, minus the items now known.
 */
export function adoptMerged(local: Baseline, merged: BaselineFile, since: LearnedSince): void {
  const m = Baseline.fromJSON({ ...merged, deviations: {} }, `merged baseline of ${merged.workload.id}`);
  local.state = m.state;
  local.lockedAt = m.lockedAt;
  local.learnMs = m.learnMs;
  local.firstSeenNs = m.firstSeenNs;
  local.lastSeenNs = m.lastSeenNs;
  local.events = m.events;
  local.replicas = m.replicas;
  local.calibration = m.calibration;
  for (const ch of CHANNELS) {
    const from = m.channels.get(ch)!;
    const to = local.channels.get(ch)!;
    to.n = from.n;
    to.c = from.c;
    to.t = from.t;
  }
  if (!local.locked) {
    local.events += since.events;
    for (const [bin, n] of since.hist) if (bin >= 0 && bin < HIST_BINS) local.calibration.hist[bin]! += n;
    for (const it of since.items) local.learn({ ch: it.ch, keys: it.keys, prior: 0 }, it.n);
  }
  for (const [k, d] of [...local.deviations] as Array<[string, Deviation]>) if (local.count(d.channel, d.keys[0]!) > 0) local.deviations.delete(k);
  local.dirty = true;
}
