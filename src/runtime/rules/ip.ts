/** IPv4/IPv6 parsing for `ipaddr` and `ipnet` fields (`fd.sip = 10.0.0.1`, `fd.snet in (10.0.0.0/8)`). */
import { isIP } from 'node:net';

type Ip = { v: bigint; bits: 32 | 128 };
const cache = new Map<string, Ip | null>();
const CACHE_MAX = 4096;

/** parseIp with a small cache: events repeat the same few addresses. */
function cachedIp(text: string): Ip | undefined {
  let r = cache.get(text);
  if (r === undefined) {
    r = parseIp(text) ?? null;
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(text, r);
  }
  return r ?? undefined;
}

/** An address as a bigint plus its family, or undefined when the text is not an address. */
export function parseIp(text: string): Ip | undefined {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const fam = isIP(t);
  if (fam === 4) {
    const n = t.split('.').reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    return { v: n, bits: 32 };
  }
  if (fam === 6) {
    let s = t;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4) {
      const p = parseIp(v4[1]!)!.v;
      s = `${s.slice(0, -v4[1]!.length)}${(p >> 16n).toString(16)}:${(p & 0xffffn).toString(16)}`;
    }
    const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
    const h = head ? head.split(':') : [];
    const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
    const n = groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
    return { v: n, bits: 128 };
  }
  return undefined;
}

export function ipEquals(a: string, b: string): boolean {
  if (a === b) return true;
  const x = cachedIp(a);
  const y = cachedIp(b);
  return !!x && !!y && x.bits === y.bits && x.v === y.v;
}

/** `10.0.0.0/8` → a predicate on address text; a bare address is a /32 (or /128). */
export function compileNet(text: string): ((ip: string) => boolean) | undefined {
  const [addr, lenText] = text.split('/');
  const base = parseIp(addr ?? '');
  if (!base) return undefined;
  const len = lenText === undefined ? base.bits : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > base.bits) return undefined;
  const shift = BigInt(base.bits - len);
  const want = base.v >> shift;
  return (ip: string) => {
    const p = cachedIp(ip);
    return !!p && p.bits === base.bits && p.v >> shift === want;
  };
}
