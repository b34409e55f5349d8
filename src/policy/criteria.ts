/**
 * Criteria over registered fields, compiled once into closures. A condition holds when some
 * extracted value satisfies it; negative operators (notEquals, notIn, notMatches) and
 * `absent` also hold when the field has no value at all (an unset readOnlyRootFilesystem is
 * "not true"). A field that does not apply to the subject (extract → undefined) makes every
 * condition over it false. This is the only evaluator: every stage has these semantics.
 */
import { posix } from 'node:path';
import { compileRegex } from '../util/regex.js';
import type { FieldDef, FieldHit, FieldRegistry } from './fields.js';
import type { Criterion, Operator } from './types.js';

export interface CriterionMatch {
  holds: boolean;
  /** The values that made it hold (for the finding's position and detail). */
  hits: FieldHit[];
}

export type CompiledCriterion<C> = (ctx: C) => CriterionMatch;

/**
 * Field values already extracted in the current evaluation, per context (withFieldMemo).
 * Policies share fields (fifty deny-lists all read container.image), and an extractor
 * allocates its hits and paths each time: at admission that garbage was most of a review's.
 * Scoped to one synchronous evaluation, so a context object reused later (a runtime event
 * buffer) never answers from an old value.
 */
let memo: Map<unknown, Map<FieldDef<any>, readonly FieldHit[] | undefined>> | undefined;

/** Runs `fn` (one evaluation over contexts that do not change during it) with field values extracted once per context. */
export function withFieldMemo<T>(fn: () => T): T {
  const outer = memo;
  memo = new Map();
  try {
    return fn();
  } finally {
    memo = outer;
  }
}

function extract<C>(field: FieldDef<C>, ctx: C): readonly FieldHit[] | undefined {
  if (!memo) return field.extract(ctx);
  let byField = memo.get(ctx);
  if (!byField) memo.set(ctx, (byField = new Map()));
  if (byField.has(field)) return byField.get(field);
  const values = field.extract(ctx);
  byField.set(field, values);
  return values;
}

const eq = (a: unknown, b: unknown): boolean => a === b || (a !== null && b !== null && typeof a !== 'object' && String(a) === String(b));

/** `path` is `dir` or beneath it (both normalized; `/` covers everything absolute). */
export function isUnder(path: string, dir: string): boolean {
  const p = posix.normalize(path);
  const d = posix.normalize(dir).replace(/\/$/, '') || '/';
  return d === '/' || p === d || p.startsWith(`${d}/`);
}

/** The operator with its expected value bound (regexes compiled once, on RE2). */
export function predicateFor(op: Operator, expected: unknown): (actual: unknown) => boolean {
  switch (op) {
    case 'exists': return () => true;
    case 'absent': return () => false;
    case 'equals': return (a) => eq(a, expected);
    case 'notEquals': return (a) => !eq(a, expected);
    case 'matches': {
      const re = compileRegex(String(expected), { full: false });
      return (a) => re(String(a));
    }
    case 'notMatches': {
      const re = compileRegex(String(expected), { full: false });
      return (a) => !re(String(a));
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
    case 'under': {
      const dirs = (Array.isArray(expected) ? expected : [expected]).map(String);
      return (a) => dirs.some((d) => isUnder(String(a), d));
    }
    case 'gt': { const n = Number(expected); return (a) => Number(a) > n; }
    case 'gte': { const n = Number(expected); return (a) => Number(a) >= n; }
    case 'lt': { const n = Number(expected); return (a) => Number(a) < n; }
    case 'lte': { const n = Number(expected); return (a) => Number(a) <= n; }
  }
}

const HOLDS_WHEN_EMPTY = new Set<Operator>(['absent', 'notEquals', 'notIn', 'notMatches']);
const NO_MATCH: CriterionMatch = Object.freeze({ holds: false, hits: [] }) as CriterionMatch;
const EMPTY_MATCH: CriterionMatch = Object.freeze({ holds: true, hits: [] }) as CriterionMatch;

/** Resolves fields and operators once; the evaluator calls the result per node. */
export function compileCriterion<C>(c: Criterion, fields: FieldRegistry<C>): CompiledCriterion<C> {
  if ('all' in c) {
    const subs = c.all.map((s) => compileCriterion(s, fields));
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
    const subs = c.any.map((s) => compileCriterion(s, fields));
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
    const sub = compileCriterion(c.not, fields);
    return (ctx) => (sub(ctx).holds ? NO_MATCH : EMPTY_MATCH);
  }
  const field: FieldDef<C> | undefined = fields.get(c.field);
  if (!field) throw new Error(`unregistered field ${c.field}`); // the pack loader validates, so this is a bug
  const { op, value } = c;
  const whenEmpty = HOLDS_WHEN_EMPTY.has(op) ? EMPTY_MATCH : NO_MATCH;
  const predicate = predicateFor(op, value);
  return (ctx) => {
    const values = extract(field, ctx);
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
