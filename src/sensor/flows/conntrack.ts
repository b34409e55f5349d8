/**
 * Conntrack complements the eBPF view: connections in the kernel's connection tracking table
 * (/proc/net/nf_conntrack) that no probe reported — connections opened before the sensor
 * started, or by anything the probes do not see — become flows observed by 'conntrack',
 * with their bytes when accounting is on (sysctl net.netfilter.nf_conntrack_acct=1).
 *
 * Matching: every connection the probes report leaves its 4-tuple (client ip:port → server
 * ip:port) here; a conntrack entry whose original tuple, or whose reply tuple reversed (the
 * server's side of a DNAT), is one of them belongs to the probes and is never reported. An
 * entry neither matches waits one poll (the probe's record of it may still be on its way
 * through the pipeline) and is then reported once as a new connection; later polls report
 * only the bytes it moved since (connections 0), when accounting gives bytes.
 */
import { readFileSync } from 'node:fs';
import type { FlowProtocol } from '../../network/flow.js';
import { ProbeTupleSet } from './probe-tuples.js';

export interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  packets?: number;
  bytes?: number;
}

export interface ConntrackEntry {
  family: 'ipv4' | 'ipv6';
  protocol: FlowProtocol;
  state?: string;
  /** Seconds until the entry expires (its state's timeout counts down from the last packet). */
  timeoutLeft: number;
  /** [ASSURED]: traffic seen both ways (UDP then uses its stream timeout). */
  assured: boolean;
  orig: ConntrackTuple;
  reply: ConntrackTuple;
}

const PROTOCOLS: Record<string, FlowProtocol> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP' };

/** Compresses an IPv6 address as conntrack prints it (full groups) to inet_ntop's form. */
function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  const groups = ip.split(':');
  if (groups.length !== 8) return ip;
  const parts = groups.map((g) => parseInt(g, 16).toString(16));
  const s = parts.join(':');
  const m = s.match(/(?:^|:)0(?::0)+(?::|$)/g);
  if (!m) return s;
  const longest = m.reduce((a, b) => (b.length > a.length ? b : a));
  return s.replace(longest, '::');
}

/** One line of /proc/net/nf_conntrack; undefined for other protocols (icmp, …) or a malformed line. */
export function parseConntrackLine(line: string): ConntrackEntry | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 6) return undefined;
  const family = f[0];
  if (family !== 'ipv4' && family !== 'ipv6') return undefined;
  const protocol = PROTOCOLS[f[2]!];
  if (!protocol) return undefined;
  const timeoutLeft = Number(f[4]);
  const assured = line.includes('[ASSURED]');
  const tuples: ConntrackTuple[] = [];
  let cur: Partial<ConntrackTuple> | undefined;
  let state: string | undefined;
  for (let i = 5; i < f.length; i++) {
    const tok = f[i]!;
    const eq = tok.indexOf('=');
    if (eq < 0) {
      if (i === 5 && /^[A-Z_]+$/.test(tok)) state = tok;
      continue;
    }
    const k = tok.slice(0, eq);
    const v = tok.slice(eq + 1);
    if (k === 'src') {
      if (tuples.length === 2) break;
      cur = { src: canonicalIp(v) };
      tuples.push(cur as ConntrackTuple);
    } else if (!cur) continue;
    else if (k === 'dst') cur.dst = canonicalIp(v);
    else if (k === 'sport') cur.sport = Number(v);
    else if (k === 'dport') cur.dport = Number(v);
    else if (k === 'packets') cur.packets = Number(v);
    else if (k === 'bytes') cur.bytes = Number(v);
  }
  const [orig, reply] = tuples;
  if (!orig || !reply || !orig.dst || !reply.dst || orig.sport === undefined || orig.dport === undefined || reply.sport === undefined || reply.dport === undefined) return undefined;
  return { family, protocol, ...(state ? { state } : {}), timeoutLeft: Number.isFinite(timeoutLeft) ? timeoutLeft : 0, assured, orig, reply };
}

/**
 * The kernel's timeout of an entry's state, in seconds (from /proc/sys/net/netfilter), to
 * date its last packet: last packet ≈ now − (timeout − seconds left).
 */
export class ConntrackTimeouts {
  private readonly cache = new Map<string, number | undefined>();
  constructor(private readonly sysctlDir = '/proc/sys/net/netfilter') {}

