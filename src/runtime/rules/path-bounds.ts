/**
 * Path bounds of open events: from a rule set, a superset of the open paths any of its
 * rules can match, per access mode. The sensor turns the bounds into an in-kernel filter
 * so that opens no loaded rule can match never leave the kernel (the bulk of a host's
 * opens: libraries, caches, scratch files).
 *
 * Soundness contract with the filter (`alwaysEmitted`): every open whose raw path is not
 * plainly canonical (relative, holding "..", "/.", "//", a trailing slash, or 200 bytes or
 * longer) is emitted whatever the bounds say. For the other paths fd.name = fd.nameraw =
 * the raw path, so conditions on either bound the same string. A bound is derived by
 * abstract evaluation: for an open event e and condition C, C(e) ⇒ path(e) ∈ bound(C).
 * Anything not understood bounds nothing ('all').
 */
import type { Expr, FieldExpr, Rhs } from './ast.js';
import type { CompiledRule } from './loader.js';

export type OpenAccess = 'read' | 'write' | 'readwrite';
export const OPEN_ACCESSES: readonly OpenAccess[] = ['read', 'write', 'readwrite'];

/** Event types the sensor gives open records. */
export const OPEN_EVENT_TYPES: ReadonlySet<string> = new Set(['open', 'openat', 'openat2', 'creat']);

/** Paths one of whose atoms holds; an empty set of atoms bounds to nothing. */
export interface PathAtoms {
  exact: Set<string>;
  prefix: Set<string>;
  /** fd.directory equals one of these. */
  dir: Set<string>;
  /** fd.filename equals one of these. */
  base: Set<string>;
  suffix: Set<string>;
  /** fd.name contains one of these (at most SUFFIX_WINDOW bytes each). */
  contains: Set<string>;
}

export type PathBound = 'all' | PathAtoms;
export type OpenBounds = Record<OpenAccess, PathBound>;

/** The byte length from which the kernel side stops looking and emits. */
export const MAX_FILTERED_PATH = 200;

/** How many trailing bytes the kernel side keeps to test suffixes. */
export const SUFFIX_WINDOW = 16;

/** True when the in-kernel filter emits this raw path whatever the bounds (see above). */
export function alwaysEmitted(raw: string): boolean {
  const bytes = Buffer.byteLength(raw);
  return bytes === 0 || bytes >= MAX_FILTERED_PATH || raw[0] !== '/' || raw.includes('..') || raw.includes('/.') ||
    raw.includes('//') || (raw.length > 1 && raw.endsWith('/'));
}

const ATOM_KINDS = ['exact', 'prefix', 'dir', 'base', 'suffix', 'contains'] as const;

const none = (): PathAtoms => ({ exact: new Set(), prefix: new Set(), dir: new Set(), base: new Set(), suffix: new Set(), contains: new Set() });

function atomCount(a: PathAtoms): number {
  return ATOM_KINDS.reduce((n, k) => n + a[k].size, 0);
}

function union(a: PathBound, b: PathBound): PathBound {
  if (a === 'all' || b === 'all') return 'all';
  const out = none();
  for (const k of ATOM_KINDS) {
    for (const v of a[k]) out[k].add(v);
    for (const v of b[k]) out[k].add(v);
  }
  return out;
}

export function unionBounds(a: OpenBounds, b: OpenBounds): OpenBounds {
  return { read: union(a.read, b.read), write: union(a.write, b.write), readwrite: union(a.readwrite, b.readwrite) };
}

/** A contains-text whose presence in a path makes the filter emit it anyway. */
const coveredText = (s: string): boolean => s.includes('..') || s.includes('/.') || s.includes('//');

function atoms(kind: keyof PathAtoms, values: string[]): PathBound {
  const a = none();
  for (const v of values) {
    if (kind === 'prefix' && (v === '' || v === '/')) return 'all';
    if (kind === 'suffix' || kind === 'contains') {
      // the kernel keeps a window of the last SUFFIX_WINDOW bytes: a longer text is bounded
      // by its tail (a suffix) or its head (a substring)
      if (v === '' || (Buffer.byteLength(v) > SUFFIX_WINDOW && Buffer.byteLength(v) !== v.length)) return 'all';
      if (kind === 'contains' && coveredText(v)) continue;
      a[kind].add(v.length <= SUFFIX_WINDOW ? v : kind === 'suffix' ? v.slice(-SUFFIX_WINDOW) : v.slice(0, SUFFIX_WINDOW));
      continue;
    }
    a[kind].add(v);
  }
  return a;
}

const contains = (values: string[]): PathBound => atoms('contains', values);

