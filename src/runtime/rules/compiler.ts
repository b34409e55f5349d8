/**
 * Compiles condition trees into JavaScript closures. One Compiler serves a whole rule set so
 * that every derived or transformed field gets one cache slot: it is extracted at most once
 * per event however many rules read it. Checks on an absent field are false (Falco's rule),
 * so `not (x = y)` holds when x is missing.
 */
import type { FieldValue, RuntimeEvent } from '../event.js';
import { exprText, LIST_OPS, type CompareOp, type Expr, type FieldExpr, type Modifier, type Value } from './ast.js';
import { ConditionError } from './errors.js';
import type { FieldDef, FieldRegistry, FieldType } from './fields.js';
import { compileGlob } from './glob.js';
import { compileNet, ipEquals, parseIp } from './ip.js';
import { compileRegex } from '../../util/regex.js';

type Scalar = string | number | boolean | bigint;
export type Extractor = (c: EvalContext) => FieldValue | undefined;
export type Predicate = (c: EvalContext) => boolean;

/** Per-event state: the event and the cache of derived field values (invalidated by `gen`). */
export class EvalContext {
  ev: RuntimeEvent = {};
  gen = 0;
  // Preallocated and dense: slots are written in any order, and a sparse JS array would
  // fall back to slow dictionary elements. Slots beyond the size are simply not cached.
  readonly vals: Array<FieldValue | undefined>;
  readonly marks: Float64Array;

  constructor(slots = 4096) {
    this.vals = new Array<FieldValue | undefined>(slots).fill(undefined);
    this.marks = new Float64Array(slots);
  }

  reset(ev: RuntimeEvent): void {
    this.ev = ev;
    this.gen++;
  }
}

export interface FieldUse {
  name: string;
  arg?: string;
  def?: FieldDef;
  pos: number;
}

const STRING_OPS = new Set<CompareOp>(['contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex', 'pmatch']);

function toStr(x: Scalar): string {
  return typeof x === 'string' ? x : String(x);
}

function toNum(x: Scalar): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (typeof x === 'boolean') return x ? 1 : 0;
  return parseNumber(x);
}

/** Decimal or 0x-hex integers and decimals; NaN otherwise. */
export function parseNumber(text: string): number {
  const t = text.trim();
  if (t === '') return NaN;
  if (/^-?0x[0-9a-f]+$/i.test(t)) return t.startsWith('-') ? -parseInt(t.slice(3), 16) : parseInt(t.slice(2), 16);
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : NaN;
}

function toBool(x: Scalar): boolean | undefined {
  if (typeof x === 'boolean') return x;
  if (typeof x === 'number' || typeof x === 'bigint') return x !== 0 && x !== 0n;
  const l = x.toLowerCase();
  return l === 'true' ? true : l === 'false' ? false : undefined;
}

function hexBytes(text: string, pos: number): string {
  if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw new ConditionError(`'${text}' is not a hex byte string`, pos, text);
  return Buffer.from(text, 'hex').toString('latin1');
}

function latin1(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function pathPrefix(prefixes: string[]): (s: string) => boolean {
  const list = prefixes.map((p) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p));
  return (s) => list.some((p) => s === p || (s.startsWith(p) && (p === '/' || s[p.length] === '/')));
}

/** Applies transformers to a value (element-wise for lists). */
function mapValue(v: FieldValue | undefined, f: (s: string) => string | undefined): FieldValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return (v as Array<string | number>).map((x) => f(String(x))).filter((x): x is string => x !== undefined);
  return f(String(v));
}

function b64decode(s: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, 'base64').toString('utf8');
}

/** What generated code needs to inline a check: the field read and the scalar test. */
interface CheckParts {
  /** Property to read directly (plain fields); otherwise call `get`. */
  key?: string;
  /**
   * For a derived field read by `key`: how to derive it when the event lacks the property
   * (the generated code reads the property inline and calls this only when it is absent).
   */
  derive?: { fn: NonNullable<FieldDef['derive']>; arg: string | undefined };
  get: Extractor;
  /** Absent for `exists`. */
  test?: (x: Scalar) => boolean;
  /**
   * The same test inlined for one JS type of value: `{ type: 'string', code: (v) => … }`
   * generates `typeof v === "string" ? code(v) : test(v)`. Must agree with `test`.
   */
  inline?: { type: 'string' | 'number' | 'boolean'; code: (v: string, ref: (x: unknown) => string) => string };
}