  private read(name: string): number | undefined {
    if (!this.cache.has(name)) {
      let v: number | undefined;
      try {
        v = Number(readFileSync(`${this.sysctlDir}/${name}`, 'utf8').trim());
        if (!Number.isFinite(v)) v = undefined;
      } catch {
        v = undefined;
      }
      this.cache.set(name, v);
    }
    return this.cache.get(name);
  }

  /** The full timeout of the entry's state, or undefined when unknown. */
  of(e: ConntrackEntry): number | undefined {
    if (e.protocol === 'TCP' && e.state) return this.read(`nf_conntrack_tcp_timeout_${e.state.toLowerCase()}`);
    if (e.protocol === 'UDP') return this.read(e.assured ? 'nf_conntrack_udp_timeout_stream' : 'nf_conntrack_udp_timeout');
    return undefined;
  }

  /** When the entry last saw a packet (ms), or undefined when its state's timeout is unknown. */
  lastPacketMs(e: ConntrackEntry, nowMs: number): number | undefined {
    const full = this.of(e);
    if (full === undefined) return undefined;
    return nowMs - Math.max(0, full - e.timeoutLeft) * 1000;
  }
}

/** client ip:port → server ip:port, with the protocol. */
export function tupleKey(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): string {
  return `${protocol} ${cip} ${cport} ${sip} ${sport}`;
}

/** A connection conntrack saw and no probe did, ready to become a flow observation. */
export interface ConntrackSighting {
  entry: ConntrackEntry;
  /** 1 the first time it is reported, 0 for a later byte update. */
  connections: number;
  /** Bytes (both ways) moved since it was last reported, when accounting is on. */
  bytes?: number;
}

export interface ConntrackStats {
  polls: number;
  entries: number;
  /** Entries that were the probes' own connections. */
  matched: number;
  /** Entries reported as conntrack flows (first sightings). */
  reported: number;
  /** Entries not tracked because the cap was reached. */
  dropped: number;
  errors: number;
  lastError?: string;
}

export interface ConntrackOptions {
  path?: string;
  /** Where the conntrack timeouts are (default /proc/sys/net/netfilter). */
  sysctlDir?: string;
  /** Entries remembered at most (default 100,000). */
  maxEntries?: number;
  /** Reads the table (tests); default reads `path`. */
  read?: () => string;
}

interface Known {
  /** 'ebpf': a probe's connection (never reported); 'pending': waits a poll; 'reported'. */
  state: 'ebpf' | 'pending' | 'reported';
  bytes: number;
  seenPoll: number;
  /** The entry's line identity (rawLineKey), once it is a probe's connection. */
  raw?: string;
}

/**
 * An entry's identity read straight from its line, without parsing it: the protocol and the
 * original tuple's text (`src=… dst=… sport=… dport=…`), which never change while the
 * entry lives (the timeout, state and counters after it do). Undefined for an odd line.
 */
export function rawLineKey(line: string): string | undefined {
  const i = line.indexOf(' src=');
  if (i < 0) return undefined;
  const d = line.indexOf(' dport=', i);
  if (d < 0) return undefined;
  const end = line.indexOf(' ', d + 7);
  const head = line.slice(0, i);
  const proto = head.includes(' tcp ') ? 't' : head.includes(' udp ') ? 'u' : head.includes(' sctp ') ? 's' : 'o';
  return proto + line.slice(i, end < 0 ? line.length : end);
}

export class ConntrackWatcher {
  private readonly path: string;
  private readonly maxEntries: number;
  /** Probe tuples since the previous poll, and those of the poll before (a two-generation window). */
  private probeNow = new ProbeTupleSet();
  private probePrev = new ProbeTupleSet();
  private readonly known = new Map<string, Known>();
  /**
   * The probes' own connections by line identity: most of a busy host's table (loopback and
   * pod traffic in TIME_WAIT that the probes saw), skipped without parsing on every later poll.
   * Parsing every line made the table scan most of what flows cost at thousands of
   * connections a second (bench:flows).
   */
  private readonly settled = new Map<string, Known>();
  private poll = 0;
  private counters: ConntrackStats = { polls: 0, entries: 0, matched: 0, reported: 0, dropped: 0, errors: 0 };

