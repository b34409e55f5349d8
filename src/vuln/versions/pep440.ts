/**
 * Python (PEP 440) versions, ordered as `packaging.version` does; pre-PEP 440 "legacy"
 * versions (still present in old advisories) sort before every valid one, in the order
 * setuptools' LegacyVersion gave them. Written by hand: no npm library implements PEP 440
 * ordering with local versions and legacy fallback.
 */
import { basicCheck, cmpDigits, cmpNumberLists, cmpStr, isDigits, type Order, type VersionScheme } from './scheme.js';

interface Pep440 {
  legacy?: string;
  epoch: string;
  release: string[];
  pre?: { letter: string; n: string };
  post?: string;
  dev?: string;
  local: string[];
}

const RE =
  /^\s*v?(?:(?:(?<epoch>[0-9]+)!)?(?<release>[0-9]+(?:\.[0-9]+)*)(?<pre>[-_.]?(?<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?<pre_n>[0-9]+)?)?(?<post>(?:-(?<post_n1>[0-9]+))|(?:[-_.]?(?<post_l>post|rev|r)[-_.]?(?<post_n2>[0-9]+)?))?(?<dev>[-_.]?(?<dev_l>dev)[-_.]?(?<dev_n>[0-9]+)?)?)(?:\+(?<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/;

const PRE_ALIASES: Record<string, string> = { alpha: 'a', beta: 'b', c: 'rc', pre: 'rc', preview: 'rc' };

/** Valid PEP 440 (the part `packaging.version.Version` accepts), or undefined. */
export function parsePep440Strict(s: string): Pep440 | undefined {
  const m = RE.exec(s.toLowerCase());
  if (!m) return undefined;
  const g = m.groups!;
  const v: Pep440 = {
    epoch: g.epoch ?? '0',
    release: g.release!.split('.'),
    local: g.local ? g.local.split(/[-_.]/) : [],
  };
  if (g.pre_l) v.pre = { letter: PRE_ALIASES[g.pre_l] ?? g.pre_l, n: g.pre_n ?? '0' };
  if (g.post_n1 !== undefined) v.post = g.post_n1;
  else if (g.post_l) v.post = g.post_n2 ?? '0';
  if (g.dev_l) v.dev = g.dev_n ?? '0';
  return v;
}

/** setuptools' legacy key: numbers zero-padded, words marked, trailing zeros/"final-" dropped. */
function legacyKey(s: string): string {
  const parts: string[] = [];
  const LEGACY: Record<string, string> = { pre: 'c', preview: 'c', '-': 'final-', rc: 'c', dev: '@' };
  for (let part of [...(s.toLowerCase().match(/\d+|[a-z]+|\.|-/g) ?? []), 'final']) {
    if (part === '.') continue;
    part = LEGACY[part] ?? part;
    part = /^\d/.test(part) ? part.padStart(8, '0') : `*${part}`;
    if (part.startsWith('*')) {
      if (part < '*final') while (parts.at(-1) === '*final-') parts.pop();
      while (parts.at(-1) === '00000000') parts.pop();
    }
    parts.push(part);
  }
  return parts.join('');
}

export function parsePep440(s: string): Pep440 {
  return parsePep440Strict(s) ?? { legacy: legacyKey(s), epoch: '0', release: [], local: [] };
}

function preKey(v: Pep440): number {
  // packaging: a dev release without pre/post sorts before any pre-release of that release.
  if (!v.pre && v.post === undefined && v.dev !== undefined) return -1;
  return v.pre ? 0 : 1;
}

function compareLocal(a: string[], b: string[]): Order {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xn = isDigits(x);
    const yn = isDigits(y);
    const d = xn && yn ? cmpDigits(x, y) : !xn && !yn ? cmpStr(x, y) : xn ? 1 : -1;
    if (d) return d;
  }
  return a.length > b.length ? 1 : a.length < b.length ? -1 : 0;
}

export function comparePep440(a: Pep440, b: Pep440): Order {
  if (a.legacy !== undefined || b.legacy !== undefined) {
    if (a.legacy === undefined) return 1;
    if (b.legacy === undefined) return -1;
    return cmpStr(a.legacy, b.legacy);
  }
  let d = cmpDigits(a.epoch, b.epoch) || cmpNumberLists(a.release, b.release);
  if (d) return d;
  const pa = preKey(a);
  const pb = preKey(b);
  if (pa !== pb) return pa < pb ? -1 : 1;
  if (a.pre && b.pre) {
    d = cmpStr(a.pre.letter, b.pre.letter) || cmpDigits(a.pre.n, b.pre.n);
    if (d) return d;
  }
  if (a.post !== b.post) {
    if (a.post === undefined) return -1;
    if (b.post === undefined) return 1;
    d = cmpDigits(a.post, b.post);
    if (d) return d;
  }
  if (a.dev !== b.dev) {
    if (a.dev === undefined) return 1;
    if (b.dev === undefined) return -1;
    d = cmpDigits(a.dev, b.dev);
    if (d) return d;
  }
  return compareLocal(a.local, b.local);
}

export const pep440Scheme: VersionScheme = {
  name: 'pep440',
  ecosystems: ['PyPI'],
  validate(v) {
    basicCheck('pep440', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return comparePep440(parsePep440(a), parsePep440(b));
  },
};
