/**
 * Packagist (Composer/PHP) versions, ordered as PHP's version_compare after Composer's
 * normalisation (leading "v" dropped, "-", "_", "+" as ".", dots at digit/letter changes).
 * Special words: unknown < dev < alpha = a < beta = b < RC = rc < "#" (a number) < pl = p.
 */
import { basicCheck, cmpDigits, isDigits, type Order, type VersionScheme } from './scheme.js';

export function parsePackagist(s: string): string[] {
  const v = s
    .replace(/^[vV]/, '')
    .replace(/[-_+]/g, '.')
    .replace(/([^\d.])(\d)/g, '$1.$2')
    .replace(/(\d)([^\d.])/g, '$1.$2');
  return v.split('.');
}

function weight(s: string): number {
  if (s.startsWith('RC')) return 3;
  const specials = ['dev', 'a', 'b', 'rc', '#', 'p'];
  const i = specials.findIndex((x) => s.startsWith(x));
  return i < 0 ? -1 : i;
}

function cmpSpecial(a: string, b: string): Order {
  const x = weight(a);
  const y = weight(b);
  return x > y ? 1 : x < y ? -1 : 0;
}

export function comparePackagist(a: string[], b: string[]): Order {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const xn = isDigits(x);
    const yn = isDigits(y);
    const d = xn && yn ? cmpDigits(x, y) : !xn && !yn ? cmpSpecial(x, y) : xn ? cmpSpecial('#', y) : cmpSpecial(x, '#');
    if (d) return d;
  }
  if (a.length > b.length) return isDigits(a[b.length]!) ? 1 : comparePackagist(a.slice(b.length), ['#']);
  if (a.length < b.length) return isDigits(b[a.length]!) ? -1 : comparePackagist(['#'], b.slice(a.length));
  return 0;
}

export const packagistScheme: VersionScheme = {
  name: 'packagist',
  ecosystems: ['Packagist'],
  validate(v) {
    basicCheck('packagist', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return comparePackagist(parsePackagist(a), parsePackagist(b));
  },
};
