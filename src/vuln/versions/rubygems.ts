/**
 * RubyGems versions, ordered as Gem::Version: segments split at dots and digit/letter
 * transitions, trailing zeros dropped from the release and pre-release parts, a string
 * segment (pre-release) sorting before any number.
 */
import { basicCheck, cmpDigits, cmpStr, isDigits, type Order, type VersionScheme } from './scheme.js';

function dropZeros(segs: string[]): string[] {
  let end = segs.length;
  while (end > 0 && segs[end - 1] === '0') end--;
  return segs.slice(0, end);
}

export function parseGem(s: string): string[] {
  const canonical = s.replace(/(\d)(?=[^\d.])|([^\d.])(?=\d)/g, '$1$2.');
  const segs = canonical.split('.');
  const firstString = segs.findIndex((x) => !isDigits(x));
  const numbers = firstString < 0 ? segs : segs.slice(0, firstString);
  const rest = firstString < 0 ? [] : segs.slice(firstString);
  return [...dropZeros(numbers), ...dropZeros(rest)];
}

export function compareGem(a: string[], b: string[]): Order {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? '0';
    const y = b[i] ?? '0';
    const xn = isDigits(x);
    const yn = isDigits(y);
    if (xn && yn) {
      const d = cmpDigits(x, y);
      if (d) return d;
    } else if (!xn && !yn) {
      const d = cmpStr(x, y);
      if (d) return d;
    } else {
      return xn ? 1 : -1;
    }
  }
  return 0;
}

export const rubygemsScheme: VersionScheme = {
  name: 'rubygems',
  ecosystems: ['RubyGems'],
  validate(v) {
    basicCheck('rubygems', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return compareGem(parseGem(a), parseGem(b));
  },
};
