/**
 * Evaluates criteria over registered fields. A condition holds when some extracted value
 * satisfies it; negative operators (notEquals, notIn, notMatches) and `absent` also hold
 * when the field has no value at all (an unset readOnlyRootFilesystem is "not true").
 */
import { getField, type EvalContext, type FieldHit } from './fields.js';
import type { Criterion, Operator } from './types.js';

export interface CriterionMatch {
  holds: boolean;
  /** The values that made it hold (for the finding's position and detail). */
  hits: FieldHit[];
}

const regexCache = new Map<string, RegExp>();
const regex = (src: string): RegExp => {
  let r = regexCache.get(src);
  if (!r) regexCache.set(src, (r = new RegExp(src)));
  return r;
};

const eq = (a: unknown, b: unknown): boolean => a === b || (a !== null && b !== null && typeof a !== 'object' && String(a) === String(b));

function test(op: Operator, actual: unknown, expected: unknown): boolean {
  switch (op) {
    case 'exists': return true;
    case 'absent': return false;
    case 'equals': return eq(actual, expected);
    case 'notEquals': return !eq(actual, expected);
    case 'in': return Array.isArray(expected) && expected.some((e) => eq(actual, e));
    case 'notIn': return !(Array.isArray(expected) && expected.some((e) => eq(actual, e)));
    case 'matches': return regex(String(expected)).test(String(actual));
    case 'notMatches': return !regex(String(expected)).test(String(actual));
    case 'gt': return Number(actual) > Number(expected);
    case 'gte': return Number(actual) >= Number(expected);
    case 'lt': return Number(actual) < Number(expected);
    case 'lte': return Number(actual) <= Number(expected);
  }
}

/** The operator with its expected value bound (regexes compiled once). */
function predicateFor(op: Operator, expected: unknown): (actual: unknown) => boolean {
  switch (op) {
    case 'matches': {
      const re = regex(String(expected));
      return (a) => re.test(String(a));
    }
    case 'notMatches': {
      const re = regex(String(expected));
      return (a) => !re.test(String(a));
    }
    case 'in':
    case 'notIn': {
      const list = Array.isArray(expected) ? expected : [];
      // Same equality as eq(): identity, or equal string forms of non-null scalars.
      const set = new Set(list.filter((e) => e !== null && typeof e !== 'object').map(String));
      const hasNull = list.includes(null);
      const inSet = (a: unknown) => (a === null ? hasNull : typeof a !== 'object' && set.has(String(a)));
      return op === 'in' ? inSet : (a) => !inSet(a);
    }
    default:
      return (a) => test(op, a, expected);
  }
}

const HOLDS_WHEN_EMPTY = new Set<Operator>(['absent', 'notEquals', 'notIn', 'notMatches']);

export function evaluateCriterion(c: Criterion, ctx: EvalContext): CriterionMatch {
  if ('all' in c) {
    const hits: FieldHit[] = [];
    for (const sub of c.all) {
      const m = evaluateCriterion(sub, ctx);
      if (!m.holds) return { holds: false, hits: [] };
      hits.push(...m.hits);
    }
    return { holds: true, hits };
  }
  if ('any' in c) {
    const hits: FieldHit[] = [];
    let holds = false;
    for (const sub of c.any) {
      const m = evaluateCriterion(sub, ctx);
      if (m.holds) {
        holds = true;
        hits.push(...m.hits);
      }
    }
    return { holds, hits };
  }
  if ('not' in c) return { holds: !evaluateCriterion(c.not, ctx).holds, hits: [] };
  const field = getField(c.field);
  if (!field) throw new Error(`unregistered field ${c.field}`); // the loader validates, so this is a bug
  const values = field.extract(ctx);
  if (values === undefined) return { holds: false, hits: [] };
  if (values.length === 0) return { holds: HOLDS_WHEN_EMPTY.has(c.op), hits: [] };
  if (c.op === 'absent') return { holds: false, hits: [] };
  const hits = values.filter((h) => test(c.op, h.value, c.value));
  return { holds: hits.length > 0, hits };
}

export type CompiledCriterion = (ctx: EvalContext) => CriterionMatch;

const NO_MATCH: CriterionMatch = { holds: false, hits: [] };
const EMPTY_MATCH: CriterionMatch = { holds: true, hits: [] };

/** Resolves fields and operators once; the evaluator calls the result per object. */
export function compileCriterion(c: Criterion): CompiledCriterion {
  if ('all' in c) {
    const subs = c.all.map(compileCriterion);
    return (ctx) => {
      let hits: FieldHit[] | undefined;
      for (const sub of subs) {
        const m = sub(ctx);
        if (!m.holds) return NO_MATCH;
        if (m.hits.length) (hits ??= []).push(...m.hits);
      }
      return hits ? { holds: true, hits } : EMPTY_MATCH;
    };
  }
  if ('any' in c) {
    const subs = c.any.map(compileCriterion);
    return (ctx) => {
      let hits: FieldHit[] | undefined;
      let holds = false;
      for (const sub of subs) {
        const m = sub(ctx);
        if (m.holds) {
          holds = true;
          if (m.hits.length) (hits ??= []).push(...m.hits);
        }
      }
      return holds ? (hits ? { holds, hits } : EMPTY_MATCH) : NO_MATCH;
    };
  }
  if ('not' in c) {
    const sub = compileCriterion(c.not);
    return (ctx) => (sub(ctx).holds ? NO_MATCH : EMPTY_MATCH);
  }
  const field = getField(c.field);
  if (!field) throw new Error(`unregistered field ${c.field}`);
  const { op, value } = c;
  const whenEmpty = HOLDS_WHEN_EMPTY.has(op) ? EMPTY_MATCH : NO_MATCH;
  const predicate = predicateFor(op, value);
  return (ctx) => {
    const values = field.extract(ctx);
    if (values === undefined) return NO_MATCH;
    if (values.length === 0) return whenEmpty;
    if (op === 'absent') return NO_MATCH;
    let hits: FieldHit[] | undefined;
    for (const h of values) if (predicate(h.value)) (hits ??= []).push(h);
    return hits ? { holds: true, hits } : NO_MATCH;
  };
}

/** Field names a criterion uses (the loader validates them; the evaluator picks the target). */
export function fieldsOf(c: Criterion): string[] {
  if ('all' in c) return c.all.flatMap(fieldsOf);
  if ('any' in c) return c.any.flatMap(fieldsOf);
  if ('not' in c) return fieldsOf(c.not);
  return [c.field];
}
