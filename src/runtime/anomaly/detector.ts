/**
 * The anomaly detector: routes each event to its workload's baseline (replicas share one),
 * learns during the observation window, locks it when the window ends (calibrating the alert
 * threshold on the window's own second half), then scores every event and raises Falco-shaped
 * alerts (`source: gatehouse-anomaly`) that explain themselves.
 *
 * Drops: the sensor's drop reports are passed to `noteDrops`; for 10 s after a loss the
 * features that need an unbroken event stream (lineage, per-process sequences) are not scored,
 * and every alert says how many events were lost in the last minute.
 *
 * Mode `allowlist` is the static-allowlist baseline (StackRox's approach) over the same items:
 * any item not in the baseline alerts. It exists for the benchmark's comparison.
 */
import type { RuntimeEvent } from '../event.js';
import { defaultHostname, eventTimeNs, isoNs, type Alert } from '../alerts/alert.js';
import { Baseline, DEFAULT_LEARN_MS, HIST_BINS, HIST_STEP, type Deviation } from '../baseline/baseline.js';
import { eventClass, extractFeatures, type Feature } from '../baseline/features.js';
import { workloadOf, type WorkloadIdentity } from '../baseline/identity.js';
import type { BaselineStore } from '../baseline/store.js';
import { consensusScore, scoreFeature, type FeatureScore } from './model.js';
import { ANOMALY_SOURCE, ANOMALY_TAGS, describeFeature, ruleFor } from './rules.js';

export interface DetectorOptions {
  /** Where baselines are loaded from and saved to; without it they live in memory only. */
  store?: BaselineStore;
  /** Observation window (event time, ms). Default 1 h. */
  learnMs?: number;
  /** Lock automatically when the window ends (default true). */
  autoLock?: boolean;
  /** Calibration target: false positives per workload per day of benign traffic (default 1). */
  targetPerDay?: number;
  /** Bounds of the calibrated threshold, bits (default 10 and 16). */
  minThreshold?: number;
  maxThreshold?: number;
  mode?: 'model' | 'allowlist';
  /** Replica consensus (default true). */
  consensus?: boolean;
  cluster?: string;
  host?: string;
  /** A workload whose stored baseline is unreadable (reported once per workload). */
  onError?: (message: string) => void;
  /** Every event learned: its features and calibration bin (a Central sync journals them, src/central/client/baseline-sync.ts). */
  onLearn?: (b: Baseline, features: readonly Feature[], calibrationBin: number | undefined) => void;
}

interface Entry {
  wl: WorkloadIdentity;
  b?: Baseline;
}

export interface DetectorStats {
  events: number;
  scored: number;
  alerts: number;
  drops: number;
  workloads: number;
  locked: number;
  skipped: number;
}

const GAP_NS = 10_000_000_000n;
const MINUTE_NS = 60_000_000_000n;
const OUTPUT_FIELDS = ['evt.type', 'proc.name', 'proc.exepath', 'proc.cmdline', 'proc.pname', 'user.name', 'fd.name', 'container.id', 'container.name', 'container.image', 'k8s.ns.name', 'k8s.pod.name'] as const;

export class AnomalyDetector {
  readonly baselines = new Map<string, Baseline>();
  /** Workloads whose stored baseline could not be read: their events are not learned or scored. */
  readonly broken = new Map<string, string>();
  private readonly byContainer = new Map<string, Entry>();
  private readonly ipOwner = new Map<string, string>();
  private readonly prevClass = new Map<number, string>();
  private readonly alerted = new Set<string>();
  private readonly learnMs: number;
  private readonly targetPerDay: number;
  private readonly minT: number;
  private readonly maxT: number;
  private readonly mode: 'model' | 'allowlist';
  private gapUntil = 0n;
  private drops: Array<[bigint, number]> = [];
  readonly stats: DetectorStats = { events: 0, scored: 0, alerts: 0, drops: 0, workloads: 0, locked: 0, skipped: 0 };

  constructor(private readonly opts: DetectorOptions = {}) {
    this.learnMs = opts.learnMs ?? DEFAULT_LEARN_MS;
    this.targetPerDay = opts.targetPerDay ?? 1;
    this.minT = opts.minThreshold ?? 10;
    this.maxT = opts.maxThreshold ?? 16;
    this.mode = opts.mode ?? 'model';
  }

