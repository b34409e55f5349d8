/**
 * A lenient SemVer reading shared by the semver, Go and NuGet schemes: any number of
 * numeric components (compared with zero padding), an optional leading "v", and a
 * pre-release compared per SemVer 2 §11 with build metadata ignored. Leniency matters
 * because advisories hold versions like "1.2.3.4" or huge numbers that strict parsers
 * reject; the npm `semver` package is used for strict npm ranges (see semver.ts).
 */
import { cmpDigits, cmpNumberLists, cmpStr, isDigits, type Order } from './scheme.js';

export interface SemverLike {
  components: string[];
  /** Everything after the numeric components (pre-release and/or build), extras appended. */
  build: string;
}

export function parseSemverLike(s: string, maxComponents: number): SemverLike {
  const line = s.startsWith('v') ? s.slice(1) : s;
  const comps: string[] = [];
  let cur = '';
  let build = '';
  let i = 0;
  for (; i < line.length; i++) {
    const c = line[i]!;
    if (c >= '0' && c <= '9') {
      cur += c;
      continue;
    }
    if (cur !== '') comps.push(cur);
    cur = '';
    if (c === '.') continue;
    build = line.slice(i);
    break;
  }
  if (i === line.length && cur !== '') comps.push(cur);
  if (comps.length > maxComponents) {
    for (const extra of comps.splice(maxComponents)) build += `.${extra.replace(/^0+(?=\d)/, '')}`;
  }
  return { components: comps, build };
}

/** SemVer §11 on the pre-release part; `caseInsensitive` for NuGet. */
export function comparePrerelease(a: string, b: string, caseInsensitive = false): Order {
  a = a.split('+')[0]!.replace(/^-/, '');
  b = b.split('+')[0]!.replace(/^-/, '');
  if (caseInsensitive) {
    a = a.toLowerCase();
    b = b.toLowerCase();
  }
  if (a === '' && b !== '') return 1;
  if (a !== '' && b === '') return -1;
  const x = a.split('.');
  const y = b.split('.');
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const p = x[i]!;
    const q = y[i]!;
    const pn = isDigits(p);
    const qn = isDigits(q);
    let d: Order;
    if (pn && qn) d = cmpDigits(p, q);
    else if (!pn && !qn) d = cmpStr(p, q);
    else d = pn ? -1 : 1;
    if (d) return d;
  }
  return x.length > y.length ? 1 : x.length < y.length ? -1 : 0;
}

export function compareSemverLike(a: SemverLike, b: SemverLike, caseInsensitive = false): Order {
  return cmpNumberLists(a.components, b.components) || comparePrerelease(a.build, b.build, caseInsensitive);
}
