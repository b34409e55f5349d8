/**
 * Kubernetes label selectors (matchLabels + matchExpressions), compiled once into a
 * predicate. Invalid selectors throw a UserError naming the policy.
 */
import { UserError } from '../../util/errors.js';

export type Labels = Readonly<Record<string, string>>;
export type LabelMatcher = (labels: Labels) => boolean;

export const MATCH_ALL: LabelMatcher = () => true;

/** Compiled matchers by selector text: equal selectors share one matcher (and its caches). */
const compiled = new Map<string, LabelMatcher>();
const MAX_CACHED = 50_000;

export function compileSelector(sel: unknown, where: string): LabelMatcher {
  if (sel === null || sel === undefined) return MATCH_ALL;
  const key = JSON.stringify(sel);
  const hit = compiled.get(key);
  if (hit) return hit;
  const m = compileUncached(sel, where);
  if (compiled.size >= MAX_CACHED) compiled.clear();
  compiled.set(key, m);
  return m;
}

function compileUncached(sel: unknown, where: string): LabelMatcher {
  if (typeof sel !== 'object' || Array.isArray(sel)) throw new UserError(`${where}: label selector must be a mapping`, 'bad-selector');
  const s = sel as { matchLabels?: unknown; matchExpressions?: unknown };
  const tests: LabelMatcher[] = [];
  if (s.matchLabels !== undefined && s.matchLabels !== null) {
    if (typeof s.matchLabels !== 'object' || Array.isArray(s.matchLabels)) {
      throw new UserError(`${where}: matchLabels must be a mapping`, 'bad-selector');
    }
    for (const [k, v] of Object.entries(s.matchLabels as Record<string, unknown>)) {
      const want = v === null || v === undefined ? '' : String(v);
      tests.push((l) => l[k] === want);
    }
  }
  if (s.matchExpressions !== undefined && s.matchExpressions !== null) {
    if (!Array.isArray(s.matchExpressions)) throw new UserError(`${where}: matchExpressions must be a list`, 'bad-selector');
    for (const e of s.matchExpressions as Record<string, unknown>[]) tests.push(compileExpression(e, where));
  }
  if (tests.length === 0) return MATCH_ALL;
  if (tests.length === 1) return tests[0]!;
  return (l) => tests.every((t) => t(l));
}

function compileExpression(e: Record<string, unknown>, where: string): LabelMatcher {
  const key = typeof e?.key === 'string' ? e.key : '';
  const op = typeof e?.operator === 'string' ? e.operator : '';
  const values = Array.isArray(e?.values) ? (e.values as unknown[]).map(String) : [];
  if (!key) throw new UserError(`${where}: matchExpressions entry without key`, 'bad-selector');
  switch (op) {
    case 'In':
      if (values.length === 0) throw new UserError(`${where}: operator In needs values`, 'bad-selector');
      return (l) => key in l && values.includes(l[key]!);
    case 'NotIn':
      if (values.length === 0) throw new UserError(`${where}: operator NotIn needs values`, 'bad-selector');
      return (l) => !(key in l) || !values.includes(l[key]!);
    case 'Exists':
      if (values.length > 0) throw new UserError(`${where}: operator Exists takes no values`, 'bad-selector');
      return (l) => key in l;
    case 'DoesNotExist':
      if (values.length > 0) throw new UserError(`${where}: operator DoesNotExist takes no values`, 'bad-selector');
      return (l) => !(key in l);
    default:
      throw new UserError(`${where}: unknown selector operator ${JSON.stringify(op)}`, 'bad-selector');
  }
}

/** Whether a selector is present but selects everything ({}), as opposed to absent. */
export function isEmptySelector(sel: unknown): boolean {
  if (!sel || typeof sel !== 'object') return false;
  const s = sel as { matchLabels?: Record<string, unknown>; matchExpressions?: unknown[] };
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}
