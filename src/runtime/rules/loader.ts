/**
 * Loads Falco rules files: `rule`, `macro`, `list`, `required_engine_version`,
 * `required_plugin_versions`, exceptions (list and scalar forms), `override`
 * (append/replace) and legacy `append`. Items are collected in file order first, then
 * lists are resolved, macros parsed and substituted on the syntax tree, list names inside
 * list values expanded, exceptions appended, and every rule compiled.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node, type YAMLMap } from 'yaml';
import { LIST_OPS, type CompareOp, type Expr, type Value } from './ast.js';
import { Compiler, evtTypesOf, type Plan, type Predicate } from './compiler.js';
import { ConditionError, RuleLoadError, type RuleDiagnostic, type RuleLocation } from './errors.js';
import { fieldRegistry as defaultRegistry, type FieldRegistry } from './fields.js';
import { Scanner } from './lexer.js';
import { parseCondition } from './parser.js';
import { parsePriority, type Priority } from './priority.js';

export interface ExceptionDef {
  name: string;
  fields: string[] | string;
  comps?: string[] | string;
  values: unknown[];
}

export interface RuleDef {
  name: string;
  desc: string;
  condition: string;
  output: string;
  priority: Priority;
  source: string;
  tags: string[];
  enabled: boolean;
  exceptions: ExceptionDef[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  loc: RuleLocation;
  /** Where appended condition text came from, for error messages. */
  appendLocs: RuleLocation[];
}

export interface CompiledRule extends RuleDef {
  expr: Expr;
  predicate: Predicate;
  /** The compiled condition before code generation (RuleSet compiles each evt.type bucket's rules into one function). */
  plan: Plan;
  /** Event types the rule can match; null = every type. */
  evtTypes: Set<string> | null;
  /** Position in load order (alerts keep rule order). */
  index: number;
}

interface MacroDef {
  name: string;
  condition: string;
  loc: RuleLocation;
  used: boolean;
}

interface ListDef {
  name: string;
  items: string[];
  loc: RuleLocation;
  used: boolean;
}

export interface RuleSource {
  /** Name shown in messages (the path). */
  name: string;
  text: string;
}

export interface LoadOptions {
  registry?: FieldRegistry;
  /** Throw a RuleLoadError on the first problems (default) or return them in `errors`. */
  throwOnError?: boolean;
}

export interface FileCounts {
  rules: number;
  macros: number;
  lists: number;
}

export interface LoadResult {
  perFile: Map<string, FileCounts>;
  rules: CompiledRule[];
  macros: number;
  lists: number;
  errors: RuleDiagnostic[];
  warnings: RuleDiagnostic[];
  requiredEngineVersion?: string;
  compiler: Compiler;
  /** Expanded (macro- and list-free) condition of each compiled rule. */
  expanded: Map<string, Expr>;
}

const RULE_KEYS = new Set([
  'rule', 'desc', 'condition', 'output', 'priority', 'source', 'tags', 'enabled', 'exceptions',
  'warn_evttypes', 'skip-if-unknown-filter', 'append', 'override', 'capture', 'capture_duration',
]);
const OVERRIDABLE = new Set(['condition', 'output', 'desc', 'priority', 'tags', 'exceptions', 'enabled', 'warn_evttypes', 'skip-if-unknown-filter', 'source', 'capture', 'capture_duration', 'items']);
const APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions', 'items']);
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const MAX_MACRO_DEPTH = 64;

class Collector {
  readonly errors: RuleDiagnostic[] = [];
  readonly warnings: RuleDiagnostic[] = [];
  readonly lists = new Map<string, ListDef>();
  readonly macros = new Map<string, MacroDef>();
  readonly rules = new Map<string, RuleDef>();
  requiredEngineVersion: string | undefined;
  /** Items each file defines (not appends/overrides), as `falco -V` counts them. */
  readonly perFile = new Map<string, FileCounts>();

