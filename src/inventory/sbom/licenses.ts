/** Declared licence strings → SPDX, where they are valid SPDX; the rest stay free text. */
import parse from 'spdx-expression-parse';

export function isSpdxExpression(s: string): boolean {
  try {
    parse(s);
    return true;
  } catch {
    return false;
  }
}

/** One SPDX expression for a package's declared licences, or undefined if any is not SPDX. */
export function spdxExpressionOf(licenses: string[] | undefined): string | undefined {
  if (!licenses?.length) return undefined;
  if (!licenses.every(isSpdxExpression)) return undefined;
  return licenses.length === 1 ? licenses[0] : licenses.map((l) => (/\s/.test(l) ? `(${l})` : l)).join(' AND ');
}