/** The literal text before a glob's first special character. */
function globPrefix(g: string): string {
  const m = /[*?[\\]/.exec(g);
  return m ? g.slice(0, m.index) : g;
}

/** pmatch matches the directory itself too: "/etc/" matches "/etc". */
const pmatchPrefix = (v: string): string => (v.length > 1 && v.endsWith('/') ? v.slice(0, -1) : v);

const PATH_FIELDS = new Set(['fd.name', 'fd.nameraw', 'evt.arg.name', 'fd.directory', 'fd.filename']);

function rhsValues(rhs: Rhs): string[] | undefined {
  if (rhs.kind === 'value') return [rhs.value.text];
  if (rhs.kind === 'list') return rhs.values.map((v) => v.text);
  return undefined;
}

/** Bound of one path comparison; 'all' when it constrains nothing we can check. */
function pathCheck(field: string, op: string, values: string[]): PathBound {
  const single = op === '=' || op === '==' || op === 'in';
  if (field === 'fd.directory') {
    if (single) return atoms('dir', values);
    if (op === 'startswith') return atoms('prefix', values);
    if (op === 'pmatch') return atoms('prefix', values.map(pmatchPrefix));
    if (op === 'contains') return contains(values);
    return 'all';
  }
  if (field === 'fd.filename') {
    if (single) return atoms('base', values);
    if (op === 'endswith') return atoms('suffix', values);
    if (op === 'contains' || op === 'startswith') return contains(values.map((v) => (op === 'startswith' ? `/${v}` : v)));
    return 'all';
  }
  // fd.name, fd.nameraw, evt.arg.name: the whole path
  if (single) return atoms('exact', values);
  if (op === 'startswith') return atoms('prefix', values);
  if (op === 'pmatch') return atoms('prefix', values.map(pmatchPrefix));
  if (op === 'endswith') return atoms('suffix', values);
  if (op === 'glob') return atoms('prefix', values.map(globPrefix));
  if (op === 'contains') return contains(values);
  return 'all';
}

function boolValue(values: string[] | undefined): boolean | undefined {
  if (!values || values.length !== 1) return undefined;
  const v = values[0]!.toLowerCase();
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

function check(e: Extract<Expr, { kind: 'check' }>, access: OpenAccess): PathBound {
  const f: FieldExpr = e.field;
  if (f.kind !== 'field' || f.arg !== undefined) return 'all';
  const values = rhsValues(e.rhs);
  if (!values) return 'all';
  if (f.name === 'evt.type') {
    if (e.op === '=' || e.op === '==' || e.op === 'in') return values.some((v) => OPEN_EVENT_TYPES.has(v)) ? 'all' : none();
    return 'all';
  }
  if (f.name === 'evt.is_open_read' || f.name === 'evt.is_open_write') {
    const want = boolValue(values);
    if (want === undefined || (e.op !== '=' && e.op !== '==')) return 'all';
    const actual = f.name === 'evt.is_open_read' ? access !== 'write' : access !== 'read';
    return want === actual ? 'all' : none();
  }
  if (!PATH_FIELDS.has(f.name)) return 'all';
  if (e.op !== 'in' && e.op !== 'pmatch' && values.length !== 1) return 'all';
  return pathCheck(f.name, e.op, values);
}

/** Bound of a condition over open events with the given access mode. */
export function conditionBound(e: Expr, access: OpenAccess): PathBound {
  switch (e.kind) {
    case 'const':
      return e.value ? 'all' : none();
    case 'not':
    case 'macro':
      return 'all';
    case 'or':
      return e.children.reduce<PathBound>((acc, c) => union(acc, conditionBound(c, access)), none());
    case 'and': {
      // every conjunct bounds the whole: keep the tightest one we can name
      let best: PathBound = 'all';
      for (const c of e.children) {
        const b = conditionBound(c, access);
        if (b === 'all') continue;
        if (atomCount(b) === 0) return b;
        if (best === 'all' || atomCount(b) < atomCount(best)) best = b;
      }
      return best;
    }
    case 'check':
      return check(e, access);
  }
}

/** Bounds of the open paths the rules can match, per access mode. */
export function openPathBounds(rules: readonly CompiledRule[]): OpenBounds {
  const out: OpenBounds = { read: none(), write: none(), readwrite: none() };
  for (const r of rules) {
    if (r.source !== 'syscall') continue;
    if (r.evtTypes && ![...r.evtTypes].some((t) => OPEN_EVENT_TYPES.has(t))) continue;
    for (const a of OPEN_ACCESSES) out[a] = union(out[a], conditionBound(r.expr, a));
  }
  return out;
}

/** Whether a canonical absolute path is inside a bound (the reference for the kernel filter). */
export function boundContains(b: PathBound, path: string): boolean {
  if (b === 'all') return true;
  if (b.exact.has(path)) return true;
  for (const p of b.prefix) if (path.startsWith(p)) return true;
  const slash = path.lastIndexOf('/');
  if (b.dir.has(slash <= 0 ? '/' : path.slice(0, slash))) return true;
  if (b.base.has(path.slice(slash + 1))) return true;
  for (const s of b.suffix) if (path.endsWith(s)) return true;
  for (const s of b.contains) if (path.includes(s)) return true;
  return false;
}

export function accessOf(flags: number): OpenAccess {
  const acc = flags & 3;
  return acc === 0 ? 'read' : acc === 1 ? 'write' : 'readwrite';
}

/** Whether the filter lets an open through: the contract the kernel code implements. */
export function filterEmits(bounds: OpenBounds, raw: string, flags: number): boolean {
  return alwaysEmitted(raw) || boundContains(bounds[accessOf(flags)], raw);
}