  constructor(private readonly opts: ConntrackOptions = {}) {
    this.path = opts.path ?? '/proc/net/nf_conntrack';
    this.maxEntries = opts.maxEntries ?? 100_000;
  }

  /** A connection a probe reported (client → server). */
  probeSaw(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): void {
    if (this.probeNow.size >= this.maxEntries) return;
    this.probeNow.add(protocol, cip, cport, sip, sport);
    // an unbound UDP socket reports 0.0.0.0 as its own address
    if (cip === '0.0.0.0' || cip === '::') this.probeNow.add(protocol, '*', cport, sip, sport);
  }

  /** The tuple, or the same with any client address, was a probe's (this poll's window or the one before). */
  private isProbes(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): boolean {
    const now = this.probeNow;
    const prev = this.probePrev;
    return (
      now.has(protocol, cip, cport, sip, sport) || prev.has(protocol, cip, cport, sip, sport) ||
      now.has(protocol, '*', cport, sip, sport) || prev.has(protocol, '*', cport, sip, sport)
    );
  }

  /** Reads the table and returns what no probe saw; entries gone from the table are forgotten. */
  scan(): ConntrackSighting[] {
    let text: string;
    try {
      text = this.opts.read ? this.opts.read() : readFileSync(this.path, 'utf8');
    } catch (e) {
      this.counters.errors++;
      this.counters.lastError = (e as Error).message;
      return [];
    }
    this.poll++;
    this.counters.polls++;
    const out: ConntrackSighting[] = [];
    let entries = 0;
    for (let at = 0; at < text.length;) {
      let nl = text.indexOf('\n', at);
      if (nl < 0) nl = text.length;
      const line = text.slice(at, nl);
      at = nl + 1;
      const raw = rawLineKey(line);
      const done = raw === undefined ? undefined : this.settled.get(raw);
      if (done) {
        entries++;
        done.seenPoll = this.poll;
        continue;
      }
      const e = parseConntrackLine(line);
      if (!e) continue;
      entries++;
      const o = e.orig;
      const key = tupleKey(e.protocol, o.src, o.sport, o.dst, o.dport);
      const bytes = (o.bytes ?? 0) + (e.reply.bytes ?? 0);
      const hasBytes = o.bytes !== undefined || e.reply.bytes !== undefined;
      let k = this.known.get(key);
      if (k) {
        k.seenPoll = this.poll;
        if (k.state === 'ebpf') continue;
        if (k.state === 'pending') {
          if (this.matches(e)) {
            k.state = 'ebpf';
            this.settle(k, raw);
            this.counters.matched++;
            continue;
          }
          k.state = 'reported';
          this.counters.reported++;
          out.push({ entry: e, connections: 1, ...(hasBytes ? { bytes } : {}) });
          k.bytes = bytes;
          continue;
        }
        if (hasBytes && bytes > k.bytes) {
          out.push({ entry: e, connections: 0, bytes: bytes - k.bytes });
          k.bytes = bytes;
        }
        continue;
      }
      if (this.known.size >= this.maxEntries) {
        this.counters.dropped++;
        continue;
      }
      k = { state: this.matches(e) ? 'ebpf' : 'pending', bytes: 0, seenPoll: this.poll };
      if (k.state === 'ebpf') {
        this.settle(k, raw);
        this.counters.matched++;
      }
      this.known.set(key, k);
    }
    this.counters.entries = entries;
    for (const [key, k] of this.known) {
      if (k.seenPoll === this.poll) continue;
      this.known.delete(key);
      if (k.raw !== undefined) this.settled.delete(k.raw);
    }
    // the older generation is emptied and reused: no set grown from nothing after each poll
    const spare = this.probePrev;
    spare.clear();
    this.probePrev = this.probeNow;
    this.probeNow = spare;
    return out;
  }

  private settle(k: Known, raw: string | undefined): void {
    if (raw === undefined) return;
    k.raw = raw;
    this.settled.set(raw, k);
  }

  private matches(e: ConntrackEntry): boolean {
    const o = e.orig;
    const r = e.reply;
    return (
      this.isProbes(e.protocol, o.src, o.sport, o.dst, o.dport) ||
      // the server's view behind a DNAT: the reply tuple reversed
      this.isProbes(e.protocol, r.dst, r.dport, r.src, r.sport)
    );
  }

  stats(): ConntrackStats {
    return { ...this.counters };
  }
}
