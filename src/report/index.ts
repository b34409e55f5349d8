/** Output formats, registered in one place: a new format is one file plus one line here. */
import { withFingerprint } from '../findings/fingerprint.js';
import { UserError } from '../util/errors.js';
import { jsonFormatter } from './json.js';
import { junitFormatter } from './junit.js';
import { sarifFormatter } from './sarif.js';
import { tableFormatter } from './table.js';
import type { Formatter } from './types.js';

export type { Formatter, ReportContext } from './types.js';
export { renderGrid, type GridOptions } from './grid.js';
export { gate, parseExitCode, parseSeverityList, parseSeverityFilter } from './gate.js';
export { writeFileAtomic, writeReportText } from './write.js';

const FORMATTERS: readonly Formatter[] = [tableFormatter, jsonFormatter, sarifFormatter, junitFormatter];

export function formatNames(): string[] {
  return FORMATTERS.map((f) => f.name);
}

/**
 * The formatter by name. Every finding it renders carries a fingerprint: one the engine
 * set, or one filled here (withFingerprint), so every format shows the same identity.
 */
export function getFormatter(name: string): Formatter {
  const f = FORMATTERS.find((x) => x.name === name);
  if (!f) throw new UserError(`unknown output format "${name}" (expected ${formatNames().join(', ')})`, 'bad-option');
  return { name: f.name, description: f.description, format: (findings, ctx) => f.format(findings.map((x) => withFingerprint(x)), ctx) };
}
