/**
 * The incident correlator: groups alerts, denials, audit events and flows into incidents.
 *
 * Each input becomes a timeline entry with two sets of join keys:
 *   - keys, which identify it and are added to the incident it joins:
 *       wl:<workload identity>      (src/runtime/baseline/identity.ts; replicas share it)
 *       pod:<cluster>/<ns>/<pod>     (joins exec-through-the-API audit events)
 *       proc:<host>/<container>/<pid>
 *       ep:<ip>:<port>               (a public remote endpoint)
 *   - links, which it looks up: its keys, plus its process ancestors (`proc:` of proc.ppid
 *     and proc.apid[2..]: a child of an alerting process joins its parent's incident) and
 *     `via:wl:<its workload>` (a flow from a flagged workload reached it: lateral movement).
 * A signal (alert, denial) joins every open incident one of its links names, if its time is
 * within `windowMs` of the incident; several such incidents merge into the oldest. A signal
 * that joins none opens a new incident. Context (pods/exec audit events, flows) never opens
 * an incident: it joins one that names it, or waits (bounded, for `windowMs`) for one to.
 * A flow out of an incident's workload adds `via:` keys for its destination.
 *
 * Memory is bounded: at most `maxOpen` open incidents (the least recently active close
 * first), incidents close after `idleMs` without activity (by the injected clock), pending
 * context and the seen-id set are capped, and each timeline keeps `maxTimeline` entries.
 * Given the same inputs in the same order and the same clock, the output is the same.
 */
import { createHash } from 'node:crypto';
import { severityRank, SEVERITIES, type Severity } from '../../findings/finding.js';
import type { RuntimeEvent } from '../event.js';
import { workloadOf } from '../baseline/identity.js';
import { defaultAttackMap, type AttackMap } from './attack.js';
import type { AuditEvent, CorrelationInput, FalcoAlert, FlowRecord, Incident, IncidentChanges, Layer, TimelineEntry } from './types.js';

export interface CorrelatorOptions {
  /** How far apart in time two signals of one incident may be (default 15 min). */
  windowMs?: number;
  /** An incident without new signals for this long closes (default 30 min). */
  idleMs?: number;
  maxOpen?: number;
  maxPending?: number;
  maxTimeline?: number;
  /** Injected clock (idle closing). */
  now?: () => Date;
  attack?: AttackMap;
  /** Alert rules that are about Gatehouse itself, not an attack. */
  ignoreRules?: string[];
}

/** Input ids remembered to drop repeats (a redelivered bus message, an audit event's stages). */
const MAX_SEEN = 100_000;

export const DEFAULT_IGNORED_RULES = ['Gatehouse sensor dropped events', 'gatehouse-spool-loss'];

interface Item {
  entry: TimelineEntry;
  ms: number;
  keys: string[];
  links: string[];
  tacticTags: string[];
  /** Context that never opens an incident (audit, flow). */
  context: boolean;
  /** Keys a flow adds to the incident it joins (its destination). */
  via?: string[];
  /** Its place in the pending order (set when it starts waiting). */
  seq?: number;
  /** True while it waits (an item that joined or was dropped stays in the queue until passed). */
  waiting?: boolean;
}

interface Open {
  id: string;
  firstMs: number;
  lastMs: number;
  entries: TimelineEntry[];
  dropped: number;
  refs: Set<string>;
  keys: Set<string>;
  tacticTags: Set<string>;
  techniques: Set<string>;
  hosts: Set<string>;
  workloads: Set<string>;
  layers: Set<Layer>;
  severity: Severity;
  signals: number;
  lateral: boolean;
}

const PRIORITY_SEVERITY: Record<string, Severity> = {
  emergency: 'CRITICAL', alert: 'CRITICAL', critical: 'CRITICAL', error: 'HIGH', warning: 'MEDIUM',
  notice: 'LOW', informational: 'LOW', info: 'LOW', debug: 'UNKNOWN',
};

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v !== '<NA>' ? v : typeof v === 'number' ? String(v) : undefined;
}