/** A condition compiled down to its checks, ready for code generation. */
export type Plan =
  | { k: 'const'; value: boolean }
  | { k: 'not'; child: Plan }
  | { k: 'and' | 'or'; children: Plan[] }
  | { k: 'pred'; pred: Predicate }
  | ({ k: 'check'; sig: string } & CheckParts);

/** "Not read yet" for the field locals of a bucket function. */
const UNREAD = Object.freeze({ unread: true });

type Reader = (key: string, derive: CheckParts['derive'], ref: (x: unknown) => string) => string;

/** `x` is the value read from the event; the derivation when it is absent. */
function orDerive(x: string, derive: CheckParts['derive'], ref: (x: unknown) => string): string {
  if (!derive) return '';
  return `, ${x} === undefined ? (${x} = ${ref(derive.fn)}(ev, ${derive.arg === undefined ? 'undefined' : JSON.stringify(derive.arg)})) : ${x}`;
}

/** Per-bucket knowledge: the bucket's evt.type, and locals memoizing checks that occur more than once. */
interface BucketEnv {
  /** Undefined: the bucket's events can have any type. */
  evtType: string | undefined;
  memo: Map<string, string>;
}

function emit(p: Plan, K: unknown[], read: Reader, env?: BucketEnv): string {
  const ref = (x: unknown): string => `K[${K.push(x) - 1}]`;
  switch (p.k) {
    case 'const':
      return p.value ? 'true' : 'false';
    case 'not':
      return `!${emit(p.child, K, read, env)}`;
    case 'and':
    case 'or':
      return `(${p.children.map((x) => emit(x, K, read, env)).join(p.k === 'and' ? ' && ' : ' || ')})`;
    case 'pred':
      return `${ref(p.pred)}(c)`;
    case 'check': {
      // Every event of a bucket has its evt.type (RuleSet routes by it): checks of evt.type
      // alone are constants there.
      if (env?.evtType !== undefined && p.key === 'evt.type' && !p.derive && p.test) return p.test(env.evtType) ? 'true' : 'false';
      const memo = env?.memo.get(p.sig);
      if (memo !== undefined) return `(${memo} !== U ? ${memo} : (${memo} = ${emitCheck(p, ref, read)}))`;
      return emitCheck(p, ref, read);
    }
  }
}

function emitCheck(p: Extract<Plan, { k: 'check' }>, ref: (x: unknown) => string, read: Reader): string {
  const get = p.key !== undefined ? read(p.key, p.derive, ref) : `${ref(p.get)}(c)`;
  if (!p.test) return `((v = ${get}) !== undefined && v !== null)`;
  const t = ref(p.test);
  const slow = `(typeof v === "object" ? (Array.isArray(v) && v.some(${t})) : ${t}(v))`;
  if (p.inline) return `((v = ${get}) !== undefined && v !== null && (typeof v === "${p.inline.type}" ? ${p.inline.code('v', ref)} : ${slow}))`;
  return `((v = ${get}) !== undefined && v !== null && ${slow})`;
}

export class Compiler {
  private readonly slots = new Map<string, number>();
  /** Fields the compiled conditions read, for `rules check` and for the unknown-field check. */
  readonly used: FieldUse[] = [];

  /** `inline: false` keeps every test a closure call (the reference the inlined code is tested against). */
  constructor(readonly registry: FieldRegistry, private readonly opts: { inline?: boolean } = {}) {}

