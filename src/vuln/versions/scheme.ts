/** The shape every version scheme implements, and the helpers they share. */
import { UserError } from '../../util/errors.js';

export type Order = -1 | 0 | 1;

export interface VersionScheme {
  /** Scheme name as the CLI accepts it (dpkg, apk, rpm, semver, pep440, maven, …). */
  readonly name: string;
  /** OSV ecosystem names (without release suffix) that use this scheme. */
  readonly ecosystems: readonly string[];
  /** Orders two versions; throws InvalidVersionError when either cannot be parsed. */
  compare(a: string, b: string): Order;
  /** Throws InvalidVersionError when the version is not valid in this scheme. */
  validate(v: string): void;
}

/** A version the scheme cannot parse: the message says which and why. */
export class InvalidVersionError extends UserError {
  constructor(
    readonly version: string,
    readonly reason: string,
    readonly scheme: string,
  ) {
    super(`invalid ${scheme} version "${version}": ${reason}`, 'bad-version');
    this.name = 'InvalidVersionError';
  }
}

export function sign(n: number): Order {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Compares two strings by UTF-16 code units, like strcmp on ASCII. */
export function cmpStr(a: string, b: string): Order {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares two non-empty digit strings numerically, of any length (no precision loss). */
export function cmpDigits(a: string, b: string): Order {
  let i = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const isDigits = (s: string): boolean => /^[0-9]+$/.test(s);
export const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
export const isLetter = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));

/** Rejects what no scheme accepts: empty strings, whitespace and control characters. */
export function basicCheck(scheme: string, v: string): void {
  if (v.length === 0) throw new InvalidVersionError(v, 'empty version', scheme);
  // eslint-disable-next-line no-control-regex
  if (/[\s\x00-\x1f\x7f]/.test(v)) throw new InvalidVersionError(v, 'contains whitespace or control characters', scheme);
}

/** Compares digit-string component lists, the shorter padded with zeros. */
export function cmpNumberLists(a: readonly string[], b: readonly string[]): Order {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = cmpDigits(a[i] ?? '0', b[i] ?? '0');
    if (d !== 0) return d;
  }
  return 0;
}
