/**
 * DNS names for remote ends: the probe hands over the DNS answers a process receives on a UDP
 * socket from port 53 (recvfrom/recvmsg, the first 400 bytes); each A/AAAA record of an answer
 * maps its address to the name the process asked for (the question, not the CNAME chain's
 * end: that is the name the application used), per container, for the record's TTL clamped
 * to [1 min, 1 h]. An egress flow to a remembered address carries that name (`remote.dns`).
 *
 * Why the clamp: connection pools and JVM-style resolver caches keep using an address well
 * past a short TTL (5–30 s is common behind cloud load balancers), and a flow one minute later
 * is still to that name; an hour bounds how long a recycled address keeps a stale name.
 * Why per container: each container has its own resolver configuration and view; one
 * container's answer says nothing about what another one meant by an address.
 */
import { isIP } from 'node:net';

export interface DnsAnswer {
  /** The question's name, lower case, without the trailing dot. */
  name: string;
  addresses: { ip: string; ttlSeconds: number }[];
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** Reads a (possibly compressed) name at `at`; returns it and the offset after it in place, or undefined when cut short. */
function readName(b: Buffer, at: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let pos = at;
  let next = -1;
  // each pointer must go backwards, so a loop is impossible; the bound is a second guard
  for (let hops = 0; hops < 128; hops++) {
    if (pos >= b.length) return undefined;
    const len = b[pos]!;
    if (len === 0) {
      return { name: labels.join('.').toLowerCase(), next: next < 0 ? pos + 1 : next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) return undefined;
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (target >= pos) return undefined;
      if (next < 0) next = pos + 2;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || pos + 1 + len > b.length) return undefined;
    labels.push(b.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  return undefined;
}

function ipv6(b: Buffer, at: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(at + i).toString(16));
  return compressV6(parts.join(':'));
}

function compressV6(full: string): string {
  const m = full.match(/(?:^|:)0(?::0)+(?::|$)/g);
  if (!m) return full;
  const longest = m.reduce((a, c) => (c.length > a.length ? c : a));
  return full.replace(longest, '::');
}

/**
 * The A/AAAA records of a DNS response, keyed by the question's name; undefined when the
 * message is not a successful response with one question (a query, an error, garbage). A
 * message cut short (the probe keeps 400 bytes) yields the records read before the cut.
 */
export function parseDnsAnswer(b: Buffer): DnsAnswer | undefined {
  if (b.length < 12) return undefined;
  const flags = b.readUInt16BE(2);
  const qr = flags >> 15;
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  if (qr !== 1 || opcode !== 0 || rcode !== 0 || qd !== 1 || an === 0) return undefined;
  const q = readName(b, 12);
  if (!q || !q.name || q.next + 4 > b.length) return undefined;
  const answer: DnsAnswer = { name: q.name, addresses: [] };
  let pos = q.next + 4;
  for (let i = 0; i < an; i++) {
    const rr = readName(b, pos);
    if (!rr || rr.next + 10 > b.length) break;
    const type = b.readUInt16BE(rr.next);
    const cls = b.readUInt16BE(rr.next + 2);
    const ttl = b.readUInt32BE(rr.next + 4);
    const rdlen = b.readUInt16BE(rr.next + 8);
    const data = rr.next + 10;
    if (data + rdlen > b.length) break;
    if (cls === CLASS_IN && type === TYPE_A && rdlen === 4) {
      answer.addresses.push({ ip: `${b[data]}.${b[data + 1]}.${b[data + 2]}.${b[data + 3]}`, ttlSeconds: ttl });
    } else if (cls === CLASS_IN && type === TYPE_AAAA && rdlen === 16) {
      answer.addresses.push({ ip: ipv6(b, data), ttlSeconds: ttl });
    }
    pos = data + rdlen;
  }
  return answer.addresses.length ? answer : undefined;
}

export interface DnsNameCacheOptions {
  /** Shortest and longest time a name is kept (ms; default 60 s and 1 h). */
  minTtlMs?: number;
  maxTtlMs?: number;
  /** Entries kept at most over all containers (default 20,000); the oldest go first. */
  maxEntries?: number;
}

interface NameEntry {
  name: string;
  expiresMs: number;
}

/** Address → name per container (`host` for host processes), bounded, with expiry. */
export class DnsNameCache {
  /** Keyed by `${container}\x1f${ip}`: one Map in insertion order is the eviction order too. */
  private readonly entries = new Map<string, NameEntry>();
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly maxEntries: number;
  answers = 0;
  evicted = 0;

  constructor(opts: DnsNameCacheOptions = {}) {
    this.minTtlMs = opts.minTtlMs ?? 60_000;
    this.maxTtlMs = opts.maxTtlMs ?? 3_600_000;
    this.maxEntries = opts.maxEntries ?? 20_000;
  }

  /** Remembers an answer's addresses for the container that received it. */
  add(container: string, answer: DnsAnswer, nowMs: number): void {
    this.answers++;
    for (const a of answer.addresses) {
      if (!isIP(a.ip)) continue;
      const key = `${container}\x1f${a.ip}`;
      const ttl = Math.min(this.maxTtlMs, Math.max(this.minTtlMs, a.ttlSeconds * 1000));
      this.entries.delete(key); // re-inserted last: the newest answer is evicted last
      this.entries.set(key, { name: answer.name, expiresMs: nowMs + ttl });
    }
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }

  /** The name the container last resolved to this address, while it has not expired. */
  lookup(container: string, ip: string, nowMs: number): string | undefined {
    const key = `${container}\x1f${ip}`;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresMs < nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e.name;
  }

  get size(): number {
    return this.entries.size;
  }
}
