/**
 * Alpine (apk) versions: number{.number}…{letter}{_suffix{number}}…{~hash}{-r#}.
 * Suffix order: alpha < beta < pre < rc < (none) < cvs < svn < git < hg < p. Malformed
 * versions still compare (apk itself accepts them): two malformed ones by plain string
 * order, and leftover text sorts before none. Written by hand: no npm library does this.
 */
import { basicCheck, cmpDigits, cmpStr, type Order, type VersionScheme } from './scheme.js';

interface Suffix {
  weight: number;
  number: string;
}

interface ApkVersion {
  original: string;
  invalid: boolean;
  numbers: string[];
  letter: string;
  suffixes: Suffix[];
  build: string;
  remainder: string;
}

const SUFFIXES = ['alpha', 'beta', 'pre', 'rc', '', 'cvs', 'svn', 'git', 'hg', 'p'];
const NO_SUFFIX: Suffix = { weight: SUFFIXES.indexOf(''), number: '0' };

export function parseApkVersion(original: string): ApkVersion {
  let s = original;
  const numbers: string[] = [];
  const num = /^(?:\d+\.?)*/.exec(s)![0];
  if (num !== '') {
    numbers.push(...num.split('.'));
    s = s.slice(num.length);
  }
  let letter = '';
  if (/^[a-z]/.test(s)) {
    letter = s[0]!;
    s = s.slice(1);
  }
  const suffixes: Suffix[] = [];
  for (const m of s.matchAll(/_(alpha|beta|pre|rc|cvs|svn|git|hg|p)(\d*)/g)) {
    suffixes.push({ weight: SUFFIXES.indexOf(m[1]!), number: m[2] || '0' });
    if (s.startsWith(m[0])) s = s.slice(m[0].length);
  }
  const hash = /^~[0-9a-f]+/.exec(s);
  if (hash) s = s.slice(hash[0].length); // commit hashes cannot be ordered: ignored
  let build = '0';
  let invalid = false;
  if (s !== '') {
    const r = /^-r(\d*)/.exec(s);
    if (r) {
      build = r[1] || '0';
      s = s.slice(r[0].length);
    } else {
      invalid = true;
    }
  }
  return { original, invalid, numbers, letter, suffixes, build, remainder: s };
}

function cmpNumber(a: string, ai: number, b: string, bi: number): Order {
  // After the first component, a leading zero means "compare as a decimal fraction", as apk does.
  if (ai !== 0 && bi !== 0 && (a.startsWith('0') || b.startsWith('0'))) return cmpStr(a, b);
  return cmpDigits(a || '0', b || '0');
}

export function compareApk(a: ApkVersion, b: ApkVersion): Order {
  if (a.invalid && b.invalid) return cmpStr(a.original, b.original);
  const n = Math.max(a.numbers.length, b.numbers.length);
  for (let i = 0; i < n; i++) {
    const an = i < a.numbers.length ? a.numbers[i]! : '0';
    const bn = i < b.numbers.length ? b.numbers[i]! : '0';
    const d = cmpNumber(an, i < a.numbers.length ? i : 0, bn, i < b.numbers.length ? i : 0);
    if (d) return d;
  }
  if (a.letter !== b.letter) {
    if (a.letter === '') return -1;
    if (b.letter === '') return 1;
    return cmpStr(a.letter, b.letter);
  }
  const m = Math.max(a.suffixes.length, b.suffixes.length);
  for (let i = 0; i < m; i++) {
    const x = a.suffixes[i] ?? NO_SUFFIX;
    const y = b.suffixes[i] ?? NO_SUFFIX;
    if (x.weight !== y.weight) return x.weight < y.weight ? -1 : 1;
    const d = cmpDigits(x.number, y.number);
    if (d) return d;
  }
  const d = cmpDigits(a.build, b.build);
  if (d) return d;
  if (a.remainder === '' && b.remainder !== '') return 1;
  if (a.remainder !== '' && b.remainder === '') return -1;
  return 0;
}

export const apkScheme: VersionScheme = {
  name: 'apk',
  ecosystems: ['Alpine', 'Chainguard', 'Wolfi'],
  validate(v) {
    basicCheck('apk', v);
  },
  compare(a, b) {
    this.validate(a);
    this.validate(b);
    return compareApk(parseApkVersion(a), parseApkVersion(b));
  },
};
