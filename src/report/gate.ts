/**
 * The CI gate every reporting command shares: keep the findings whose severity is in the
 * --severity list (exactly those levels, as Trivy reads it) and pick the exit code (0 when
 * nothing is left or by default; --exit-code N when findings remain).
 */
import { parseSeverity, type Finding, type Severity } from '../findings/finding.js';
import { UserError } from '../util/errors.js';

/** `--severity HIGH,CRITICAL` → [HIGH, CRITICAL]; undefined or empty → undefined (all). */
export function parseSeverityList(text: string | undefined): Severity[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    return [...new Set(text.split(',').filter((p) => p.trim() !== '').map((p) => parseSeverity(p)))];
  } catch (e) {
    throw new UserError(`invalid --severity: ${(e as Error).message}`, 'bad-option');
  }
}

/** A predicate for `--severity LIST`: exactly the listed levels (everything when no list). */
export function parseSeverityFilter(text: string | undefined): (s: Severity) => boolean {
  const list = parseSeverityList(text);
  if (!list) return () => true;
  const set = new Set(list);
  return (s) => set.has(s);
}

/** `--exit-code N`: 0-255; 0 when not given (findings alone never fail a command). */
export function parseExitCode(text: string | number | undefined): number {
  if (text === undefined) return 0;
  const s = String(text);
  if (!/^\d+$/.test(s) || Number(s) > 255) throw new UserError(`invalid --exit-code "${s}" (expected 0-255)`, 'bad-option');
  return Number(s);
}

export function gate(findings: readonly Finding[], severity: string | undefined, exitCode: string | number | undefined): { shown: Finding[]; code: number } {
  const keep = parseSeverityFilter(severity);
  const code = parseExitCode(exitCode);
  const shown = findings.filter((f) => keep(f.severity));
  return { shown, code: shown.length > 0 ? code : 0 };
}