  /** Resolves a field use; throws a ConditionError for an unknown or malformed field. */
  resolve(f: { name: string; arg?: string; pos: number }): FieldDef {
    const def = this.registry.lookup(f.name);
    if (!def) throw new ConditionError(`unknown field '${f.name}'`, f.pos, f.name, 'LOAD_UNKNOWN_FILTER');
    if (def.arg === 'required' && f.arg === undefined) throw new ConditionError(`field '${f.name}' needs an argument: ${f.name}[…]`, f.pos, f.name);
    if (def.arg === undefined && f.arg !== undefined) throw new ConditionError(`field '${f.name}' takes no argument`, f.pos, `${f.name}[${f.arg}]`);
    return def;
  }

  /** Throws a ConditionError for the first unknown field in the tree (before compiling). */
  checkFields(e: Expr): void {
    const visit = (f: FieldExpr): void => {
      if (f.kind === 'field') this.resolve(f);
      else f.args.forEach(visit);
    };
    const walk = (x: Expr): void => {
      if (x.kind === 'and' || x.kind === 'or') x.children.forEach(walk);
      else if (x.kind === 'not') walk(x.child);
      else if (x.kind === 'check') {
        visit(x.field);
        if (x.rhs.kind === 'field') visit(x.rhs.field);
      }
    };
    walk(e);
  }

  private slot(key: string): number {
    let s = this.slots.get(key);
    if (s === undefined) {
      s = this.slots.size;
      this.slots.set(key, s);
    }
    return s;
  }

  private cached(key: string, compute: Extractor): Extractor {
    const i = this.slot(key);
    return (c) => {
      if (c.marks[i] === c.gen) return c.vals[i];
      const v = compute(c);
      c.marks[i] = c.gen;
      c.vals[i] = v;
      return v;
    };
  }

  /** The extractor of a field expression and the type of what it yields. */
  extractor(f: FieldExpr): { get: Extractor; type: FieldType } {
    if (f.kind === 'field') {
      const def = this.resolve(f);
      this.used.push({ name: f.name, ...(f.arg !== undefined ? { arg: f.arg } : {}), def, pos: f.pos });
      const key = f.arg === undefined ? f.name : `${f.name}[${f.arg}]`;
      // A generated getter per field gives each field its own property-load inline cache
      // (one shared closure would see every key and go megamorphic). The key is JSON-quoted.
      if (!def.derive) return { get: plainGetter(key), type: def.type };
      const arg = f.arg;
      const own = plainGetter(key);
      const derive = def.derive;
      return {
        get: this.cached(key, (c) => {
          const v = own(c);
          return v !== undefined ? v : derive(c.ev, arg);
        }),
        type: def.type,
      };
    }
    const args = f.args.map((a) => this.extractor(a));
    const key = JSON.stringify([f.fn, f.literal ?? null, ...f.args.map((a) => (a.kind === 'field' ? `${a.name}[${a.arg ?? ''}]` : JSON.stringify(a)))]);
    const a0 = args[0]!.get;
    switch (f.fn) {
      case 'tolower':
        return { get: this.cached(key, (c) => mapValue(a0(c), (s) => s.toLowerCase())), type: 'string' };
      case 'toupper':
        return { get: this.cached(key, (c) => mapValue(a0(c), (s) => s.toUpperCase())), type: 'string' };
      case 'basename':
        return { get: this.cached(key, (c) => mapValue(a0(c), (s) => s.slice(s.lastIndexOf('/') + 1))), type: 'string' };
      case 'b64':
        return { get: this.cached(key, (c) => mapValue(a0(c), b64decode)), type: 'string' };
      case 'len':
        return {
          get: this.cached(key, (c) => {
            const v = a0(c);
            if (v === undefined || v === null) return undefined;
            return Array.isArray(v) ? v.length : String(v).length;
          }),
          type: 'number',
        };
      case 'concat':
        return {
          get: this.cached(key, (c) => {
            let out = '';
            for (const a of args) {
              const v = a.get(c);
              if (v === undefined || v === null) return undefined;
              out += Array.isArray(v) ? v.join('') : String(v);
            }
            return out;
          }),
          type: 'string',
        };
      case 'join': {
        const sep = f.literal ?? '';
        return {
          get: this.cached(key, (c) => {
            const parts: string[] = [];
            for (const a of args) {
              const v = a.get(c);
              if (v === undefined || v === null) continue;
              if (Array.isArray(v)) parts.push(...(v as Array<string | number>).map(String));
              else parts.push(String(v));
            }
            return parts.length ? parts.join(sep) : undefined;
          }),
          type: 'string',
        };
      }
      case 'getopt':
        // The option flags of a command line: `-c`, `-la` → ['-c', '-l', '-a'], `--long`.
        return {
          get: this.cached(key, (c) => {
            const v = a0(c);
            if (v === undefined || v === null) return undefined;
            const words = Array.isArray(v) ? (v as Array<string | number>).map(String) : String(v).split(/\s+/);
            const out: string[] = [];
            for (const w of words) {
              if (w === '--') break;
              if (w.startsWith('--') && w.length > 2) out.push(w.split('=')[0]!);
              else if (w.startsWith('-') && w.length > 1 && !/^-\d/.test(w)) for (const ch of w.slice(1)) out.push(`-${ch}`);
            }
            return out;
          }),
          type: 'list',
        };
    }
  }