  count(file: string, kind: keyof FileCounts): void {
    let c = this.perFile.get(file);
    if (!c) {
      c = { rules: 0, macros: 0, lists: 0 };
      this.perFile.set(file, c);
    }
    c[kind]++;
  }

  error(loc: RuleLocation, message: string, code = 'LOAD_ERR_VALIDATE', token?: string): void {
    this.errors.push({ ...loc, code, message, ...(token !== undefined ? { token } : {}) });
  }

  warn(loc: RuleLocation, message: string, code: string): void {
    this.warnings.push({ ...loc, code, message });
  }
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function strList(v: unknown): string[] | undefined {
  if (v === null || v === undefined) return [];
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const x of v) {
    const s = str(x);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

export function loadRuleFiles(paths: string[], opts: LoadOptions = {}): LoadResult {
  const sources: RuleSource[] = paths.map((p) => {
    let text: string;
    try {
      text = readFileSync(p, 'utf8');
    } catch (e) {
      throw new RuleLoadError([{ file: p, code: 'LOAD_ERR_FILE_READ', message: `cannot read rules file: ${(e as NodeJS.ErrnoException).code ?? String(e)}` }]);
    }
    return { name: p, text };
  });
  return loadRules(sources, opts);
}

export function loadRules(sources: RuleSource[], opts: LoadOptions = {}): LoadResult {
  const c = new Collector();
  for (const src of sources) {
    c.perFile.set(src.name, { rules: 0, macros: 0, lists: 0 });
    collectFile(c, src);
  }
  const result = compileAll(c, opts.registry ?? defaultRegistry);
  if ((opts.throwOnError ?? true) && result.errors.length) throw new RuleLoadError(result.errors);
  return result;
}

function collectFile(c: Collector, src: RuleSource): void {
  const fileLoc: RuleLocation = { file: src.name };
  if (src.text.length > MAX_FILE_BYTES) {
    c.error(fileLoc, `rules file larger than ${MAX_FILE_BYTES} bytes`, 'LOAD_ERR_YAML_PARSE');
    return;
  }
  const lc = new LineCounter();
  const doc = parseDocument(src.text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length) {
    for (const e of doc.errors) {
      c.error({ file: src.name, line: e.linePos?.[0]?.line }, `invalid YAML: ${e.message.split('\n')[0]}`, 'LOAD_ERR_YAML_PARSE');
    }
    return;
  }
  const root = doc.contents;
  if (root === null) return; // an empty file is a valid, empty rules file
  if (!isSeq(root)) {
    c.error(fileLoc, 'rules file content is not a sequence of items', 'LOAD_ERR_YAML_VALIDATE');
    return;
  }
  const lineOf = (n: Node | null | undefined): number | undefined => (n?.range ? lc.linePos(n.range[0]).line : undefined);
  for (const item of root.items) {
    const line = lineOf(item as Node);
    if (!isMap(item)) {
      c.error({ file: src.name, line }, 'item is not a mapping', 'LOAD_ERR_YAML_VALIDATE');
      continue;
    }
    let obj: Record<string, unknown>;
    try {
      obj = item.toJS(doc, { maxAliasCount: 100 }) as Record<string, unknown>;
    } catch (e) {
      c.error({ file: src.name, line }, `invalid YAML: ${e instanceof Error ? e.message : String(e)}`, 'LOAD_ERR_YAML_PARSE');
      continue;
    }
    const condLine = lineOf((item as YAMLMap).get('condition', true) as Node | undefined) ?? line;
    collectItem(c, obj, { file: src.name, line }, condLine);
  }
}

function collectItem(c: Collector, obj: Record<string, unknown>, loc: RuleLocation, condLine: number | undefined): void {
  if ('required_engine_version' in obj) {
    c.requiredEngineVersion = str(obj.required_engine_version);
    return;
  }
  if ('required_plugin_versions' in obj) {
    if (!Array.isArray(obj.required_plugin_versions)) {
      c.error({ ...loc, itemType: 'required_plugin_versions' }, 'required_plugin_versions must be a list', 'LOAD_ERR_YAML_VALIDATE');
    }
    return; // container.* fields are built in; no plugins to check
  }
  const override = obj.override;
  if (override !== undefined && (typeof override !== 'object' || override === null || Array.isArray(override))) {
    c.error(loc, "'override' must be a mapping of key: append|replace", 'LOAD_ERR_YAML_VALIDATE');
    return;
  }
  const ov = (override ?? {}) as Record<string, unknown>;
  if (override !== undefined && obj.append !== undefined) {
    c.error(loc, "'override' and 'append' cannot be used together", 'LOAD_ERR_OVERRIDE_APPEND');
    return;
  }
  for (const [k, how] of Object.entries(ov)) {
    if (how !== 'append' && how !== 'replace') {
      c.error(loc, `override of '${k}' must be 'append' or 'replace'`, 'LOAD_ERR_YAML_VALIDATE');
      return;
    }
    if (!OVERRIDABLE.has(k) || (how === 'append' && !APPENDABLE.has(k))) {
      c.error(loc, `key '${k}' cannot be overridden with ${how}`, 'LOAD_ERR_YAML_VALIDATE');
      return;
    }
    if (!(k in obj)) {
      c.error(loc, `override of '${k}' has no '${k}' value`, 'LOAD_ERR_YAML_VALIDATE');
      return;
    }
  }
  const append = obj.append === true;
  if ('list' in obj) return collectList(c, obj, { ...loc, itemType: 'list', itemName: str(obj.list) }, ov, append);
  if ('macro' in obj) return collectMacro(c, obj, { ...loc, itemType: 'macro', itemName: str(obj.macro) }, { ...loc, line: condLine, itemType: 'macro', itemName: str(obj.macro) }, ov, append);
  if ('rule' in obj) return collectRule(c, obj, { ...loc, itemType: 'rule', itemName: str(obj.rule) }, { ...loc, line: condLine, itemType: 'rule', itemName: str(obj.rule) }, ov, append);
  c.error(loc, `unknown item kind (keys: ${Object.keys(obj).join(', ') || 'none'})`, 'LOAD_ERR_YAML_VALIDATE');
}

function collectList(c: Collector, obj: Record<string, unknown>, loc: RuleLocation, ov: Record<string, unknown>, append: boolean): void {
  const name = loc.itemName;
  if (!name) return c.error(loc, "list needs a 'list' name", 'LOAD_ERR_YAML_VALIDATE');
  const items = strList(obj.items);
  if (!items) return c.error(loc, "'items' must be a list of strings", 'LOAD_ERR_YAML_VALIDATE');
  const prev = c.lists.get(name);
  if (append || ov.items === 'append') {
    if (!prev) return c.error(loc, `append to undefined list '${name}'`, 'LOAD_ERR_VALIDATE');
    prev.items.push(...items);
  } else if (ov.items === 'replace') {
    if (!prev) return c.error(loc, `override of undefined list '${name}'`, 'LOAD_ERR_VALIDATE');
    prev.items = items;
  } else {
    if (!c.lists.has(name)) c.count(loc.file, 'lists');
    c.lists.set(name, { name, items, loc, used: false });
  }
}

function collectMacro(c: Collector, obj: Record<string, unknown>, loc: RuleLocation, condLoc: RuleLocation, ov: Record<string, unknown>, append: boolean): void {
  const name = loc.itemName;
  if (!name) return c.error(loc, "macro needs a 'macro' name", 'LOAD_ERR_YAML_VALIDATE');
  const cond = str(obj.condition);
  if (cond === undefined) return c.error(loc, "macro needs a 'condition' string", 'LOAD_ERR_YAML_VALIDATE');
  const prev = c.macros.get(name);
  if (append || ov.condition === 'append') {
    if (!prev) return c.error(loc, `append to undefined macro '${name}'`, 'LOAD_ERR_VALIDATE');
    prev.condition = `${prev.condition} ${cond}`;
  } else if (ov.condition === 'replace') {
    if (!prev) return c.error(loc, `override of undefined macro '${name}'`, 'LOAD_ERR_VALIDATE');
    prev.condition = cond;
    prev.loc = condLoc;
  } else {
    if (!c.macros.has(name)) c.count(loc.file, 'macros');
    c.macros.set(name, { name, condition: cond, loc: condLoc, used: false });
  }
}

function parseExceptions(c: Collector, v: unknown, loc: RuleLocation): ExceptionDef[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.error(loc, "'exceptions' must be a list", 'LOAD_ERR_YAML_VALIDATE');
    return undefined;
  }
  const out: ExceptionDef[] = [];
  for (const e of v) {
    if (typeof e !== 'object' || e === null || Array.isArray(e) || typeof (e as ExceptionDef).name !== 'string') {
      c.error(loc, 'each exception needs a name', 'LOAD_ERR_YAML_VALIDATE');
      return undefined;
    }
    const x = e as Record<string, unknown>;
    const fields = x.fields as string[] | string | undefined;
    const comps = x.comps as string[] | string | undefined;
    out.push({ name: x.name as string, fields: fields ?? [], ...(comps !== undefined ? { comps } : {}), values: Array.isArray(x.values) ? x.values : [] });
  }
  return out;
}

function collectRule(c: Collector, obj: Record<string, unknown>, loc: RuleLocation, condLoc: RuleLocation, ov: Record<string, unknown>, append: boolean): void {
  const name = loc.itemName;
  if (!name) return c.error(loc, "rule needs a 'rule' name", 'LOAD_ERR_YAML_VALIDATE');
  for (const k of Object.keys(obj)) if (!RULE_KEYS.has(k)) c.warn(loc, `unknown key '${k}'`, 'LOAD_UNKNOWN_ITEM');
  const prev = c.rules.get(name);
  const exceptions = parseExceptions(c, obj.exceptions, loc);
  if (!exceptions) return;
  const isOverride = Object.keys(ov).length > 0;
  const onlyEnabled = Object.keys(obj).every((k) => k === 'rule' || k === 'enabled') && 'enabled' in obj;
  if (append || isOverride || (onlyEnabled && prev)) {
    if (!prev) return c.error(loc, `${append ? 'append to' : 'override of'} undefined rule '${name}'`, 'LOAD_ERR_VALIDATE');
    const how = (k: string): 'append' | 'replace' | undefined => {
      if (append) return k === 'condition' || k === 'exceptions' || k === 'output' || k === 'desc' ? 'append' : k === 'enabled' ? 'replace' : undefined;
      if (onlyEnabled && k === 'enabled') return 'replace';
      return ov[k] as 'append' | 'replace' | undefined;
    };
    if (how('condition') && obj.condition !== undefined) {
      const t = str(obj.condition);
      if (t === undefined) return c.error(loc, "'condition' must be a string", 'LOAD_ERR_YAML_VALIDATE');
      prev.condition = how('condition') === 'append' ? `${prev.condition} ${t}` : t;
      prev.appendLocs.push(condLoc);
    }
    if (how('output') && obj.output !== undefined) prev.output = how('output') === 'append' ? `${prev.output} ${str(obj.output) ?? ''}` : str(obj.output) ?? '';
    if (how('desc') && obj.desc !== undefined) prev.desc = how('desc') === 'append' ? `${prev.desc} ${str(obj.desc) ?? ''}` : str(obj.desc) ?? '';
    if (how('tags') && obj.tags !== undefined) {
      const t = strList(obj.tags) ?? [];
      prev.tags = how('tags') === 'append' ? [...prev.tags, ...t] : t;
    }
    if (how('priority') && obj.priority !== undefined) {
      const p = parsePriority(str(obj.priority) ?? '');
      if (!p) return c.error(loc, `unknown priority '${String(obj.priority)}'`, 'LOAD_ERR_YAML_VALIDATE', String(obj.priority));
      prev.priority = p;
    }
    if (how('enabled') && obj.enabled !== undefined) prev.enabled = obj.enabled === true;
    if (how('source') && obj.source !== undefined) prev.source = str(obj.source) ?? prev.source;
    if (how('warn_evttypes') && obj.warn_evttypes !== undefined) prev.warnEvttypes = obj.warn_evttypes !== false;
    if (how('skip-if-unknown-filter') && obj['skip-if-unknown-filter'] !== undefined) prev.skipIfUnknownFilter = obj['skip-if-unknown-filter'] === true;
    if (how('exceptions') === 'append') {
      for (const e of exceptions) {
        const same = prev.exceptions.find((x) => x.name === e.name);
        if (same) same.values.push(...e.values);
        else prev.exceptions.push(e);
      }
    } else if (how('exceptions') === 'replace') {
      prev.exceptions = exceptions;
    }
    return;
  }
  if (onlyEnabled) return c.error(loc, `enabling/disabling undefined rule '${name}'`, 'LOAD_ERR_VALIDATE');
  const condition = str(obj.condition);
  const output = str(obj.output);
  const priorityText = str(obj.priority);
  if (condition === undefined) return c.error(loc, "rule needs a 'condition' string", 'LOAD_ERR_YAML_VALIDATE');
  if (output === undefined) return c.error(loc, "rule needs an 'output' string", 'LOAD_ERR_YAML_VALIDATE');
  if (priorityText === undefined) return c.error(loc, "rule needs a 'priority'", 'LOAD_ERR_YAML_VALIDATE');
  const priority = parsePriority(priorityText);
  if (!priority) return c.error(loc, `unknown priority '${priorityText}'`, 'LOAD_ERR_YAML_VALIDATE', priorityText);
  const tags = strList(obj.tags);
  if (!tags) return c.error(loc, "'tags' must be a list of strings", 'LOAD_ERR_YAML_VALIDATE');
  if (prev) c.warn(loc, `rule '${name}' redefined; the earlier definition is replaced`, 'LOAD_RULE_REDEFINED');
  if (prev) c.rules.delete(name);
  else c.count(loc.file, 'rules');
  c.rules.set(name, {
    name, desc: str(obj.desc) ?? '', condition, output: output.trim(), priority,
    source: str(obj.source) ?? 'syscall', tags, enabled: obj.enabled !== false, exceptions,
    warnEvttypes: obj.warn_evttypes !== false, skipIfUnknownFilter: obj['skip-if-unknown-filter'] === true,
    loc: condLoc, appendLocs: [],
  });
}

/** Lists may name earlier lists among their items: flatten them (cycle-safe). */
function resolveList(c: Collector, name: string, seen = new Set<string>()): string[] {
  const l = c.lists.get(name);
  if (!l) return [];
  if (seen.has(name)) return [];
  seen.add(name);
  const out: string[] = [];
  for (const it of l.items) {
    if (c.lists.has(it) && it !== name) {
      c.lists.get(it)!.used = true;
      out.push(...resolveList(c, it, seen));
    } else {
      out.push(it);
    }
  }
  seen.delete(name);
  return out;
}

function compileAll(c: Collector, registry: FieldRegistry): LoadResult {
  const resolvedLists = new Map<string, string[]>();
  for (const name of c.lists.keys()) resolvedLists.set(name, resolveList(c, name));

  // Macros: parsed once, substituted lazily (with their own macros and lists) into rules.
  const parsed = new Map<string, Expr | null>();
  for (const m of c.macros.values()) {
    try {
      parsed.set(m.name, parseCondition(m.condition));
    } catch (e) {
      parsed.set(m.name, null);
      conditionError(c, m.loc, e);
    }
  }

  const expandMacros = (e: Expr, stack: string[]): Expr => {
    switch (e.kind) {
      case 'and':
      case 'or':
        return { kind: e.kind, children: e.children.map((x) => expandMacros(x, stack)) };
      case 'not':
        return { kind: 'not', child: expandMacros(e.child, stack) };
      case 'macro': {
        const def = c.macros.get(e.name);
        if (!def) throw new ConditionError(`undefined macro '${e.name}'`, e.pos, e.name, 'LOAD_ERR_UNDEFINED_MACRO');
        def.used = true;
        if (stack.includes(e.name)) throw new ConditionError(`macro '${e.name}' refers to itself (${[...stack, e.name].join(' → ')})`, e.pos, e.name);
        if (stack.length >= MAX_MACRO_DEPTH) throw new ConditionError(`macros nested deeper than ${MAX_MACRO_DEPTH} levels`, e.pos, e.name);
        const body = parsed.get(e.name);
        if (!body) throw new ConditionError(`macro '${e.name}' has an invalid condition`, e.pos, e.name);
        return expandMacros(body, [...stack, e.name]);
      }
      case 'check': {
        if (e.rhs.kind !== 'list') return e;
        const values: Value[] = [];
        for (const v of e.rhs.values) {
          const items = !v.quoted ? resolvedLists.get(v.text) : undefined;
          if (items) {
            c.lists.get(v.text)!.used = true;
            for (const it of items) values.push(listItemValue(it, v.pos));
          } else {
            values.push(v);
          }
        }
        return { ...e, rhs: { kind: 'list', values } };
      }
      default:
        return e;
    }
  };

  const compiler = new Compiler(registry);
  const rules: CompiledRule[] = [];
  const expanded = new Map<string, Expr>();
  let index = 0;
  for (const r of c.rules.values()) {
    const loc = r.loc;
    let expr: Expr;
    try {
      expr = expandMacros(parseCondition(r.condition), []);
      if (r.exceptions.length) expr = withExceptions(expr, r.exceptions, resolvedLists);
    } catch (e) {
      conditionError(c, loc, e);
      continue;
    }
    try {
      compiler.checkFields(expr);
    } catch (e) {
      if (e instanceof ConditionError && e.code === 'LOAD_UNKNOWN_FILTER' && r.skipIfUnknownFilter) {
        c.warn(loc, `rule skipped: ${e.message.replace(/ at offset.*/, '')} (skip-if-unknown-filter)`, 'LOAD_UNKNOWN_FILTER');
        continue;
      }
      conditionError(c, loc, e);
      continue;
    }
    let predicate: Predicate;
    let plan: Plan;
    try {
      plan = compiler.plan(expr);
      predicate = compiler.predicateOf(plan);
    } catch (e) {
      conditionError(c, loc, e);
      continue;
    }
    const evtTypes = evtTypesOf(expr);
    if (evtTypes === null && r.warnEvttypes && r.source === 'syscall') {
      c.warn(loc, 'rule matches too many evt.type values; this has a significant performance penalty', 'LOAD_NO_EVTTYPE');
    }
    expanded.set(r.name, expr);
    rules.push({ ...r, expr, predicate, plan, evtTypes, index: index++ });
  }
  for (const m of c.macros.values()) if (!m.used) c.warn(m.loc, `macro '${m.name}' is not used`, 'LOAD_UNUSED_MACRO');
  for (const l of c.lists.values()) if (!l.used) c.warn(l.loc, `list '${l.name}' is not used`, 'LOAD_UNUSED_LIST');
  return {
    rules, macros: c.macros.size, lists: c.lists.size, errors: c.errors, warnings: c.warnings, perFile: c.perFile,
    ...(c.requiredEngineVersion !== undefined ? { requiredEngineVersion: c.requiredEngineVersion } : {}),
    compiler, expanded,
  };
}

/**
 * A list item as it reads once substituted into a condition's text: Falco lists are text
 * substitution, so an item written with quotes (`'"10.0.0.0/8"'`) is a quoted value.
 */
function listItemValue(item: string, pos: number): Value {
  const t = item.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) {
    try {
      const s = new Scanner(t);
      const v = s.value();
      if (s.atEnd()) return { text: v.text, quoted: true, pos };
    } catch {
      // not a well-formed quoted string: keep the text as is
    }
  }
  return { text: item, quoted: true, pos };
}

