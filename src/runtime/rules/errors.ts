import { UserError } from '../../util/errors.js';

/** Where a problem sits: the rules file, its line, and the item (rule/macro/list) if any. */
export interface RuleLocation {
  file: string;
  line?: number;
  itemType?: 'rule' | 'macro' | 'list' | 'exception' | 'required_engine_version' | 'required_plugin_versions' | 'file';
  itemName?: string;
}

/** One load error or warning, as `rules check --format json` prints it. */
export interface RuleDiagnostic extends RuleLocation {
  code: string;
  message: string;
  /** The offending token of a condition, when there is one. */
  token?: string;
}

export function describeDiagnostic(d: RuleDiagnostic): string {
  const where = d.line ? `${d.file}:${d.line}` : d.file;
  const item = d.itemName !== undefined ? ` ${d.itemType ?? 'item'} "${d.itemName}":` : '';
  return `${where}:${item} ${d.message}`;
}

/** A rules file that does not load. The message is one line: file, line, item and token. */
export class RuleLoadError extends UserError {
  constructor(readonly diagnostics: RuleDiagnostic[]) {
    const first = diagnostics[0];
    const more = diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more errors)` : '';
    super(`${first ? describeDiagnostic(first) : 'rules failed to load'}${more}`, 'bad-rules');
    this.name = 'RuleLoadError';
  }
}

/** A condition that does not parse or compile; `pos` is the offset in the condition text. */
export class ConditionError extends Error {
  constructor(
    message: string,
    readonly pos: number,
    readonly token: string | undefined,
    readonly code: string = 'LOAD_ERR_COMPILE_CONDITION',
  ) {
    super(message);
    this.name = 'ConditionError';
  }
}
