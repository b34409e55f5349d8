/**
 * Maven versions, ordered as Maven's ComparableVersion: tokens split on "." and "-" and at
 * digit/letter transitions, trailing null tokens trimmed, known qualifiers
 * (alpha < beta < milestone < rc < snapshot < "" < sp) before unknown ones (lexical).
 * Written by hand: there is no maintained npm port of ComparableVersion.
 */
import { basicCheck, cmpDigits, isDigits, type Order, type VersionScheme } from './scheme.js';

interface Token {
  prefix: string;
  value: string;
  isNull: boolean;
}

const KEYWORDS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const keywordRank = (k: string): number => {
  const i = KEYWORDS.indexOf(k);
  return i < 0 ? KEYWORDS.length : i;
};

function prefixRank(t: Token): number {
  // ".qualifier" < "-qualifier" < "-number" < ".number"
  if (isDigits(t.value)) return t.prefix === '-' ? 2 : 3;
  return t.prefix === '-' ? 1 : 0;
}

const shouldTrim = (t: Token): boolean => t.value === '0' || t.value === '' || t.value === 'final' || t.value === 'ga';

export function parseMaven(s: string): Token[] {
  const tokens: Token[] = [];
  const raw = s.split(/([-.])/);
  for (let i = 0; i < raw.length; i += 2) {
    let prefix = i === 0 ? '' : raw[i - 1]!;
    const part = raw[i]!;
    const pieces = part.match(/\d+|\D+/g) ?? [''];
    pieces.forEach((piece, j) => {
      if (j > 0) prefix = '-';
      let cur = piece.toLowerCase();
      if (cur === '') cur = '0';
      if (cur === 'cr') cur = 'rc';
      if (cur === 'ga' || cur === 'final' || cur === 'release') cur = '';
      if (j < pieces.length - 1) {
        // a, b, m directly followed by a number mean alpha, beta, milestone
        if (cur === 'a') cur = 'alpha';
        else if (cur === 'b') cur = 'beta';
        else if (cur === 'm') cur = 'milestone';
      }
      if (isDigits(cur)) cur = cur.replace(/^0+(?=\d)/, '');
      tokens.push({ prefix, value: cur, isNull: false });
    });
  }
  // Trim trailing null tokens, then again before each remaining hyphen, end to start.
  let i = tokens.length - 1;
  while (i > 0) {
    if (shouldTrim(tokens[i]!)) {
      tokens.splice(i, 1);
      i--;
      continue;
    }
    while (i >= 0 && tokens[i]!.prefix !== '-') i--;
    i--;
  }
  return tokens;
}

function nullFor(t: Token): Token {
  // "sp" is the only qualifier after an empty value; the padding must express that.
  if (t.prefix === '.') return { prefix: '.', value: t.value === 'sp' ? '' : '0', isNull: true };
  return { prefix: '-', value: '', isNull: true };
}

function tokenLess(v: Token, w: Token): boolean {
  if (v.prefix === w.prefix) {
    const vn = isDigits(v.value);
    const wn = isDigits(w.value);
    if (vn && wn) return cmpDigits(v.value, w.value) < 0;
    if (vn && !v.isNull) return false;
    if (wn && !w.isNull) return true;
    const l = keywordRank(v.value);
    const r = keywordRank(w.value);
    if (l === KEYWORDS.length && r === KEYWORDS.length) return v.value < w.value;
    return l < r;
  }
  return prefixRank(v) < prefixRank(w);
}

export function compareMaven(a: Token[], b: Token[]): Order {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const l = i < a.length ? a[i]! : nullFor(b[i]!);
    const r = i < b.length ? b[i]! : nullFor(a[i]!);
    if (l.prefix === r.prefix && l.value === r.value) continue;
    return tokenLess(l, r) ? -1 : 1;
  }
  return 0;
}

export const mavenScheme: VersionScheme = {
  name: 'maven',
  ecosystems: ['Maven'],
  validate(v) {
    basicCheck('maven', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return compareMaven(parseMaven(a), parseMaven(b));
  },
};
