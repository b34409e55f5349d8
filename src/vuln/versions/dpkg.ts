/**
 * Debian/Ubuntu versions, ordered exactly as dpkg does ([epoch:]upstream[-revision],
 * letters before non-letters, `~` before everything, even the end of the string).
 * Written by hand: no maintained npm library implements dpkg's algorithm and its checks.
 */
import { InvalidVersionError, cmpDigits, isDigit, isLetter, sign, type Order, type VersionScheme } from './scheme.js';

interface DebVersion {
  epoch: string;
  upstream: string;
  revision: string;
}

const NAME = 'dpkg';

export function parseDebVersion(v: string): DebVersion {
  const fail = (reason: string): never => {
    throw new InvalidVersionError(v, reason, NAME);
  };
  if (v.length === 0) fail('version string is empty');
  if (/\s/.test(v)) fail('version string has embedded spaces');
  let rest = v;
  let epoch = '0';
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    epoch = rest.slice(0, colon);
    if (epoch === '') fail('epoch in version is empty');
    if (!/^[0-9]+$/.test(epoch)) fail('epoch in version is not number');
    if (Number(epoch) > 2147483647) fail('epoch in version is too big');
    rest = rest.slice(colon + 1);
    if (rest === '') fail('nothing after colon in version number');
  }
  let revision = '';
  const dash = rest.lastIndexOf('-');
  if (dash >= 0) {
    revision = rest.slice(dash + 1);
    rest = rest.slice(0, dash);
    if (revision === '') fail('revision number is empty');
  }
  if (rest === '') fail('upstream version is empty');
  if (!isDigit(rest[0])) fail('version number does not start with digit');
  if (!/^[A-Za-z0-9.+~:-]*$/.test(rest)) fail('invalid character in version number');
  if (!/^[A-Za-z0-9.+~]*$/.test(revision)) fail('invalid character in revision number');
  return { epoch, upstream: rest, revision };
}

/** dpkg's character weight: `~` lowest, then end of string/digits, letters, other chars. */
function order(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isLetter(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

/** dpkg's verrevcmp over one part (upstream or revision). */
export function debPartCompare(a: string, b: string): Order {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return sign(ac - bc);
      i++;
      j++;
    }
    let si = i;
    while (a[si] === '0') si++;
    let sj = j;
    while (b[sj] === '0') sj++;
    i = si;
    j = sj;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return sign(firstDiff);
  }
  return 0;
}

export const dpkgScheme: VersionScheme = {
  name: NAME,
  ecosystems: ['Debian', 'Ubuntu'],
  validate(v) {
    parseDebVersion(v);
  },
  compare(a, b) {
    const x = parseDebVersion(a);
    const y = parseDebVersion(b);
    return cmpDigits(x.epoch, y.epoch) || debPartCompare(x.upstream, y.upstream) || debPartCompare(x.revision, y.revision);
  },
};
