/**
 * The CI gate shared by posture commands: keep findings at or above --severity and pick
 * the exit code (0 nothing left, --exit-code N (default 1) when findings remain).
 */
import { parseSeverity, severityRank, type Finding, type Severity } from '../findings/finding.js';
import { UserError } from '../util/errors.js';

/** `--severity HIGH` = HIGH and above; `--severity LOW,CRITICAL` = exactly those. */
export function parseSeverityFilter(text: string | undefined): (s: Severity) => boolean {
  if (!text) return () => true;
  try {
    const parts = text.split(',').map((p) => parseSeverity(p));
    if (parts.length === 1) return (s) => severityRank(s) >= severityRank(parts[0]!);
    const set = new Set(parts);
    return (s) => set.has(s);
  } catch (e) {
    throw new UserError(`invalid --severity: ${(e as Error).message}`, 'bad-option');
  }
}

export function parseExitCode(text: string | undefined): number {
  if (text === undefined) return 1;
  if (!/^\d+$/.test(text) || Number(text) > 255) throw new UserError(`invalid --exit-code "${text}" (expected 0-255)`, 'bad-option');
  return Number(text);
}

export function gate(findings: readonly Finding[], severity: string | undefined, exitCode: string | undefined): { shown: Finding[]; code: number } {
  const keep = parseSeverityFilter(severity);
  const code = parseExitCode(exitCode);
  const shown = findings.filter((f) => keep(f.severity));
  return { shown, code: shown.length > 0 ? code : 0 };
}
