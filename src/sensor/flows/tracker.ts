/**
 * The sensor's network flows: connection events (connect, accept, UDP first packet) and
 * conntrack sightings go into the aggregator; every interval the finished flows go out
 * through `onFlows`. Conntrack entries are attributed by address: a container's address (the
 * container IP map: every container the engine runs on this host) or one of the host's own.
 */
import { networkInterfaces } from 'node:os';
import type { RuntimeEvent } from '../../runtime/event.js';
import type { FlowLocalEnd } from '../../network/flow.js';
import type { ContainerInfo } from '../containers.js';
import { FlowAggregator, type FlowAggregatorStats, type FlowObservation, type FlushedFlow } from './aggregator.js';
import { ConntrackTimeouts, ConntrackWatcher, type ConntrackEntry, type ConntrackOptions, type ConntrackSighting, type ConntrackStats } from './conntrack.js';
import { DnsNameCache } from './dns.js';
import { dnsAnswerOf, observationOf } from './observe.js';

export interface ContainerLookup {
  byShort(id: string): ContainerInfo | undefined;
  byAddress(ip: string): ContainerInfo | undefined;
}

export interface FlowTrackerOptions {
  /** Aggregation interval (default 30 s). */
  intervalMs?: number;
  /** Open flows held at most (default 10,000). */
  maxFlows?: number;
  /** The host name, part of every flow id. */
  host?: string;
  /** Conntrack: off (false), or where to read it (default /proc/net/nf_conntrack when readable). */
  conntrack?: false | ConntrackOptions;
  /** How often conntrack is read (default min(interval, 5 s)). */
  conntrackPollMs?: number;
  onFlows: (flows: FlushedFlow[]) => void;
}

export interface FlowTrackerStats extends FlowAggregatorStats {
  /** DNS answers read (A/AAAA records remembered per container) and names held now. */
  dnsAnswers: number;
  dnsNames: number;
  conntrack?: ConntrackStats;
  /** Conntrack entries with neither end on this host (forwarded traffic, or a container's address before it had it). */
  conntrackForeign: number;
}

/** The host's own addresses (every interface), for conntrack entries of host processes. */
export function hostAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ''));
  return out;
}

function containerEnd(c: ContainerInfo): NonNullable<FlowLocalEnd['container']> {
  return { id: c.id, ...(c.name ? { name: c.name } : {}), ...(c.image ? { image: c.image } : {}) };
}

function podOf(c: ContainerInfo): FlowLocalEnd['pod'] {
  const ns = c.labels['io.kubernetes.pod.namespace'];
  const name = c.labels['io.kubernetes.pod.name'];
  const uid = c.labels['io.kubernetes.pod.uid'];
  return ns && name ? { namespace: ns, name, ...(uid ? { uid } : {}) } : undefined;
}

export class FlowTracker {
  readonly aggregator: FlowAggregator;
  readonly conntrack: ConntrackWatcher | undefined;
  private readonly intervalMs: number;
  private readonly pollMs: number;
  private timer: NodeJS.Timeout | undefined;
  private lastPoll = 0;
  private foreign = 0;
  private hostIps: Set<string>;
  private readonly timeouts: ConntrackTimeouts;
  /** Names containers resolved, for the remote ends of their egress flows. */
  readonly dns = new DnsNameCache();

  constructor(
    private readonly opts: FlowTrackerOptions,
    private readonly containers: ContainerLookup,
  ) {
    this.intervalMs = opts.intervalMs ?? 30_000;
    this.aggregator = new FlowAggregator({ intervalMs: this.intervalMs, ...(opts.maxFlows ? { maxFlows: opts.maxFlows } : {}), ...(opts.host ? { host: opts.host } : {}) });
    this.conntrack = opts.conntrack === false ? undefined : new ConntrackWatcher(opts.conntrack ?? {});
    this.pollMs = opts.conntrackPollMs ?? Math.min(this.intervalMs, 5000);
    this.hostIps = hostAddresses();
    this.timeouts = new ConntrackTimeouts(opts.conntrack ? opts.conntrack.sysctlDir : undefined);
  }