  /**
   * Compiles a condition to one generated function per condition: and/or/not become JS
   * operators and plain field reads become literal property loads, so each rule's code is
   * monomorphic and inlinable (a tree of shared closures goes megamorphic across hundreds of
   * rules). Operator tests stay the closures built below, passed in as constants, except the
   * common ones on strings, numbers and booleans, which are inlined (see `inlineTest`).
   */
  compile(e: Expr): Predicate {
    return this.predicateOf(this.plan(e));
  }

  /** The compiled form of a condition, before code generation (see `compileBucket`). */
  plan(e: Expr): Plan {
    switch (e.kind) {
      case 'const':
        return { k: 'const', value: e.value };
      case 'macro':
        throw new ConditionError(`undefined macro '${e.name}'`, e.pos, e.name, 'LOAD_ERR_UNDEFINED_MACRO');
      case 'not':
        return { k: 'not', child: this.plan(e.child) };
      case 'and':
      case 'or':
        return { k: e.kind, children: e.children.map((x) => this.plan(x)) };
      case 'check': {
        this.lastParts = undefined;
        const pred = this.check(e);
        const parts = this.lastParts as CheckParts | undefined;
        if (!parts) return { k: 'pred', pred };
        // the check's text: macros repeat the same checks across rules (see compileBucket)
        return { k: 'check', sig: exprText(e), ...parts };
      }
    }
  }

  /** One generated function for one condition; plain fields are cached in the context's slots. */
  predicateOf(plan: Plan): Predicate {
    const consts: unknown[] = [];
    // Plain fields are read once per event into a slot: rules share most fields, and
    // property loads on big (dictionary-mode) event objects cost far more than a slot.
    const read: Reader = (key, derive, ref) => {
      const slot = this.slot(key);
      const x = `c.vals[${slot}]`;
      return `(c.marks[${slot}] === c.gen ? ${x} : (c.marks[${slot}] = c.gen, ${x} = ev[${JSON.stringify(key)}]${orDerive(x, derive, ref)}))`;
    };
    const src = emit(plan, consts, read);
    // Generated from our own tree: field keys are JSON-quoted literals, every other constant is K[i].
    const make = new Function('K', `"use strict"; return function rule(c) { const ev = c.ev; let v; return ${src}; };`) as (k: unknown[]) => Predicate;
    return make(consts);
  }

