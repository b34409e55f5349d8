/**
 * IPv4 address sets as sorted disjoint [start, end] intervals of 32-bit numbers.
 * Hand-written: the only needs are CIDR parsing, except-subtraction, containment and the
 * elementary partition np-guard prints, which no maintained npm library offers together.
 */
export type Interval = readonly [number, number];
export type IpSet = Interval[];

const MAX = 0xffffffff;

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** `a.b.c.d/len` (or a bare address) as one interval; undefined when not IPv4. */
export function parseCidr(cidr: string): Interval | undefined {
  const [addr, lenText] = cidr.trim().split('/');
  const ip = parseIpv4(addr ?? '');
  if (ip === undefined) return undefined;
  const len = lenText === undefined ? 32 : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > 32) return undefined;
  const size = 2 ** (32 - len);
  const start = Math.floor(ip / size) * size;
  return [start, start + size - 1];
}

export function isIpv6Cidr(cidr: string): boolean {
  return cidr.includes(':');
}

export function subtract(a: IpSet, b: IpSet): IpSet {
  const out: Interval[] = [];
  for (const [s0, e0] of a) {
    let s = s0;
    for (const [bs, be] of b) {
      if (be < s || bs > e0) continue;
      if (bs > s) out.push([s, bs - 1]);
      s = Math.max(s, be + 1);
      if (s > e0) break;
    }
    if (s <= e0) out.push([s, e0]);
  }
  return out;
}

/** True when interval `iv` lies entirely inside the set. */
export function containsInterval(set: IpSet, iv: Interval): boolean {
  return set.some(([s, e]) => s <= iv[0] && iv[1] <= e);
}

/**
 * Splits the whole IPv4 space at every boundary of the given sets: the peers np-guard lists
 * as `a.b.c.d-w.x.y.z[External]`. Every input set is then a union of returned intervals.
 */
export function elementaryIntervals(sets: IpSet[]): Interval[] {
  const cuts = new Set<number>([0, MAX + 1]);
  for (const set of sets) {
    for (const [s, e] of set) {
      cuts.add(s);
      cuts.add(e + 1);
    }
  }
  const sorted = [...cuts].sort((x, y) => x - y);
  const out: Interval[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) out.push([sorted[i]!, sorted[i + 1]! - 1]);
  return out;
}

export function formatIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export function formatInterval([s, e]: Interval): string {
  return `${formatIp(s)}-${formatIp(e)}`;
}
