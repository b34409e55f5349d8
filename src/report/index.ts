/** Output formats, registered in one place: a new format is one file plus one line here. */
import { UserError } from '../util/errors.js';
import { jsonFormatter } from './json.js';
import { junitFormatter } from './junit.js';
import { sarifFormatter } from './sarif.js';
import { tableFormatter } from './table.js';
import type { Formatter } from './types.js';

export type { Formatter, ReportContext } from './types.js';

const FORMATTERS: readonly Formatter[] = [tableFormatter, jsonFormatter, sarifFormatter, junitFormatter];

export function formatNames(): string[] {
  return FORMATTERS.map((f) => f.name);
}

export function getFormatter(name: string): Formatter {
  const f = FORMATTERS.find((x) => x.name === name);
  if (!f) throw new UserError(`unknown output format "${name}" (expected ${formatNames().join(', ')})`, 'bad-option');
  return f;
}