  /**
   * One generated function for a list of conditions (the rules of one evt.type bucket, in
   * load order): each plain field is a local variable of that function, read from the
   * event at most once (lazily: a field no evaluated test needs is never loaded), with no
   * per-rule call and no slot bookkeeping. `first` returns the index of the first condition
   * that holds (-1 if none); `all` pushes the index of every one that holds to `out`.
   */
  compileBucket(plans: Plan[], evtType?: string): { first: (c: EvalContext) => number; all: (c: EvalContext, out: number[]) => void } {
    const consts: unknown[] = [UNREAD];
    // checks that occur more than once in the bucket (macros such as open_read, container)
    // are evaluated once per event into a local
    const seen = new Map<string, number>();
    const count = (p: Plan): void => {
      if (p.k === 'check') seen.set(p.sig, (seen.get(p.sig) ?? 0) + 1);
      else if (p.k === 'not') count(p.child);
      else if (p.k === 'and' || p.k === 'or') p.children.forEach(count);
    };
    plans.forEach(count);
    const memo = new Map<string, string>();
    for (const [sig, n] of seen) if (n > 1) memo.set(sig, `m${memo.size}`);
    const env: BucketEnv = { evtType, memo };
    const locals = new Map<string, string>();
    const read: Reader = (key, derive, ref) => {
      let l = locals.get(key);
      if (l === undefined) {
        l = `f${locals.size}`;
        locals.set(key, l);
      }
      return `(${l} !== U ? ${l} : (${l} = ev[${JSON.stringify(key)}]${orDerive(l, derive, ref)}))`;
    };
    const conds = plans.map((p) => emit(p, consts, read, env));
    const decl = [...locals.values(), ...memo.values()].map((l) => `${l} = U`).join(', ');
    const head = `const ev = c.ev; const U = K[0]; let v${decl ? `, ${decl}` : ''};`;
    const first = `${head}\n${conds.map((x, i) => `if (${x}) return ${i};`).join('\n')}\nreturn -1;`;
    const all = `${head}\n${conds.map((x, i) => `if (${x}) out.push(${i});`).join('\n')}`;
    const make = new Function('K', `"use strict"; return [function bucketFirst(c) { ${first} }, function bucketAll(c, out) { ${all} }];`) as
      (k: unknown[]) => [(c: EvalContext) => number, (c: EvalContext, out: number[]) => void];
    const [f, a] = make(consts);
    return { first: f, all: a };
  }

  private lastParts: CheckParts | undefined;

  private check(e: Extract<Expr, { kind: 'check' }>): Predicate {
    const { get, type } = this.extractor(e.field);
    // Plain fields, and derived ones (read as a property first, derived only when absent), are
    // read by key in the generated code; transformers go through their extractor.
    const fdef = e.field.kind === 'field' ? this.resolve(e.field) : undefined;
    const key = e.field.kind === 'field' ? (e.field.arg === undefined ? e.field.name : `${e.field.name}[${e.field.arg}]`) : undefined;
    const derived = fdef?.derive && e.field.kind === 'field' ? { derive: { fn: fdef.derive, arg: e.field.arg } } : {};
    const op = e.op;
    if (op === 'exists') {
      this.lastParts = { ...(key !== undefined ? { key } : {}), ...derived, get };
      return (c) => {
        const v = get(c);
        return v !== undefined && v !== null;
      };
    }
    if (type !== 'string' && type !== 'any' && type !== 'bytes' && type !== 'list' && type !== 'ipaddr' && STRING_OPS.has(op)) {
      throw new ConditionError(`operator '${op}' does not apply to ${type} field '${fieldLabel(e.field)}'`, e.pos, op);
    }
    if (op === 'intersects') {
      const test = this.listTest('in', type, e.rhs.kind === 'list' ? e.rhs.values : []);
      return (c) => {
        const v = get(c);
        if (v === undefined || v === null) return false;
        return Array.isArray(v) ? (v as Scalar[]).some(test) : test(v as Scalar);
      };
    }
    let test: (x: Scalar) => boolean;
    if (e.rhs.kind === 'field') {
      const rget = this.extractor(e.rhs.field).get;
      return this.withModifier(get, e.modifier ?? 'anyof', (x, c) => {
        const r = rget(c);
        if (r === undefined || r === null) return false;
        const rs = Array.isArray(r) ? (r as Scalar[]) : [r as Scalar];
        return rs.some((y) => dynamicTest(op, type, x, y));
      });
    }
    if (e.rhs.kind === 'list') test = this.listTest(op, type, e.rhs.values);
    else if (e.rhs.kind === 'value') test = this.valueTest(op, type, e.rhs.value);
    else throw new ConditionError(`operator '${op}' needs a value`, e.pos, op);
    const modifier: Modifier = e.modifier ?? (type === 'list' && op === 'in' ? 'allof' : 'anyof');
    if (!e.modifier && modifier === 'anyof') {
      const inline = this.opts.inline === false ? undefined : inlineTest(op, type, e.rhs.kind === 'list' ? e.rhs.values : [e.rhs.value]);
      this.lastParts = { ...(key !== undefined ? { key } : {}), ...derived, get, test, ...(inline ? { inline } : {}) };
      return (c) => {
        const v = get(c);
        if (v === undefined || v === null) return false;
        if (typeof v === 'object') return Array.isArray(v) ? (v as Scalar[]).some(test) : false;
        return test(v);
      };
    }
    return this.withModifier(get, modifier, (x) => test(x));
  }