function conditionError(c: Collector, loc: RuleLocation, e: unknown): void {
  if (e instanceof ConditionError) {
    c.error(loc, `${loc.itemType === 'macro' ? 'macro' : 'rule'} condition: ${e.message}`, e.code, e.token);
  } else {
    c.error(loc, e instanceof Error ? e.message : String(e), 'LOAD_ERR_COMPILE_CONDITION');
  }
}

/**
 * `cond and not (exception1 or exception2 …)`; each exception value row is an `and` of
 * `field comp value` checks. Scalar form: `fields: proc.name, comps: in, values: [a, b]`.
 */
function withExceptions(cond: Expr, exceptions: ExceptionDef[], lists: Map<string, string[]>): Expr {
  const clauses: Expr[] = [];
  const val = (text: string): Value => ({ text, quoted: false, pos: 0 });
  const listValues = (v: unknown): Value[] => {
    const items = Array.isArray(v) ? v.map((x) => String(x)) : [String(v)];
    return items.flatMap((t) => (lists.has(t) ? lists.get(t)!.map((x) => listItemValue(x, 0)) : [val(t)]));
  };
  const check = (field: string, comp: string, v: unknown): Expr => {
    const f = parseCondition(`${field} exists`);
    if (f.kind !== 'check') throw new ConditionError(`invalid exception field '${field}'`, 0, field);
    const op = comp as CompareOp;
    const rhs = LIST_OPS.has(op) ? { kind: 'list' as const, values: listValues(v) } : { kind: 'value' as const, value: val(String(v)) };
    return { kind: 'check', field: f.field, op, rhs, pos: 0 };
  };
  const validComp = (comp: string): void => {
    if (!/^(=|==|!=|<|<=|>|>=|contains|icontains|bcontains|startswith|bstartswith|endswith|glob|iglob|regex|pmatch|in|intersects)$/.test(comp)) {
      throw new ConditionError(`invalid exception comparison '${comp}'`, 0, comp);
    }
  };
  for (const ex of exceptions) {
    if (typeof ex.fields === 'string') {
      const comp = typeof ex.comps === 'string' ? ex.comps : 'in';
      validComp(comp);
      if (!ex.values.length) continue;
      if (LIST_OPS.has(comp)) clauses.push(check(ex.fields, comp, ex.values));
      else clauses.push({ kind: 'or', children: ex.values.map((v) => check(ex.fields as string, comp, v)) });
      continue;
    }
    const fields = ex.fields;
    const comps = Array.isArray(ex.comps) ? ex.comps : fields.map(() => '=');
    if (comps.length !== fields.length) throw new ConditionError(`exception '${ex.name}': fields and comps differ in length`, 0, ex.name);
    comps.forEach(validComp);
    for (const row of ex.values) {
      if (!Array.isArray(row) || row.length !== fields.length) {
        throw new ConditionError(`exception '${ex.name}': each value must be a list of ${fields.length} items`, 0, ex.name);
      }
      clauses.push({ kind: 'and', children: fields.map((f, i) => check(f, comps[i]!, row[i])) });
    }
  }
  if (!clauses.length) return cond;
  return { kind: 'and', children: [cond, { kind: 'not', child: clauses.length === 1 ? clauses[0]! : { kind: 'or', children: clauses } }] };
}