  /** The sensor lost `count` events around time `tNs` (wall clock, ns). */
  noteDrops(count: number, tNs = BigInt(Date.now()) * 1_000_000n): void {
    if (count <= 0) return;
    this.stats.drops += count;
    this.drops.push([tNs, count]);
    if (tNs + GAP_NS > this.gapUntil) this.gapUntil = tNs + GAP_NS;
  }

  private recentDrops(tNs: bigint): number {
    while (this.drops.length && this.drops[0]![0] < tNs - MINUTE_NS) this.drops.shift();
    let n = 0;
    for (const [t, c] of this.drops) if (t <= tNs + GAP_NS) n += c;
    return n;
  }

  private entry(ev: RuntimeEvent, cid: string): Entry {
    let e = this.byContainer.get(cid);
    if (e) return e;
    const wl = workloadOf(ev, { ...(this.opts.cluster ? { cluster: this.opts.cluster } : {}), ...(this.opts.host ? { host: this.opts.host } : {}) });
    e = { wl };
    if (!this.broken.has(wl.id)) {
      let b = this.baselines.get(wl.id);
      if (!b) {
        try {
          b = this.opts.store?.load(wl.id);
        } catch (err) {
          this.broken.set(wl.id, (err as Error).message);
          this.opts.onError?.((err as Error).message);
        }
        if (!this.broken.has(wl.id)) {
          // a window given explicitly applies to baselines still learning
          if (b && !b.locked && this.opts.learnMs !== undefined) b.learnMs = this.opts.learnMs;
          b ??= new Baseline(wl, this.learnMs);
          this.baselines.set(wl.id, b);
          this.stats.workloads++;
          if (b.locked) this.stats.locked++;
        }
      }
      e.b = b;
    }
    if (this.byContainer.size > 50_000) this.byContainer.clear();
    this.byContainer.set(cid, e);
    return e;
  }

  /** Feeds one event; returns the anomaly alerts it raised. */
  push(ev: RuntimeEvent): Alert[] {
    this.stats.events++;
    const cid = ev['container.id'];
    if (typeof cid !== 'string' || cid === '' || cid === 'host') return [];
    const e = this.entry(ev, cid);
    const b = e.b;
    if (!b) {
      this.stats.skipped++;
      return [];
    }
    const tNs = eventTimeNs(ev);
    this.noteAddresses(ev, e.wl.id);
    const pid = typeof ev['proc.pid'] === 'number' ? ev['proc.pid'] : -1;
    const cls = eventClass(ev);
    const gap = tNs <= this.gapUntil;
    const prev = pid >= 0 ? this.prevClass.get(pid) : undefined;
    if (pid >= 0 && cls) {
      if (this.prevClass.size > 100_000) this.prevClass.clear();
      this.prevClass.set(pid, cls);
    }
    const features = extractFeatures(ev, { workloadOfIp: (ip) => this.ipOwner.get(ip), ...(prev !== undefined ? { prevClass: prev } : {}), gap });
    const ended = b.observe(tNs, cid);
    if (!b.locked) {
      const bin = this.mode === 'model' && b.progress() >= 0.5 ? this.calibrationSample(b, features) : undefined;
      for (const f of features) b.learn(f);
      this.opts.onLearn?.(b, features, bin);
      if (ended && this.opts.autoLock !== false) this.lock(b);
      return [];
    }
    if (!features.length) return [];
    this.stats.scored++;
    let best: { f: Feature; s: FeatureScore; score: number; d: Deviation } | undefined;
    const threshold = this.threshold(b);
    for (const f of features) {
      const s = this.mode === 'allowlist' ? allowlistScore(b, f) : scoreFeature(b, f);
      if (s.score <= 0) continue;
      const time = isoNs(tNs);
      const d = b.deviate(f, s.score, time, cid);
      const score = this.opts.consensus === false || this.mode === 'allowlist' ? s.score : consensusScore(s.score, d.containers.length);
      if (score >= threshold && (!best || score > best.score)) best = { f, s, score, d };
    }
    if (!best) return [];
    const key = `${cid}\u0000${best.f.ch}:${best.f.keys[0]!}`;
    if (this.alerted.has(key)) return [];
    if (this.alerted.size > 200_000) this.alerted.clear();
    this.alerted.add(key);
    this.stats.alerts++;
    return [this.alert(ev, tNs, e.wl, b, best.f, best.s, best.score, threshold, best.d, gap)];
  }