  private withModifier(get: Extractor, modifier: Modifier, test: (x: Scalar, c: EvalContext) => boolean): Predicate {
    return (c) => {
      const v = get(c);
      if (v === undefined || v === null) return false;
      if (!Array.isArray(v)) return test(v as Scalar, c);
      const arr = v as Scalar[];
      if (modifier === 'anyof') return arr.some((x) => test(x, c));
      if (modifier === 'allof') return arr.length > 0 && arr.every((x) => test(x, c));
      let n = 0;
      for (const x of arr) if (test(x, c) && ++n > 1) return false;
      return n === 1;
    };
  }

  private listTest(op: CompareOp, type: FieldType, values: Value[]): (x: Scalar) => boolean {
    if (op === 'pmatch') {
      const m = pathPrefix(values.map((v) => v.text));
      return (x) => m(toStr(x));
    }
    if (op !== 'in') {
      // `=` and friends against a one-item list: compare against that item.
      if (values.length === 1) return this.valueTest(op, type, values[0]!);
      throw new ConditionError(`operator '${op}' takes a single value, not a list`, values[0]?.pos ?? 0, op);
    }
    switch (type) {
      case 'number': {
        const set = new Set(values.map((v) => this.number(v)));
        return (x) => set.has(toNum(x));
      }
      case 'bool': {
        const set = new Set(values.map((v) => this.bool(v)));
        return (x) => {
          const b = toBool(x);
          return b !== undefined && set.has(b);
        };
      }
      case 'ipnet': {
        const nets = values.map((v) => this.net(v));
        return (x) => nets.some((n) => n(toStr(x)));
      }
      case 'ipaddr': {
        const texts = values.map((v) => v.text);
        const set = new Set(texts);
        return (x) => {
          const s = toStr(x);
          return set.has(s) || texts.some((t) => ipEquals(s, t));
        };
      }
      case 'any': {
        const set = new Set(values.map((v) => v.text));
        const nums = new Set(values.map((v) => parseNumber(v.text)).filter((n) => !Number.isNaN(n)));
        return (x) => (typeof x === 'number' || typeof x === 'bigint' ? nums.has(Number(x)) : set.has(toStr(x)));
      }
      default: {
        const set = new Set(values.map((v) => v.text));
        return (x) => set.has(typeof x === 'string' ? x : String(x));
      }
    }
  }

  private number(v: Value): number {
    const n = parseNumber(v.text);
    if (Number.isNaN(n)) throw new ConditionError(`'${v.text}' is not a number`, v.pos, v.text);
    return n;
  }

  private bool(v: Value): boolean {
    const b = toBool(v.text);
    if (b === undefined) throw new ConditionError(`'${v.text}' is not a boolean (true or false)`, v.pos, v.text);
    return b;
  }

  private net(v: Value): (ip: string) => boolean {
    const n = compileNet(v.text);
    if (!n) throw new ConditionError(`'${v.text}' is not an IP network`, v.pos, v.text);
    return n;
  }

