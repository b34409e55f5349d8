/**
 * The in-kernel open filter: bpftrace code, generated from path bounds, that decides at
 * syscall entry whether an open is recorded at all. One pass over the path (read as
 * aligned words, so no read crosses into an unmapped page) computes FNV-1a hashes of the
 * whole path, of its directory and of its last component, the hash of each prefix length
 * a bound needs, a window of the last 16 bytes (suffixes, substrings) and whether the path
 * is plainly canonical. The bounds' atoms sit as keys of one map, filled in BEGIN, so the
 * decision is a few lookups whatever the number of names.
 *
 * Why hashes and a map rather than string compares: bpftrace 0.17 cannot index strings,
 * and comparisons against constants after the loop make the verifier follow every exit
 * of the loop through every comparison (it rejected such a program at 1M instructions);
 * map values are unknown to it, so those paths merge. A hash collision only lets an extra
 * record through. The contract with the rules side is `filterEmits` in
 * runtime/rules/path-bounds.ts, which the tests hold this code to.
 */
import {
  MAX_FILTERED_PATH, OPEN_ACCESSES, type OpenAccess, type OpenBounds, type PathAtoms,
} from '../runtime/rules/path-bounds.js';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/** FNV-1a over the UTF-8 bytes of s, as the probe computes it. */
export function fnv1a64(s: string | Buffer): bigint {
  let h = FNV_OFFSET;
  for (const b of typeof s === 'string' ? Buffer.from(s) : s) h = ((h ^ BigInt(b)) * FNV_PRIME) & MASK64;
  return h;
}

/** Distinct prefix lengths the probe captures (each costs a stack slot and a lookup). */
const MAX_PREFIX_LENGTHS = 16;
/**
 * Substrings looked up, and how many distinct lengths and end bytes they may have: each
 * adds work per byte and states for the verifier.
 */
const MAX_SUBSTRINGS = 256;
const MAX_SUBSTRING_LENGTHS = 4;
const MAX_SUBSTRING_LAST_BYTES = 8;
/** Atoms in the map (bpftrace's default map size is 4096). */
const MAX_ATOMS = 4000;

/** Access-mode numbers as the probe computes them from the open flags (O_ACCMODE, 3 → 2). */
const ACCESS_CODE: Record<OpenAccess, number> = { read: 0, write: 1, readwrite: 2 };
/** Atom kinds, the first key of the filter map. */
const KIND = { exact: 1, prefix: 2, dir: 3, base: 4, suffix: 5, all: 6, substring: 7 } as const;

const hex = (n: bigint | number): string => `(uint64)0x${BigInt(n).toString(16)}`;

/** Little-endian value of up to 8 bytes, as they sit at the top of the window registers. */
function le(bytes: Buffer): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** The two window words a text of at most 16 bytes leaves when it ends the window. */
function windowKey(text: string): [bigint, bigint] {
  const b = Buffer.from(text);
  if (b.length <= 8) return [le(b), 0n];
  return [le(b.subarray(b.length - 8)), le(b.subarray(0, b.length - 8))];
}

/** Expressions for the window words holding the last k bytes (k ≤ 16). */
function windowExpr(k: number): [string, string] {
  if (k <= 8) return [`($t0 >> ${64 - 8 * k})`, '(uint64)0'];
  return ['$t0', `($t1 >> ${64 - 8 * (k - 8)})`];
}

/**
 * The bounds the kernel code applies: prefixes beyond MAX_PREFIX_LENGTHS distinct lengths
 * are cut to a shorter length in use (a shorter prefix bounds more); too many substrings
 * or atoms bound nothing. Tests compare the kernel against these.
 */
export function kernelBounds(bounds: OpenBounds): OpenBounds {
  const lengths = new Set<number>();
  const substrings = new Set<string>();
  let atoms = 0;
  for (const a of OPEN_ACCESSES) {
    const b = bounds[a];
    if (b === 'all') continue;
    for (const p of b.prefix) lengths.add(Buffer.byteLength(p));
    for (const c of b.contains) substrings.add(c);
    atoms += b.exact.size + b.prefix.size + b.dir.size + b.base.size + b.suffix.size;
  }
  const kept = [...lengths].sort((x, y) => x - y).slice(0, MAX_PREFIX_LENGTHS);
  const tooManySubstrings = substrings.size > MAX_SUBSTRINGS ||
    new Set([...substrings].map((c) => Buffer.byteLength(c))).size > MAX_SUBSTRING_LENGTHS ||
    new Set([...substrings].map((c) => Buffer.from(c).at(-1))).size > MAX_SUBSTRING_LAST_BYTES;
  const isAscii = (p: string) => Buffer.byteLength(p) === p.length;
  /** The prefix cut to a captured length; undefined when it cannot be. */
  const cut = (p: string): string | undefined => {
    const n = Buffer.byteLength(p);
    if (kept.includes(n)) return p;
    const shorter = kept.filter((l) => l < n).pop();
    return shorter === undefined || !isAscii(p) ? undefined : p.slice(0, shorter);
  };
  const out = {} as OpenBounds;
  for (const a of OPEN_ACCESSES) {
    const b = bounds[a];
    const prefix = b === 'all' ? [] : [...b.prefix].map(cut);
    out[a] = b === 'all' || (tooManySubstrings && b.contains.size > 0) || atoms > MAX_ATOMS || prefix.some((p) => p === undefined)
      ? 'all'
      : { ...b, prefix: new Set(prefix as string[]) };
  }
  return out;
}