  private noteAddresses(ev: RuntimeEvent, wl: string): void {
    const t = ev['evt.type'];
    const ip = t === 'accept' || t === 'accept4' ? ev['fd.sip'] : t === 'connect' ? ev['fd.cip'] : undefined;
    if (typeof ip === 'string' && ip && !ip.startsWith('127.') && ip !== '0.0.0.0' && ip !== '::' && ip !== '::1' && this.ipOwner.get(ip) !== wl) {
      if (this.ipOwner.size > 100_000) this.ipOwner.clear();
      this.ipOwner.set(ip, wl);
    }
  }

  /** Prequential scores (each event against the baseline before it is learned) of the window's second half. */
  private calibrationSample(b: Baseline, features: Feature[]): number | undefined {
    let max = 0;
    for (const f of features) {
      const s = scoreFeature(b, f).score;
      if (s > max) max = s;
    }
    if (max <= 0) return undefined;
    const bin = Math.min(HIST_BINS - 1, Math.floor(max / HIST_STEP));
    b.calibration.hist[bin]!++;
    return bin;
  }

  /**
   * Locks a baseline and calibrates its threshold to the target false-positive rate. The lock
   * time is the baseline's last event (the end of its window, also in a replay) unless given.
   */
  lock(b: Baseline, when = b.lastSeenNs > 0n ? new Date(Number(b.lastSeenNs / 1_000_000n)) : new Date()): void {
    if (!b.locked) this.stats.locked++;
    // the histogram holds the events after half the window: from then to the last event seen
    const elapsed = Number(b.lastSeenNs - b.firstSeenNs) / 1e9;
    b.calibration.seconds = Math.max(1, elapsed - b.learnMs / 2000);
    const allowed = (this.targetPerDay / 24 / 3600) * b.calibration.seconds;
    const hist = b.calibration.hist;
    let above = 0;
    let bin = HIST_BINS;
    // the lowest bin edge with at most `allowed` prequential novelties at or above it
    while (bin > 0 && above + hist[bin - 1]! <= allowed) {
      bin--;
      above += hist[bin]!;
    }
    const t = bin * HIST_STEP;
    b.calibration.threshold = Math.min(this.maxT, Math.max(this.minT, t));
    b.calibration.targetPerHour = this.targetPerDay / 24;
    b.lock(when);
  }

  /** Locks every baseline still learning (end of an observation window decided by the caller). */
  lockAll(when?: Date): void {
    for (const b of this.baselines.values()) if (!b.locked) this.lock(b, when);
  }

  /** Forgets what was seen since locking (alerts raised, deviations, sequences): for evaluation runs that must not see each other. */
  resetObservations(): void {
    this.alerted.clear();
    this.prevClass.clear();
    this.drops = [];
    this.gapUntil = 0n;
    for (const b of this.baselines.values()) b.deviations.clear();
  }

  threshold(b: Baseline): number {
    if (this.mode === 'allowlist') return 0;
    return b.calibration.threshold ?? this.minT;
  }

  /**
   * Writes every changed baseline (corrupt files are left alone); returns how many were written.
   * A file changed by someone else since (`gatehouse baseline lock|unlock|accept` while the
   * sensor runs) wins: it is read back instead of being overwritten.
   */
  flush(): number {
    const store = this.opts.store;
    if (!store) return 0;
    let n = 0;
    for (const [id, b] of this.baselines) {
      if (store.changedOnDisk(id)) {
        let fresh: Baseline | undefined;
        try {
          fresh = store.load(id);
        } catch (err) {
          this.broken.set(id, (err as Error).message);
          this.opts.onError?.((err as Error).message);
        }
        if (fresh) this.baselines.set(id, fresh);
        else this.baselines.delete(id);
        for (const e of this.byContainer.values()) if (e.b === b) e.b = fresh;
        continue;
      }
      if (!b.dirty) continue;
      store.save(b);
      n++;
    }
    return n;
  }