function timeMs(text: string | undefined): number {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) ? ms : NaN;
}

/** True for loopback, private, link-local and CGNAT addresses: shared by too many to join on. */
export function isInternalIp(ip: string): boolean {
  if (ip.includes(':')) return ip === '::1' || /^f[cd]/i.test(ip) || /^fe80/i.test(ip) || ip === '::';
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n))) return true;
  const [a, b] = p as [number, number, number, number];
  return a === 10 || a === 127 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
}

/** The index a stable sort by (time, ref) gives `entry` appended to the sorted `entries`. */
function insertionPoint(entries: readonly TimelineEntry[], entry: TimelineEntry): number {
  const ms = Date.parse(entry.time);
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const e = entries[mid]!;
    const d = Date.parse(e.time) - ms;
    if (d < 0 || (d === 0 && !(entry.ref < e.ref))) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function raise(s: Severity): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, Math.max(severityRank(s), severityRank('LOW')) + 1)]!;
}

function hashId(text: string): string {
  return `inc-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

export class IncidentCorrelator {
  private readonly windowMs: number;
  private readonly idleMs: number;
  private readonly maxOpen: number;
  private readonly maxPending: number;
  private readonly maxTimeline: number;
  private readonly now: () => Date;
  private readonly attack: AttackMap;
  private readonly ignore: Set<string>;
  private readonly open = new Map<string, Open>();
  /** key → ids of open incidents holding it. */
  private readonly index = new Map<string, Set<string>>();
  /**
   * Context waiting for an incident, in pending order from pendingHead; items that left are
   * skipped (not a Map: dropping its oldest key, then iterating from its start, made V8 walk every
   * deleted slot since the last rehash — see seenBefore).
   */
  private pendingQueue: Item[] = [];
  private pendingHead = 0;
  private pendingSize = 0;
  /** link → the pending items that look it up: a drain visits only the items an incident's keys can take. */
  private readonly pendingByLink = new Map<string, Set<Item>>();
  private pendingSeq = 0;
  /** At most the earliest time among the pending items (a bound: items leave without raising it). */
  private pendingMinMs = Infinity;
  /** At most the earliest lastMs among open incidents (a bound, as pendingMinMs): no idle scan while nothing can be idle. */
  private openMinLastMs = Infinity;
  /** Input keys seen, and their order: the oldest is forgotten past MAX_SEEN. */
  private readonly seen = new Set<string>();
  private seenOrder: string[] = [];
  private seenHead = 0;
  private readonly texts = new Texts();

  constructor(options: CorrelatorOptions = {}) {
    this.windowMs = options.windowMs ?? 15 * 60_000;
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.maxOpen = options.maxOpen ?? 1000;
    this.maxPending = options.maxPending ?? 10_000;
    this.maxTimeline = options.maxTimeline ?? 500;
    this.now = options.now ?? (() => new Date());
    this.attack = options.attack ?? defaultAttackMap();
    this.ignore = new Set(options.ignoreRules ?? DEFAULT_IGNORED_RULES);
  }

  /** Open incidents now (for tests and memory accounting). */
  get openCount(): number {
    return this.open.size;
  }

  get pendingCount(): number {
    return this.pendingSize;
  }

  /** Feeds one input; returns the incidents it changed (and closed) and the ids merged away. */
  ingest(input: CorrelationInput): IncidentChanges {
    const b = this.batch();
    b.ingest(input);
    return b.changes();
  }

  /**
   * Feeds inputs one by one, as ingest does, but takes each changed incident's snapshot once,
   * in its last state, at changes(): what ingest's results of every input would leave, an
   * incident in the order of its last change, one merged away dropped. (A snapshot copies the
   * timeline — up to maxTimeline entries — and a bus fetch brings ~2,000 inputs.)
   */
  batch(): { ingest(input: CorrelationInput): void; changes(): IncidentChanges } {
    // id → its closed snapshot, or null while open (taken at changes()).
    const last = new Map<string, Incident | null>();
    const removedAll: string[] = [];
    return {
      ingest: (input) => {
        const changed = new Set<string>();
        const removed: string[] = [];
        const item = this.toItem(input);
        if (item && !this.seenBefore(input, item)) this.place(item, changed, removed);
        const closed = this.sweepInternal(changed);
        for (const id of removed) last.delete(id);
        for (const id of changed) {
          if (!this.open.has(id)) continue;
          last.delete(id);
          last.set(id, null);
        }
        for (const c of closed) {
          last.delete(c.id);
          last.set(c.id, c);
        }
        removedAll.push(...removed);
      },
      changes: () => ({ updated: [...last].map(([id, s]) => s ?? this.snapshot(this.open.get(id)!)), removed: removedAll }),
    };
  }

  /** Closes idle incidents (by the clock); call it on a timer when inputs are sparse. */
  sweep(): IncidentChanges {
    return { updated: this.sweepInternal(new Set()), removed: [] };
  }

  /** Every open incident, as stored. */
  incidents(): Incident[] {
    return [...this.open.values()].map((o) => this.snapshot(o));
  }

  private seenBefore(input: CorrelationInput, item: Item): boolean {
    // Audit events come once per stage; one entry per audit ID — per cluster, since two
    // apiservers' IDs are independent.
    const key = input.kind === 'audit' ? `audit:${input.cluster ?? 'default'}\u001f${input.event.auditID}` : `${input.kind}:${item.entry.ref}`;
    if (this.seen.has(key)) return true;
    this.seen.add(key);
    this.seenOrder.push(key);
    // The oldest goes by its place in an array: deleting a Map's first key, then asking for the
    // next first, made V8 walk over every deleted slot since the last rehash (~15,000 a call at
    // 100,000 keys: the dearest line of correlation in a bench:scale profile).
    if (this.seen.size > MAX_SEEN) {
      this.seen.delete(this.seenOrder[this.seenHead++]!);
      if (this.seenHead >= MAX_SEEN) {
        this.seenOrder = this.seenOrder.slice(this.seenHead);
        this.seenHead = 0;
      }
    }
    return false;
  }

  // ------------------------------------------------------------------ inputs → items

  private toItem(input: CorrelationInput): Item | undefined {
    switch (input.kind) {
      case 'alert':
        return this.alertItem(input.id, input.alert, input.cluster, input.host);
      case 'denial': {
        const d = input.denial;
        const ms = timeMs(d.time);
        if (!Number.isFinite(ms)) return undefined;
        const techniques = this.attack.denials.get(d.layer) ?? [];
        const keys: string[] = [];
        if (d.namespace && d.name && d.layer === 'admission') keys.push(`obj:${input.cluster ?? 'default'}/${d.namespace}/${d.kind ?? ''}/${d.name}`);
        if (d.layer === 'engine-proxy' && d.host) keys.push(`host-denial:${d.host}`);
        if (d.user) keys.push(`user:${d.user}`);
        return {
          ms, keys, links: keys, context: false, tacticTags: this.tacticsOf(techniques, []),
          entry: {
            time: new Date(ms).toISOString(), layer: 'admission', kind: 'denial', ref: input.id, title: `${d.layer} denied: ${d.rule}${d.message ? ` (${d.message})` : ''}`,
            severity: d.severity, ...(d.host ? { host: d.host } : {}), reason: '', techniques,
          },
        };
      }
      case 'audit':
        return this.auditItem(input.event, input.cluster ?? 'default');
      case 'flow':
        return this.flowItem(input.id, input.flow);
    }
  }

  private alertItem(id: string, a: FalcoAlert, cluster: string | undefined, sourceHost: string | undefined): Item | undefined {
    if (this.ignore.has(a.rule)) return undefined;
    const ms = timeMs(a.time);
    if (!Number.isFinite(ms)) return undefined;
    const f = a.output_fields ?? {};
    const host = sourceHost ?? str(a.hostname) ?? 'unknown-host';
    const wl = workloadOf(f as RuntimeEvent, { host, ...(cluster ? { cluster } : {}) });
    const keys = [`wl:${wl.id}`];
    const pod = str(f['k8s.pod.name']) ?? str(f['container.label[io.kubernetes.pod.name]']);
    const ns = str(f['k8s.ns.name']) ?? str(f['container.label[io.kubernetes.pod.namespace]']);
    if (pod && ns) keys.push(`pod:${cluster ?? 'default'}/${ns}/${pod}`);
    const cid = str(f['container.id']) ?? 'host';
    const pid = str(f['proc.pid']);
    if (pid) keys.push(`proc:${host}/${cid}/${pid}`);
    const rip = str(f['fd.rip']) ?? str(f['fd.sip']);
    const rport = str(f['fd.rport']) ?? str(f['fd.sport']);
    if (rip && !isInternalIp(rip)) keys.push(`ep:${rip}:${rport ?? '*'}`);
    // Lineage and lateral links first: the first link an incident holds names the reason it joined.
    const links: string[] = [];
    const ancestors = [str(f['proc.ppid']), ...[2, 3, 4, 5].map((i) => str(f[`proc.apid[${i}]`]))];
    for (const p of ancestors) if (p && p !== '0' && p !== '1') links.push(`proc:${host}/${cid}/${p}`);
    links.push(`via:wl:${wl.id}`, ...keys);
    const tags = a.tags ?? [];
    const techniques = [...new Set([...tags.filter((t) => /^T\d{4}(\.\d{3})?$/.test(t)), ...(this.attack.rules.get(a.rule) ?? [])])];
    return {
      ms, keys, links, context: false, tacticTags: this.tacticsOf(techniques, tags),
      entry: {
        time: a.time, layer: 'runtime', kind: 'alert', ref: id, title: a.rule, severity: PRIORITY_SEVERITY[a.priority.toLowerCase()] ?? 'UNKNOWN',
        host, workload: wl.id, reason: '', techniques,
      },
    };
  }

  private auditItem(ev: AuditEvent, cluster: string): Item | undefined {
    const ref = ev.objectRef;
    if (!ref?.resource || !ref.subresource || !ref.namespace || !ref.name) return undefined;
    const techniques = this.attack.audit.get(`${ref.resource}/${ref.subresource}`);
    if (!techniques) return undefined;
    const ms = timeMs(ev.requestReceivedTimestamp ?? ev.stageTimestamp);
    if (!Number.isFinite(ms)) return undefined;
    const container = /[?&]container=([^&]+)/.exec(ev.requestURI)?.[1];
    const command = [...ev.requestURI.matchAll(/[?&]command=([^&]+)/g)].map((m) => decodeURIComponent(m[1]!)).join(' ');
    const user = ev.user?.username ?? 'unknown user';
    const keys = [`pod:${cluster}/${ref.namespace}/${ref.name}`];
    return {
      ms, keys, links: keys, context: true, tacticTags: this.tacticsOf(techniques, []),
      entry: {
        time: new Date(ms).toISOString(), layer: 'api', kind: 'audit', ref: ev.auditID,
        title: `${user} ${ref.subresource} into pod ${ref.namespace}/${ref.name}${container ? ` (container ${decodeURIComponent(container)})` : ''}${command ? `: ${command}` : ''}`,
        severity: 'LOW', reason: '', techniques,
      },
    };
  }

  private flowItem(id: string, flow: FlowRecord): Item | undefined {
    const ms = timeMs(flow.time);
    if (!Number.isFinite(ms)) return undefined;
    const src = [flow.src.workload && `wl:${flow.src.workload}`, flow.src.ip && `ip:${flow.src.ip}`].filter((k): k is string => !!k);
    const dst = [flow.dst.workload && `via:wl:${flow.dst.workload}`, flow.dst.ip && !isInternalIp(flow.dst.ip) && `ep:${flow.dst.ip}:${flow.dst.port ?? '*'}`].filter((k): k is string => !!k);
    if (!src.length) return undefined;
    const end = (e: FlowRecord['src']) => `${e.workload ?? e.ip ?? '?'}${e.port ? `:${e.port}` : ''}`;
    return {
      ms, keys: src, links: src, context: true, tacticTags: [], via: dst,
      entry: {
        time: new Date(ms).toISOString(), layer: 'network', kind: 'flow', ref: id, title: `${flow.protocol ?? 'tcp'} ${end(flow.src)} → ${end(flow.dst)}`,
        severity: 'UNKNOWN', ...(flow.src.host ? { host: flow.src.host } : {}), ...(flow.src.workload ? { workload: flow.src.workload } : {}), reason: '', techniques: [],
      },
    };
  }

  private tacticsOf(techniques: string[], tags: string[]): string[] {
    const out = new Set(tags.filter((t) => this.attack.tacticByTag.has(t)));
    for (const t of techniques) for (const tac of this.attack.techniques.get(t)?.tactics ?? this.attack.techniques.get(t.split('.')[0]!)?.tactics ?? []) out.add(tac);
    return [...out];
  }

  // ------------------------------------------------------------------ grouping

  private matches(item: Item): Open[] {
    const ids = new Set<string>();
    for (const l of item.links) for (const id of this.index.get(l) ?? []) ids.add(id);
    return [...ids].map((id) => this.open.get(id)!).filter((o) => item.ms >= o.firstMs - this.windowMs && item.ms <= o.lastMs + this.windowMs)
      .sort((a, b) => a.firstMs - b.firstMs || (a.id < b.id ? -1 : 1));
  }

  private place(item: Item, changed: Set<string>, removed: string[]): void {
    const found = this.matches(item);
    if (!found.length) {
      if (item.context) {
        this.addPending(item);
        this.prunePending(item.ms);
        return;
      }
      const inc = this.create(item);
      changed.add(inc.id);
      this.drainPending(inc, changed);
      return;
    }
    const target = found[0]!;
    for (const other of found.slice(1)) {
      this.merge(target, other);
      removed.push(other.id);
      changed.delete(other.id);
    }
    this.add(target, item, this.reason(target, item));
    changed.add(target.id);
    this.drainPending(target, changed);
  }

  private reason(inc: Open, item: Item): string {
    const hit = item.links.find((l) => inc.keys.has(l)) ?? '';
    if (hit.startsWith('via:')) return `lateral movement: a flow from the incident reached ${hit.slice(7)}`;
    if (hit.startsWith('proc:') && !item.keys.includes(hit)) return `process lineage: child of alerting process ${hit.slice(5)}`;
    if (hit.startsWith('proc:')) return `same process ${hit.slice(5)}`;
    if (hit.startsWith('pod:')) return item.entry.kind === 'audit' ? `exec through the API into pod ${hit.slice(4)}` : `same pod ${hit.slice(4)}`;
    if (hit.startsWith('wl:') || hit.startsWith('ip:')) return item.entry.kind === 'flow' ? `flow from flagged workload ${hit.slice(3)}` : `same workload ${hit.slice(3)}`;
    if (hit.startsWith('ep:')) return `shared remote endpoint ${hit.slice(3)}`;
    return `related by ${hit}`;
  }

  private create(item: Item): Open {
    const inc: Open = {
      id: hashId(`${item.entry.kind}:${item.entry.ref}`), firstMs: item.ms, lastMs: item.ms, entries: [], dropped: 0, refs: new Set(), keys: new Set(),
      tacticTags: new Set(), techniques: new Set(), hosts: new Set(), workloads: new Set(), layers: new Set(), severity: 'UNKNOWN', signals: 0, lateral: false,
    };
    this.open.set(inc.id, inc);
    this.openMinLastMs = Math.min(this.openMinLastMs, inc.lastMs);
    this.add(inc, item, 'opened');
    return inc;
  }

  private add(inc: Open, item: Item, reason: string): void {
    if (reason.startsWith('lateral movement')) {
      inc.lateral = true;
      for (const t of this.attack.lateral) inc.techniques.add(t);
      for (const t of this.tacticsOf(this.attack.lateral, [])) inc.tacticTags.add(t);
    }
    // Never changed once made: snapshots share it (Incident.timeline is read-only). Not frozen:
    // V8 gives a frozen object of this shape a larger layout (measured: +60 MiB for 190,000 entries).
    // Its repeated texts are kept once (assigned over the spread's keys: the key order, and so the stored JSON, stays).
    const t = this.texts;
    const entry: TimelineEntry = { ...item.entry, reason: t.text(reason) };
    entry.time = t.text(entry.time);
    if (entry.kind === 'alert') entry.title = t.text(entry.title);
    if (entry.host !== undefined) entry.host = t.text(entry.host);
    if (entry.workload !== undefined) entry.workload = t.text(entry.workload);
    entry.techniques = t.list(entry.techniques);
    // Where a stable sort of the timeline would put it: after the entries it does not precede.
    inc.entries.splice(insertionPoint(inc.entries, entry), 0, entry);
    if (inc.entries.length > this.maxTimeline) {
      inc.dropped += inc.entries.length - this.maxTimeline;
      inc.entries.splice(this.maxTimeline);
    }
    inc.firstMs = Math.min(inc.firstMs, item.ms);
    inc.lastMs = Math.max(inc.lastMs, item.ms);
    for (const k of [...item.keys, ...(item.via ?? [])]) this.indexKey(inc, k);
    for (const t of item.tacticTags) inc.tacticTags.add(t);
    for (const t of item.entry.techniques) inc.techniques.add(t);
    if (item.entry.host) inc.hosts.add(item.entry.host);
    if (item.entry.workload && item.entry.kind !== 'flow') inc.workloads.add(item.entry.workload);
    inc.layers.add(item.entry.layer);
    if (!item.context) inc.signals++;
    if (severityRank(item.entry.severity) > severityRank(inc.severity)) inc.severity = item.entry.severity;
  }

  private indexKey(inc: Open, key: string): void {
    inc.keys.add(key);
    let s = this.index.get(key);
    if (!s) this.index.set(key, (s = new Set()));
    s.add(inc.id);
  }

  private unindex(inc: Open): void {
    for (const k of inc.keys) {
      const s = this.index.get(k);
      s?.delete(inc.id);
      if (s && !s.size) this.index.delete(k);
    }
  }

  private merge(into: Open, from: Open): void {
    this.unindex(from);
    this.open.delete(from.id);
    for (const e of from.entries) into.entries.push(e);
    into.entries.sort((a, b) => Date.parse(a.time) - Date.parse(b.time) || (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
    if (into.entries.length > this.maxTimeline) {
      into.dropped += into.entries.length - this.maxTimeline;
      into.entries.splice(this.maxTimeline);
    }
    into.dropped += from.dropped;
    into.firstMs = Math.min(into.firstMs, from.firstMs);
    into.lastMs = Math.max(into.lastMs, from.lastMs);
    for (const k of from.keys) this.indexKey(into, k);
    for (const s of ['tacticTags', 'techniques', 'hosts', 'workloads', 'layers'] as const) for (const v of from[s] as Set<string>) (into[s] as Set<string>).add(v);
    into.signals += from.signals;
    into.lateral ||= from.lateral;
    if (severityRank(from.severity) > severityRank(into.severity)) into.severity = from.severity;
  }

  /**
   * Context waiting for an incident: what now matches `inc` joins it (repeatedly: a flow adds keys).
   * The result of a pass over every pending item in pending order, each tested against the
   * incident as it is at that moment (its keys and window grow as items join), passes repeated
   * while one adds something — but only the items with a link among the incident's keys are
   * visited, in that order: the others cannot join. (Every alert of a busy node drains; with
   * 10,000 flows waiting, a pass over all of them was most of correlation's CPU.)
   */
  private drainPending(inc: Open, changed: Set<string>): void {
    for (let again = true; again && this.pendingSize;) {
      again = false;
      const queue = new SeqHeap();
      // Items whose link is among the keys, after `from` in pending order, not yet queued this pass.
      const enqueue = (keys: Iterable<string>, from: number) => {
        for (const k of keys) for (const p of this.pendingByLink.get(k) ?? []) if (p.seq! > from) queue.push(p);
      };
      if (inc.keys.size <= this.pendingByLink.size) enqueue(inc.keys, -1);
      else enqueue([...this.pendingByLink.keys()].filter((k) => inc.keys.has(k)), -1);
      for (let p = queue.pop(); p; p = queue.pop()) {
        const inWindow = p.ms >= inc.firstMs - this.windowMs && p.ms <= inc.lastMs + this.windowMs;
        if (!inWindow) continue;
        // Keys it brings that the incident lacks: items later in the order that look them up are tested in this pass.
        const fresh = [...p.keys, ...(p.via ?? [])].filter((k) => !inc.keys.has(k));
        this.add(inc, p, this.reason(inc, p));
        this.removePending(p);
        changed.add(inc.id);
        again = true;
        enqueue(fresh, p.seq!);
      }
    }
  }

  private addPending(item: Item): void {
    item.seq = this.pendingSeq++;
    item.waiting = true;
    this.pendingQueue.push(item);
    this.pendingSize++;
    for (const l of item.links) {
      let s = this.pendingByLink.get(l);
      if (!s) this.pendingByLink.set(l, (s = new Set()));
      s.add(item);
    }
    this.pendingMinMs = Math.min(this.pendingMinMs, item.ms);
  }

  private removePending(item: Item): void {
    item.waiting = false;
    this.pendingSize--;
    for (const l of item.links) {
      const s = this.pendingByLink.get(l);
      s?.delete(item);
      if (s && !s.size) this.pendingByLink.delete(l);
    }
  }

  private prunePending(latestMs: number): void {
    const from = latestMs - this.windowMs;
    // No pass over the (up to maxPending) items when none can be out of the window — the usual
    // case: flows of the last minutes against a 15-minute window, one pass per flow before.
    if (this.pendingMinMs < from) {
      let min = Infinity;
      const keep: Item[] = [];
      for (let i = this.pendingHead; i < this.pendingQueue.length; i++) {
        const p = this.pendingQueue[i]!;
        if (!p.waiting) continue;
        if (p.ms < from) this.removePending(p);
        else {
          keep.push(p);
          min = Math.min(min, p.ms);
        }
      }
      this.pendingQueue = keep;
      this.pendingHead = 0;
      this.pendingMinMs = min;
    }
    // Over the cap: the earliest to start waiting go.
    while (this.pendingSize > this.maxPending) {
      const p = this.pendingQueue[this.pendingHead++]!;
      if (p.waiting) this.removePending(p);
    }
    this.compactPending();
  }

  /** Drops passed and departed items from the queue once they are most of it (amortised O(1) per item). */
  private compactPending(): void {
    if (this.pendingQueue.length - this.pendingHead <= 2 * this.pendingSize + 1024) return;
    this.pendingQueue = this.pendingQueue.slice(this.pendingHead).filter((p) => p.waiting);
    this.pendingHead = 0;
  }

  private sweepInternal(changed: Set<string>): Incident[] {
    const closed: Incident[] = [];
    const nowMs = this.now().getTime();
    const close = (o: Open) => {
      this.unindex(o);
      this.open.delete(o.id);
      changed.delete(o.id);
      closed.push({ ...this.snapshot(o), state: 'closed', closedAt: new Date(nowMs).toISOString() });
    };
    // (Deleting from a Map while iterating it is safe.) A scan only when one can be idle.
    if (this.openMinLastMs + this.idleMs < nowMs) {
      let min = Infinity;
      for (const o of this.open.values()) {
        if (o.lastMs + this.idleMs < nowMs) close(o);
        else min = Math.min(min, o.lastMs);
      }
      this.openMinLastMs = min;
    }
    // Over the bound (by one, as a rule: one new incident): the least recently active go, one scan each.
    while (this.open.size > this.maxOpen) {
      let oldest: Open | undefined;
      for (const o of this.open.values()) if (!oldest || o.lastMs < oldest.lastMs || (o.lastMs === oldest.lastMs && o.id < oldest.id)) oldest = o;
      close(oldest!);
    }
    return closed;
  }

  private snapshot(o: Open): Incident {
    const tactics = [...o.tacticTags].map((t) => this.attack.tacticByTag.get(t)!).sort((a, b) => a.order - b.order);
    const stage = tactics.length ? tactics[tactics.length - 1]!.name : 'Unknown';
    const techniques = [...o.techniques].sort().map((id) => ({ id, name: this.attack.techniques.get(id)?.name ?? this.attack.techniques.get(id.split('.')[0]!)?.name ?? id }));
    const multiStage = o.lateral || (tactics.length >= 2 && o.layers.size >= 2) || tactics.length >= 3;
    const severity = multiStage ? raise(o.severity) : o.severity;
    const first = o.entries.find((e) => e.kind === 'alert' || e.kind === 'denial') ?? o.entries[0]!;
    const others = o.signals - 1;
    return {
      id: o.id, state: 'open', severity, stage,
      title: `${first.title}${first.workload ? ` in ${first.workload}` : ''}${others > 0 ? ` (+${others} related)` : ''}`,
      tactics: tactics.map((t) => ({ id: t.id, name: t.name })), techniques,
      hosts: [...o.hosts].sort(), workloads: [...o.workloads].sort(), layers: [...o.layers].sort(),
      firstSeen: new Date(o.firstMs).toISOString(), lastSeen: new Date(o.lastMs).toISOString(),
      // The entries are shared, not copied: a bus fetch snapshots ~900 incidents of up to maxTimeline
      // entries, and copying each entry was most of what correlation allocated.
      timeline: o.entries.slice(), timelineDropped: o.dropped, signals: o.signals,
    };
  }
}

/** A min-heap of pending items by seq, each item once (a drain's visiting order). */
class SeqHeap {
  private readonly items: Item[] = [];
  private readonly queued = new Set<Item>();

  push(item: Item): void {
    if (this.queued.has(item)) return;
    this.queued.add(item);
    const a = this.items;
    let i = a.push(item) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (a[up]!.seq! <= item.seq!) break;
      a[i] = a[up]!;
      i = up;
    }
    a[i] = item;
  }

  pop(): Item | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (!a.length || !last) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= a.length) break;
      if (c + 1 < a.length && a[c + 1]!.seq! < a[c]!.seq!) c++;
      if (a[c]!.seq! >= last.seq!) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }
}

/**
 * Texts that timeline entries repeat — a node's host and workload, a rule's title, a reason, a
 * tick's time, a technique list — one copy each: up to maxOpen × maxTimeline entries stay in
 * memory, each of its own inputs' strings otherwise (JSON.parse gives every event its own).
 * Bounded: emptied when full (later entries then share new copies).
 */
class Texts {
  private readonly texts = new Map<string, string>();
  private readonly lists = new Map<string, string[]>();

  text(s: string): string {
    const known = this.texts.get(s);
    if (known !== undefined) return known;
    if (this.texts.size >= 20_000) this.texts.clear();
    this.texts.set(s, s);
    return s;
  }

  list(items: string[]): string[] {
    const key = items.join('\u0000');
    const known = this.lists.get(key);
    if (known) return known;
    if (this.lists.size >= 2_000) this.lists.clear();
    this.lists.set(key, items);
    return items;
  }
}