  /** A sensor event: a connection becomes an observation (and a tuple conntrack will not report). */
  push(ev: RuntimeEvent): void {
    const o = observationOf(ev, (id) => this.containers.byShort(id)?.ips?.[0]);
    if (!o) {
      const d = dnsAnswerOf(ev);
      if (d) this.dns.add(d.container, d.answer, d.timeMs);
      return;
    }
    this.addObservation(o);
    if (this.conntrack) {
      const lport = Number(ev['fd.lport'] ?? 0);
      const lip = String(ev['fd.lip'] ?? '');
      if (o.direction === 'egress') this.conntrack.probeSaw(o.protocol, lip, lport, o.remote.ip, o.remote.port);
      else this.conntrack.probeSaw(o.protocol, o.remote.ip, o.remote.port, lip, lport);
    }
  }

  /** Reads conntrack and adds what no probe saw. */
  pollConntrack(nowMs = Date.now()): void {
    if (!this.conntrack) return;
    this.lastPoll = nowMs;
    for (const s of this.conntrack.scan()) for (const o of this.sightingObservations(s, nowMs)) this.addObservation(o);
  }

  /** An egress flow to an address its container resolved carries the name. */
  private addObservation(o: FlowObservation): void {
    // no names known (no DNS answer seen yet): no key to build per connection
    if (o.direction === 'egress' && !o.remote.dns && this.dns.size > 0) {
      const name = this.dns.lookup(o.local.container?.id ?? 'host', o.remote.ip, o.timeMs);
      if (name) o.remote.dns = name;
    }
    this.aggregator.add(o);
  }

  /** The local ends of a conntrack entry: the client's (egress) and the server's (ingress), each when on this host. */
  sightingObservations(s: ConntrackSighting, nowMs: number): FlowObservation[] {
    const e: ConntrackEntry = s.entry;
    const out: FlowObservation[] = [];
    const base = { timeMs: nowMs, protocol: e.protocol, observedBy: 'conntrack' as const, connections: s.connections, ...(s.bytes !== undefined ? { bytes: s.bytes } : {}) };
    // An address is a container's only since it started: an entry whose last packet is older
    // (a connection of the address's previous holder, e.g. in TIME_WAIT) is not its
    const last = this.timeouts.lastPacketMs(e, nowMs);
    const client = this.localEnd(e.orig.src, e.orig.sport, last);
    // behind a DNAT the server is the reply's source
    const server = this.localEnd(e.reply.src, e.reply.sport, last);
    if (client) out.push({ ...base, direction: 'egress', local: client, remote: { ip: e.orig.dst, port: e.orig.dport } });
    if (server) out.push({ ...base, direction: 'ingress', local: server, remote: { ip: e.orig.src, port: e.orig.sport } });
    if (!client && !server) this.foreign++;
    return out;
  }

  private localEnd(ip: string, port: number, lastPacketMs: number | undefined): FlowLocalEnd | undefined {
    const c = this.containers.byAddress(ip);
    if (c) {
      if (c.startTs !== undefined && lastPacketMs !== undefined && lastPacketMs + 1000 < c.startTs / 1e6) return undefined;
      const pod = podOf(c);
      return { ip, port, container: containerEnd(c), ...(pod ? { pod } : {}) };
    }
    return this.hostIps.has(ip) ? { ip, port } : undefined;
  }

  /** Emits the finished intervals (all of them with `all`). */
  flush(nowMs = Date.now(), all = false): void {
    const flows = this.aggregator.flush(nowMs, all);
    if (flows.length) this.opts.onFlows(flows);
  }

  /** Polls conntrack and flushes on a timer until stop(). */
  start(): void {
    if (this.timer) return;
    this.pollConntrack();
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastPoll >= this.pollMs) this.pollConntrack(now);
      this.flush(now);
    }, Math.min(1000, this.intervalMs));
    this.timer.unref();
  }

  /** Stops the timer, reads conntrack once more and emits every open flow. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.pollConntrack();
    this.flush(Date.now(), true);
  }

  stats(): FlowTrackerStats {
    return {
      ...this.aggregator.stats(),
      ...(this.conntrack ? { conntrack: this.conntrack.stats() } : {}),
      conntrackForeign: this.foreign,
      dnsAnswers: this.dns.answers,
      dnsNames: this.dns.size,
    };
  }
}