  private alert(ev: RuntimeEvent, tNs: bigint, wl: WorkloadIdentity, b: Baseline, f: Feature, s: FeatureScore, score: number, threshold: number, d: Deviation, gap: boolean): Alert {
    const rule = ruleFor(f);
    const priority = score >= threshold + 8 ? 'Critical' : score >= threshold + 3 ? 'Error' : 'Warning';
    const time = isoNs(tNs);
    const keys = f.keys;
    const compared =
      s.known > 0
        ? `"${keys[s.known]}" is known (${s.contextCount}× with ${s.contextDistinct} distinct variant${s.contextDistinct === 1 ? '' : 's'}) but "${keys[0]}" never was`
        : s.known === -1
          ? `nothing like "${keys[keys.length - 1]}" in ${s.contextCount} ${f.ch} observations (${s.contextDistinct} distinct)`
          : `"${keys[0]}" is not in the allowlist`;
    const drops = this.recentDrops(tNs);
    const replicas = d.containers.length;
    const gapText = drops ? `; the sensor lost ${drops} events in the last minute${gap ? ' (lineage and sequence not scored)' : ''}` : '';
    const text =
      `${rule}: ${describeFeature(f)} is new for workload ${wl.id} (score ${score.toFixed(1)} bits >= threshold ${threshold.toFixed(1)}; ` +
      `compared with the baseline of ${b.events} events locked ${b.lockedAt ?? '-'}: ${compared}; seen in ${replicas} of ${b.replicas.length} replicas${gapText})` +
      ` proc=${String(ev['proc.name'] ?? '')} cmdline=${String(ev['proc.cmdline'] ?? '')} container=${String(ev['container.name'] ?? '')}`;
    const fields: Alert['output_fields'] = {};
    for (const k of OUTPUT_FIELDS) {
      const v = ev[k];
      fields[k] = v === undefined || v === null ? null : Array.isArray(v) ? v.join(',') : typeof v === 'bigint' ? Number(v) : v;
    }
    if (fields['k8s.ns.name'] === null && wl.namespace) fields['k8s.ns.name'] = wl.namespace;
    const pod = ev['container.label[io.kubernetes.pod.name]'];
    if (fields['k8s.pod.name'] === null && typeof pod === 'string') fields['k8s.pod.name'] = pod;
    Object.assign(fields, {
      'workload.id': wl.id,
      'anomaly.item': `${f.ch}:${keys[0]}`,
      'anomaly.channel': f.ch,
      'anomaly.score': Math.round(score * 100) / 100,
      'anomaly.raw_score': Math.round(s.score * 100) / 100,
      'anomaly.threshold': Math.round(threshold * 100) / 100,
      'anomaly.context': s.known >= 0 ? keys[s.known]! : `${f.ch}:<root>`,
      'anomaly.context_count': s.contextCount,
      'anomaly.context_distinct': s.contextDistinct,
      'anomaly.replicas_showing': replicas,
      'anomaly.replicas': b.replicas.length,
      'anomaly.gaps': drops,
      'anomaly.mode': this.mode,
    });
    return {
      time,
      rule,
      priority,
      source: ANOMALY_SOURCE,
      hostname: typeof ev['evt.hostname'] === 'string' ? ev['evt.hostname'] : (this.opts.host ?? defaultHostname()),
      output: `${time.slice(11, 29)}: ${priority} ${text}`,
      output_fields: fields,
      tags: ANOMALY_TAGS[rule] ?? ['anomaly'],
    };
  }
}

/** The static allowlist: anything whose exact item is not in the baseline alerts. */
function allowlistScore(b: Baseline, f: Feature): FeatureScore {
  const c = b.count(f.ch, f.keys[0]!);
  return c > 0 ? { score: 0, known: 0, contextCount: c, contextDistinct: 0 } : { score: 1, known: 0, contextCount: 0, contextDistinct: 0 };
}
