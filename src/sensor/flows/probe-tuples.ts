/**
 * The set of connection 4-tuples (client ip:port → server ip:port, with the protocol) the
 * probes reported since a conntrack poll. At thousands of connections a second a Set of
 * string keys was most of what flows cost: a string per connection, built and hashed, kept
 * for one or two polls (long enough to be copied by the young-generation GC and promoted),
 * and a Set grown from empty after every poll. IPv4 tuples — nearly all of them — live here
 * in one open-addressed Uint32Array instead (four words a tuple, no object per connection);
 * anything else (IPv6) keeps a string key.
 *
 * A client address of `*` is a wildcard entry (an unbound socket's 0.0.0.0 or ::), matched
 * by looking `*` up explicitly, as the string keys did.
 */
import type { FlowProtocol } from '../../network/flow.js';

const WORDS = 4;
const WILD = 0x100;
const MIN_SLOTS = 1024;

/** A dotted-quad IPv4 address as an unsigned 32-bit number, or -1 when it is not one. */
export function parseIpv4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let out = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return -1;
      out = out * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return out * 256 + part;
}

const PROTO_CODE: Record<string, number> = { TCP: 1, UDP: 2, SCTP: 3 };
const protoCode = (p: FlowProtocol): number => PROTO_CODE[p] ?? 4;

export class ProbeTupleSet {
  /** Per slot: [occupied marker | wildcard bit | protocol, client ip, server ip, client port << 16 | server port]. */
  private slots = new Uint32Array(MIN_SLOTS * WORDS);
  private mask = MIN_SLOTS - 1;
  private count = 0;
  private readonly other = new Set<string>();

  get size(): number {
    return this.count + this.other.size;
  }

  /** Adds a tuple; `cip` may be `*` (any client address). */
  add(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): void {
    const s = parseIpv4(sip);
    const c = cip === '*' ? 0 : s < 0 ? -1 : parseIpv4(cip);
    if (s < 0 || c < 0) {
      this.other.add(stringKey(protocol, cip, cport, sip, sport));
      return;
    }
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const tag = 0x10000 | (cip === '*' ? WILD : 0) | protoCode(protocol);
    this.insert(tag, c, s, ((cport & 0xffff) << 16 | (sport & 0xffff)) >>> 0);
  }

  has(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): boolean {
    const s = parseIpv4(sip);
    const c = cip === '*' ? 0 : s < 0 ? -1 : parseIpv4(cip);
    if (s < 0 || c < 0) return this.other.size > 0 && this.other.has(stringKey(protocol, cip, cport, sip, sport));
    if (this.count === 0) return false;
    const tag = 0x10000 | (cip === '*' ? WILD : 0) | protoCode(protocol);
    const ports = ((cport & 0xffff) << 16 | (sport & 0xffff)) >>> 0;
    const t = this.slots;
    for (let i = hash(tag, c, s, ports) & this.mask; ; i = (i + 1) & this.mask) {
      const at = i * WORDS;
      const w = t[at]!;
      if (w === 0) return false;
      if (w === tag && t[at + 1] === c && t[at + 2] === s && t[at + 3] === ports) return true;
    }
  }

  /** Empties the set, keeping its storage (it is refilled at about the same rate). */
  clear(): void {
    if (this.count) this.slots.fill(0);
    this.count = 0;
    this.other.clear();
  }

  private insert(tag: number, c: number, s: number, ports: number): void {
    const t = this.slots;
    for (let i = hash(tag, c, s, ports) & this.mask; ; i = (i + 1) & this.mask) {
      const at = i * WORDS;
      const w = t[at]!;
      if (w === 0) {
        t[at] = tag;
        t[at + 1] = c;
        t[at + 2] = s;
        t[at + 3] = ports;
        this.count++;
        return;
      }
      if (w === tag && t[at + 1] === c && t[at + 2] === s && t[at + 3] === ports) return;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.mask = (this.mask + 1) * 2 - 1;
    this.count = 0;
    for (let at = 0; at < old.length; at += WORDS) if (old[at] !== 0) this.insert(old[at]!, old[at + 1]!, old[at + 2]!, old[at + 3]!);
  }
}

function hash(tag: number, c: number, s: number, ports: number): number {
  let h = Math.imul(c ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ s, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ports, 0x27d4eb2f);
  h ^= tag;
  return (h ^ (h >>> 15)) >>> 0;
}

function stringKey(protocol: FlowProtocol, cip: string, cport: number, sip: string, sport: number): string {
  return `${protocol} ${cip} ${cport} ${sip} ${sport}`;
}