  private valueTest(op: CompareOp, type: FieldType, v: Value): (x: Scalar) => boolean {
    const r = v.text;
    if (type === 'number') {
      const n = this.number(v);
      return numberTest(op, n, v);
    }
    if (type === 'bool') {
      const b = this.bool(v);
      if (op === '=' || op === '==') return (x) => toBool(x) === b;
      if (op === '!=') return (x) => {
        const y = toBool(x);
        return y !== undefined && y !== b;
      };
      throw new ConditionError(`operator '${op}' does not apply to a boolean field`, v.pos, op);
    }
    if (type === 'ipnet' && (op === '=' || op === '==' || op === '!=')) {
      const n = this.net(v);
      return op === '!=' ? (x) => !n(toStr(x)) : (x) => n(toStr(x));
    }
    if (type === 'ipaddr' && (op === '=' || op === '==' || op === '!=')) {
      if (!parseIp(r)) throw new ConditionError(`'${r}' is not an IP address`, v.pos, r);
      return op === '!=' ? (x) => !ipEquals(toStr(x), r) : (x) => ipEquals(toStr(x), r);
    }
    if (type === 'any') {
      const n = parseNumber(r);
      const st = stringTest(op, r, v);
      if (Number.isNaN(n) || STRING_OPS.has(op)) return st;
      const nt = numberTest(op, n, v);
      return (x) => (typeof x === 'number' || typeof x === 'bigint' ? nt(x) : st(x));
    }
    return stringTest(op, r, v);
  }
}

const getters = new Map<string, Extractor>();
function plainGetter(key: string): Extractor {
  let g = getters.get(key);
  if (!g) {
    g = new Function('c', `return c.ev[${JSON.stringify(key)}];`) as Extractor;
    getters.set(key, g);
  }
  return g;
}

/**
 * The common tests as inline code for one JS type of value, with exactly the semantics of
 * the closures `valueTest`/`listTest` build for that type (a value of any other type takes
 * the closure). Undefined when nothing is inlined.
 */
function inlineTest(op: CompareOp, type: FieldType, values: Value[]): CheckParts['inline'] {
  const list = op === 'in';
  if (!list && values.length !== 1) return undefined;
  const lit = values[0]?.text ?? '';
  if (type === 'string' || type === 'any') {
    if (list) {
      const set = new Set(values.map((x) => x.text));
      return { type: 'string', code: (v, ref) => `${ref(set)}.has(${v})` };
    }
    const q = JSON.stringify(lit);
    switch (op) {
      case '=':
      case '==':
        return { type: 'string', code: (v) => `${v} === ${q}` };
      case '!=':
        return { type: 'string', code: (v) => `${v} !== ${q}` };
      case 'startswith':
        return { type: 'string', code: (v) => `${v}.startsWith(${q})` };
      case 'endswith':
        return { type: 'string', code: (v) => `${v}.endsWith(${q})` };
      case 'contains':
        return { type: 'string', code: (v) => `${v}.includes(${q})` };
      default:
        return undefined;
    }
  }
  if (type === 'number') {
    if (list) {
      const nums = values.map((x) => parseNumber(x.text));
      if (nums.some((n) => Number.isNaN(n))) return undefined;
      const set = new Set(nums);
      return { type: 'number', code: (v, ref) => `${ref(set)}.has(${v})` };
    }
    const n = parseNumber(lit);
    if (!Number.isFinite(n)) return undefined;
    const q = JSON.stringify(n);
    switch (op) {
      case '=':
      case '==':
        return { type: 'number', code: (v) => `${v} === ${q}` };
      case '!=':
        return { type: 'number', code: (v) => `(${v} === ${v} && ${v} !== ${q})` };
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { type: 'number', code: (v) => `${v} ${op} ${q}` };
      default:
        return undefined;
    }
  }
  if (type === 'bool' && !list && (op === '=' || op === '==' || op === '!=')) {
    const b = toBool(lit);
    if (b === undefined) return undefined;
    return { type: 'boolean', code: (v) => `${v} ${op === '!=' ? '!==' : '==='} ${b}` };
  }
  return undefined;
}

function fieldLabel(f: FieldExpr): string {
  return f.kind === 'field' ? f.name : `${f.fn}(…)`;
}

function numberTest(op: CompareOp, n: number, v: Value): (x: Scalar) => boolean {
  switch (op) {
    case '=':
    case '==':
      return (x) => toNum(x) === n;
    case '!=':
      return (x) => {
        const y = toNum(x);
        return !Number.isNaN(y) && y !== n;
      };
    case '<':
      return (x) => toNum(x) < n;
    case '<=':
      return (x) => toNum(x) <= n;
    case '>':
      return (x) => toNum(x) > n;
    case '>=':
      return (x) => toNum(x) >= n;
    default:
      throw new ConditionError(`operator '${op}' does not apply to a number`, v.pos, op);
  }
}