interface FilterPlan {
  bounds: OpenBounds;
  prefixLengths: number[];
  suffixLengths: number[];
  substrings: string[];
}

function plan(bounds: OpenBounds): FilterPlan {
  const kb = kernelBounds(bounds);
  const prefixLengths = new Set<number>();
  const suffixLengths = new Set<number>();
  const substrings: string[] = [];
  for (const a of OPEN_ACCESSES) {
    const b = kb[a];
    if (b === 'all') continue;
    for (const p of b.prefix) prefixLengths.add(Buffer.byteLength(p));
    for (const s of b.suffix) suffixLengths.add(Buffer.byteLength(s));
    for (const c of b.contains) if (!substrings.includes(c)) substrings.push(c);
  }
  const sorted = (s: Set<number>) => [...s].sort((x, y) => x - y);
  return { bounds: kb, prefixLengths: sorted(prefixLengths), suffixLengths: sorted(suffixLengths), substrings };
}

/** BEGIN statements filling @open_filter with the atoms of the bounds. */
function initCode(p: FilterPlan): string[] {
  // an entry no lookup uses declares the map even when the bounds hold no atom
  const lines: string[] = [`@open_filter[0, 0, ${hex(0)}, ${hex(0)}, ${hex(0)}] = 0;`];
  const put = (kind: number, acc: number, x: bigint | number, y: bigint, z: bigint = 0n) =>
    lines.push(`@open_filter[${kind}, ${acc}, ${hex(x)}, ${hex(y)}, ${hex(z)}] = 1;`);
  for (const a of OPEN_ACCESSES) {
    const acc = ACCESS_CODE[a];
    const b: PathAtoms | 'all' = p.bounds[a];
    if (b === 'all') {
      put(KIND.all, acc, 0, 0n);
      continue;
    }
    for (const e of b.exact) put(KIND.exact, acc, 0, fnv1a64(e));
    for (const x of b.prefix) put(KIND.prefix, acc, Buffer.byteLength(x), fnv1a64(x));
    // the directory hash is taken before the last slash: "" for files directly below "/"
    for (const d of b.dir) put(KIND.dir, acc, 0, fnv1a64(d === '/' ? '' : d));
    for (const n of b.base) put(KIND.base, acc, 0, fnv1a64(n));
    for (const s of b.suffix) put(KIND.suffix, acc, Buffer.byteLength(s), ...windowKey(s));
  }
  // substrings: the value says which access modes look for them (bit = access code)
  for (const c of p.substrings) {
    let modes = 0;
    for (const a of OPEN_ACCESSES) {
      const b = p.bounds[a];
      if (b !== 'all' && b.contains.has(c)) modes |= 1 << ACCESS_CODE[a];
    }
    const [x, y] = windowKey(c);
    lines.push(`@open_filter[${KIND.substring}, 0, ${hex(Buffer.byteLength(c))}, ${hex(x)}, ${hex(y)}] = ${modes};`);
  }
  return lines;
}

