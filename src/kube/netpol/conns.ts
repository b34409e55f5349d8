/**
 * Sets of connections: for each protocol (SCTP, TCP, UDP) a sorted list of disjoint port
 * ranges within 1-65535. Printed the way np-guard prints them ("All Connections",
 * "SCTP 9003,TCP 8080,UDP 1-52,54-65535").
 */
export const PROTOCOLS = ['SCTP', 'TCP', 'UDP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export type PortRange = readonly [number, number];

const MIN_PORT = 1;
const MAX_PORT = 65535;

export class ConnSet {
  private constructor(private readonly byProto: Record<Protocol, PortRange[]>) {}

  static none(): ConnSet {
    return new ConnSet({ SCTP: [], TCP: [], UDP: [] });
  }

  static all(): ConnSet {
    const full = (): PortRange[] => [[MIN_PORT, MAX_PORT]];
    return new ConnSet({ SCTP: full(), TCP: full(), UDP: full() });
  }

  /** One protocol with the given ports (all ports when `ranges` is omitted). */
  static of(proto: Protocol, ranges?: PortRange[]): ConnSet {
    const c = ConnSet.none();
    c.byProto[proto] = normalize(ranges ?? [[MIN_PORT, MAX_PORT]]);
    return c;
  }

  ports(proto: Protocol): readonly PortRange[] {
    return this.byProto[proto];
  }

  contains(proto: Protocol, port: number): boolean {
    return this.byProto[proto].some(([s, e]) => s <= port && port <= e);
  }

  isEmpty(): boolean {
    return PROTOCOLS.every((p) => this.byProto[p].length === 0);
  }

  isAll(): boolean {
    return PROTOCOLS.every((p) => {
      const r = this.byProto[p];
      return r.length === 1 && r[0]![0] <= MIN_PORT && r[0]![1] >= MAX_PORT;
    });
  }

  union(o: ConnSet): ConnSet {
    return this.combine(o, (a, b) => normalize([...a, ...b]));
  }

  intersect(o: ConnSet): ConnSet {
    return this.combine(o, intersectRanges);
  }

  subtract(o: ConnSet): ConnSet {
    return this.combine(o, subtractRanges);
  }

  equals(o: ConnSet): boolean {
    return this.toString() === o.toString();
  }

  private combine(o: ConnSet, f: (a: PortRange[], b: PortRange[]) => PortRange[]): ConnSet {
    return new ConnSet({
      SCTP: f(this.byProto.SCTP, o.byProto.SCTP),
      TCP: f(this.byProto.TCP, o.byProto.TCP),
      UDP: f(this.byProto.UDP, o.byProto.UDP),
    });
  }

  toString(): string {
    if (this.isAll()) return 'All Connections';
    if (this.isEmpty()) return 'No Connections';
    return PROTOCOLS.filter((p) => this.byProto[p].length > 0)
      .map((p) => `${p} ${this.byProto[p].map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(',')}`)
      .join(',');
  }
}

function normalize(ranges: PortRange[]): PortRange[] {
  const sorted = ranges
    .map(([s, e]) => [Math.max(s, MIN_PORT), Math.min(e, MAX_PORT)] as PortRange)
    .filter(([s, e]) => s <= e)
    .sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function intersectRanges(a: PortRange[], b: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const s = Math.max(a[i]![0], b[j]![0]);
    const e = Math.min(a[i]![1], b[j]![1]);
    if (s <= e) out.push([s, e]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

function subtractRanges(a: PortRange[], b: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
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