function stringTest(op: CompareOp, r: string, v: Value): (x: Scalar) => boolean {
  switch (op) {
    case '=':
    case '==':
      return (x) => (typeof x === 'string' ? x : String(x)) === r;
    case '!=':
      return (x) => (typeof x === 'string' ? x : String(x)) !== r;
    case '<':
      return (x) => toStr(x) < r;
    case '<=':
      return (x) => toStr(x) <= r;
    case '>':
      return (x) => toStr(x) > r;
    case '>=':
      return (x) => toStr(x) >= r;
    case 'contains':
      return (x) => toStr(x).includes(r);
    case 'icontains': {
      const l = r.toLowerCase();
      return (x) => toStr(x).toLowerCase().includes(l);
    }
    case 'startswith':
      return (x) => toStr(x).startsWith(r);
    case 'endswith':
      return (x) => toStr(x).endsWith(r);
    case 'bcontains': {
      const b = hexBytes(r, v.pos);
      return (x) => latin1(toStr(x)).includes(b);
    }
    case 'bstartswith': {
      const b = hexBytes(r, v.pos);
      return (x) => latin1(toStr(x)).startsWith(b);
    }
    case 'glob': {
      const g = compileGlob(r);
      return (x) => g(toStr(x));
    }
    case 'iglob': {
      const g = compileGlob(r, true);
      return (x) => g(toStr(x));
    }
    case 'regex': {
      let m: (s: string) => boolean;
      try {
        m = compileRegex(r);
      } catch (err) {
        throw new ConditionError(err instanceof Error ? err.message : String(err), v.pos, r);
      }
      return (x) => m(toStr(x));
    }
    case 'pmatch': {
      const m = pathPrefix([r]);
      return (x) => m(toStr(x));
    }
    case 'in':
      return (x) => toStr(x) === r;
    default:
      throw new ConditionError(`operator '${op}' is not valid here`, v.pos, op);
  }
}

/** Comparison of two event values (for `val()`), typed by the left-hand field. */
function dynamicTest(op: CompareOp, type: FieldType, x: Scalar, y: Scalar): boolean {
  const v: Value = { text: toStr(y), quoted: true, pos: 0 };
  if (type === 'number') {
    const n = toNum(y);
    return !Number.isNaN(n) && numberTest(op, n, v)(x);
  }
  if (LIST_OPS.has(op)) return toStr(x) === v.text;
  try {
    return stringTest(op, v.text, v)(x);
  } catch {
    return false;
  }
}

/**
 * The event types a condition can match, or null for "any type" — used to index rules by
 * evt.type. Conservative: `not` and non-evt.type checks widen to any type.
 */
export function evtTypesOf(e: Expr): Set<string> | null {
  switch (e.kind) {
    case 'check':
      if (e.field.kind === 'field' && e.field.name === 'evt.type' && e.field.arg === undefined && !e.modifier) {
        if ((e.op === '=' || e.op === '==') && e.rhs.kind === 'value') return new Set([e.rhs.value.text]);
        if (e.op === 'in' && e.rhs.kind === 'list') return new Set(e.rhs.values.map((v) => v.text));
      }
      return null;
    case 'and': {
      let acc = null as Set<string> | null;
      for (const c of e.children) {
        const s = evtTypesOf(c);
        if (s === null) continue;
        const prev: Set<string> | null = acc;
        acc = prev === null ? s : new Set<string>([...prev].filter((x) => s.has(x)));
      }
      return acc;
    }
    case 'or': {
      const acc = new Set<string>();
      for (const c of e.children) {
        const s = evtTypesOf(c);
        if (s === null) return null;
        s.forEach((x) => acc.add(x));
      }
      return acc;
    }
    case 'const':
      return e.value ? null : new Set();
    default:
      return null;
  }
}
