/**
 * RPM versions ([epoch:]version[-release]) ordered by rpmvercmp: alphanumeric segments,
 * `~` sorts before anything, `^` after the base but before any further segment.
 * Written by hand: no maintained npm library implements rpmvercmp.
 */
import { basicCheck, cmpStr, isDigit, isLetter, type Order, type VersionScheme } from './scheme.js';

export interface Evr {
  epoch: string;
  version: string;
  release: string;
}

/** Splits e:v-r. A colon whose left side is not all digits is not an epoch separator. */
export function parseEvr(s: string): Evr {
  const colon = s.indexOf(':');
  let epoch = '';
  let vr = s;
  if (colon >= 0 && /^[0-9]*$/.test(s.slice(0, colon))) {
    epoch = s.slice(0, colon);
    vr = s.slice(colon + 1);
  }
  const dash = vr.indexOf('-');
  const version = dash >= 0 ? vr.slice(0, dash) : vr;
  const release = dash >= 0 ? vr.slice(dash) : '';
  return { epoch: epoch || '0', version, release };
}

const isSep = (c: string): boolean => !isLetter(c) && !isDigit(c) && c !== '~' && c !== '^';

/** rpmvercmp on one field. */
export function rpmvercmp(a: string, b: string): Order {
  if (a === b) return 0;
  if (a === '' && b !== '') return -1;
  if (a !== '' && b === '') return 1;
  let i = 0;
  let j = 0;
  while (true) {
    while (i < a.length && isSep(a[i]!)) i++;
    while (j < b.length && isSep(b[j]!)) j++;
    const at = a[i] === '~';
    const bt = b[j] === '~';
    if (at && bt) {
      i++;
      j++;
      continue;
    }
    if (at) return -1;
    if (bt) return 1;
    const ac = a[i] === '^';
    const bc = b[j] === '^';
    if (ac && bc) {
      i++;
      j++;
      continue;
    }
    if (ac) return j === b.length ? 1 : -1;
    if (bc) return i === a.length ? -1 : 1;
    if (i === a.length || j === b.length) break;
    const numeric = isDigit(a[i]);
    const same = numeric ? isDigit : isLetter;
    const si = i;
    while (i < a.length && same(a[i])) i++;
    const sj = j;
    while (j < b.length && same(b[j])) j++;
    let as = a.slice(si, i);
    let bs = b.slice(sj, j);
    if (bs === '') return numeric ? 1 : -1;
    if (numeric) {
      as = as.replace(/^0+/, '');
      bs = bs.replace(/^0+/, '');
      if (as.length !== bs.length) return as.length > bs.length ? 1 : -1;
    }
    const d = cmpStr(as, bs);
    if (d) return d;
  }
  const al = a.length - i;
  const bl = b.length - j;
  return al > bl ? 1 : al < bl ? -1 : 0;
}

export function compareEvr(x: Evr, y: Evr): Order {
  return rpmvercmp(x.epoch, y.epoch) || rpmvercmp(x.version, y.version) || rpmvercmp(x.release, y.release);
}

export const rpmScheme: VersionScheme = {
  name: 'rpm',
  ecosystems: ['Red Hat', 'Rocky Linux', 'AlmaLinux', 'openSUSE', 'SUSE', 'Mageia', 'openEuler', 'Azure Linux'],
  validate(v) {
    basicCheck('rpm', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return compareEvr(parseEvr(a), parseEvr(b));
  },
};