/** Statements that set $emit for an open, from its path pointer $path and flags $flags. */
function filterCode(p: FilterPlan): string[] {
  const lines: string[] = [];
  const key = (kind: number, acc: string, x: string, y: string, z = '(uint64)0') => `@open_filter[${kind}, ${acc}, ${x}, ${y}, ${z}]`;
  const add = (s: string) => lines.push(s);
  add('$p = $path;');
  add('$a = $p & ~(uint64)7;');
  // bytes i..i+7 of the path as one word, from two aligned reads: a read that fails lies
  // beyond the path's end (never inside it), so it cannot hide a byte
  add('$s = ($p & 7) * 8;');
  add('$lo = *(uint64 *)uptr($a);');
  add('$first = ($lo >> $s) & 0xff;');
  add(`$h = ${hex(FNV_OFFSET)}; $hb = $h; $hd = $h;`);
  add('$i = (uint64)0; $wi = (uint64)0; $done = (uint64)0; $sus = (uint64)0;');
  add('$prev = (uint64)0; $t0 = (uint64)0; $t1 = (uint64)0; $cm = (uint64)0;');
  for (const l of p.prefixLengths) add(`$p${l} = (uint64)0;`);
  add(`while ($wi < ${MAX_FILTERED_PATH / 8} && $done == 0) {`);
  add('  $hi = *(uint64 *)uptr($a + 8 * ($wi + 1));');
  add('  $w = ($lo >> $s) | (($hi << (63 - $s)) << 1);');
  add('  $lo = $hi;');
  add('  unroll(8) {');
  add('    if ($done == 0) {');
  for (const l of p.prefixLengths) add(`      if ($i == ${l}) { $p${l} = $h; }`);
  add('      $b = $w & 0xff;');
  add('      if ($b == 0) { $done = 1; } else {');
  add(`        if ($b == 0x2f) { $hd = $h; $hb = ${hex(FNV_OFFSET)}; if ($prev == 0x2f) { $sus = 1; } }`);
  add(`        else { $hb = ($hb ^ $b) * ${hex(FNV_PRIME)}; }`);
  add('        if ($b == 0x2e && ($prev == 0x2f || $prev == 0x2e)) { $sus = 1; }');
  add(`        $h = ($h ^ $b) * ${hex(FNV_PRIME)};`);
  add('        $t1 = ($t1 >> 8) | ($t0 << 56);');
  add('        $t0 = ($t0 >> 8) | ($b << 56);');
  // substrings: a lookup of the window only after a byte that ends one of them (comparing
  // the window itself would teach the verifier its bits and multiply its states)
  const lastBytes = [...new Set(p.substrings.map((x) => Buffer.from(x).at(-1)!))];
  const lengths = [...new Set(p.substrings.map((x) => Buffer.byteLength(x)))];
  if (lastBytes.length) {
    add(`        if (${lastBytes.map((b) => `$b == 0x${b.toString(16)}`).join(' || ')}) {`);
    for (const k of lengths) add(`          $cm = $cm | ${key(KIND.substring, '(uint64)0', `(uint64)${k}`, ...windowExpr(k))};`);
    add('        }');
  }
  add('        $prev = $b; $i = $i + 1; $w = $w >> 8;');
  add('      }');
  add('    }');
  add('  }');
  add('  $wi = $wi + 1;');
  add('}');
  // not plainly canonical, no end found, or too long: always emitted
  add('if ($done == 0 || $i == 0 || $first != 0x2f || ($prev == 0x2f && $i > 1)) { $sus = 1; }');
  add('$acc = $flags & 3;');
  add('if ($acc == 3) { $acc = 2; }');
  const looks = [
    key(KIND.all, '$acc', '(uint64)0', '(uint64)0'),
    key(KIND.exact, '$acc', '(uint64)0', '$h'),
    key(KIND.dir, '$acc', '(uint64)0', '$hd'),
    key(KIND.base, '$acc', '(uint64)0', '$hb'),
    ...p.prefixLengths.map((l) => key(KIND.prefix, '$acc', `(uint64)${l}`, `$p${l}`)),
    ...p.suffixLengths.map((k) => key(KIND.suffix, '$acc', `(uint64)${k}`, ...windowExpr(k))),
  ];
  add('$m = (uint64)0;');
  for (const l of looks) add(`$m = $m | ${l};`);
  if (p.substrings.length) add('$m = $m | (($cm >> $acc) & 1);');
  add('$emit = $sus | $m;');
  return lines;
}

/** The open filter used when no rules say what they need: the reads rules usually look at, every write. */
export const DEFAULT_OPEN_BOUNDS: OpenBounds = {
  read: {
    exact: new Set(), dir: new Set(), base: new Set(), suffix: new Set(), contains: new Set(),
    prefix: new Set(['/etc/', '/root/', '/home/', '/run/secrets', '/var/run/secrets']),
  },
  write: 'all',
  readwrite: 'all',
};

/** No plainly named open leaves the kernel (flows only: nothing reads the opens). */
export const NO_OPENS: OpenBounds = {
  read: { exact: new Set(), dir: new Set(), base: new Set(), suffix: new Set(), contains: new Set(), prefix: new Set() },
  write: { exact: new Set(), dir: new Set(), base: new Set(), suffix: new Set(), contains: new Set(), prefix: new Set() },
  readwrite: { exact: new Set(), dir: new Set(), base: new Set(), suffix: new Set(), contains: new Set(), prefix: new Set() },
};

/** Every open leaves the kernel. */
export const ALL_OPENS: OpenBounds = { read: 'all', write: 'all', readwrite: 'all' };

/** Markers in the probe template: map set-up (in BEGIN) and the filter statements. */
export const OPEN_FILTER_INIT_MARKER = '/*@open-filter-init*/';
export const OPEN_FILTER_MARKER = '/*@open-filter*/';

/** The probe script with the open filter for these bounds in place. */
export function probeWithOpenFilter(template: string, bounds: OpenBounds = DEFAULT_OPEN_BOUNDS): string {
  if (!template.includes(OPEN_FILTER_MARKER)) return template;
  const p = plan(bounds);
  const indent = (lines: string[], by: string) => lines.map((l, i) => (i ? by : '') + l).join('\n');
  const filter = indent(filterCode(p), '  ');
  return template
    .replace(OPEN_FILTER_INIT_MARKER, () => indent(initCode(p), '  '))
    .replaceAll(OPEN_FILTER_MARKER, () => filter) +
    '\nEND { clear(@open_filter); }\n';
}

