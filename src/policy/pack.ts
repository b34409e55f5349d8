/**
 * Reads policy packs (`apiVersion: gatehouse.dev/v1`, `kind: PolicyPack` or
 * `PolicyExceptions`) and checks them against the registered subjects: unknown keys and
 * fields (with a did-you-mean), type errors, bad regexes and duplicate ids are diagnostics
 * with file:line. A pack with any error never loads: an unknown field is never a silent allow.
 *
 *   apiVersion: gatehouse.dev/v1
 *   kind: PolicyPack
 *   metadata: { name, description }
 *   subject: workload            # default subject of the pack's policies
 *   policies: [ {id, name, description, severity, subject, stages, scope, criteria,
 *                enforcement, remediation, mappings, enabled, category}, … ]
 *   exceptions: [ {policy, namespace, workload, image, container, package, path,
 *                  owner, reason, expires}, … ]
 */
import { parseSeverity, type Severity } from '../findings/finding.js';
import { UserError, describeError } from '../util/errors.js';
import { expandYamlPaths, parsePositionedYaml, readPositionedYaml, type FieldPath, type PositionedDocument } from '../util/positioned-yaml.js';
import { compileRegex } from '../util/regex.js';
import { builtinPackPath } from './builtin.js';
import { fieldsOf } from './criteria.js';
import { closest, type FieldDef } from './fields.js';
import type { SubjectAdapter, SubjectRegistry } from './subject.js';
import {
  ENFORCEMENTS, OPERATORS, SCOPE_KEYS, STAGES,
  type Criterion, type Enforcement, type Operator, type Policy, type PolicyException, type PolicyScope, type Stage, type SubjectKind,
} from './types.js';

export const API_VERSION = 'gatehouse.dev/v1';
/** Other engines' data packs that live beside policies (read by their own loaders). */
const OTHER_PACK_KINDS = new Set(['RbacRiskPack', 'DockerfileRulePack']);
const PACK_KEYS = ['apiVersion', 'kind', 'metadata', 'subject', 'policies', 'exceptions'];
const POLICY_KEYS = ['id', 'name', 'description', 'severity', 'subject', 'stages', 'scope', 'criteria', 'enforcement', 'remediation', 'mappings', 'enabled', 'category'];
const EXCEPTION_KEYS = ['policy', 'namespace', 'workload', 'image', 'container', 'package', 'path', 'owner', 'reason', 'expires'];

export interface Diagnostic {
  file: string;
  line: number;
  message: string;
}

export const describeDiagnostic = (d: Diagnostic): string => `${d.file}:${d.line}: ${d.message}`;

export interface LoadedPacks {
  policies: Policy[];
  exceptions: PolicyException[];
  /** Ids defined or overridden by user files (not built-in packs). */
  userIds: Set<string>;
  diagnostics: Diagnostic[];
}

/** One input: a file, a directory, or a built-in pack name; `builtin` ones may be overridden by id. */
export interface PackSource {
  input: string;
  builtin?: boolean;
}

/** Resolves `build`/`deploy`/`engine`/`runtime` to the shipped packs, anything else as a path. */
export function resolvePackInput(input: string): PackSource {
  const path = builtinPackPath(input);
  return path ? { input: path, builtin: true } : { input };
}

/**
 * Reads packs, collecting every problem. Built-in sources come first; user sources may
 * override a built-in policy by id (`enabled: false` disables it; other keys replace).
 */
export async function readPacks(sources: readonly PackSource[], subjects: SubjectRegistry): Promise<LoadedPacks> {
  const out: LoadedPacks = { policies: [], exceptions: [], userIds: new Set(), diagnostics: [] };
  const byId = new Map<string, { policy: Policy; builtin: boolean }>();
  // Every id seen, parsed or not, so a duplicate is reported even beside a broken policy.
  const seen = new Map<string, { file: string; line: number; builtin: boolean }>();
  const ordered = [...sources.filter((s) => s.builtin), ...sources.filter((s) => !s.builtin)];
  for (const source of ordered) {
    const files = await expandYamlPaths(source.input);
    for (const file of files) {
      let docs: PositionedDocument[];
      try {
        docs = await readPositionedYaml(file);
      } catch (e) {
        if (!(e instanceof UserError)) throw e;
        out.diagnostics.push(diagnosticOf(e, file));
        continue;
      }
      for (const doc of docs) readDocument(doc, !!source.builtin, subjects, byId, seen, out);
    }
  }
  out.policies = [...byId.values()].map((x) => x.policy);
  return out;
}

/** Checks one pack given as text (a converted file, an API body): every problem, as readPacks. */
export function readPackText(text: string, file: string, subjects: SubjectRegistry): LoadedPacks {
  const out: LoadedPacks = { policies: [], exceptions: [], userIds: new Set(), diagnostics: [] };
  const byId = new Map<string, { policy: Policy; builtin: boolean }>();
  const seen = new Map<string, { file: string; line: number; builtin: boolean }>();
  let docs: PositionedDocument[] = [];
  try {
    docs = parsePositionedYaml(text, file);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    out.diagnostics.push(diagnosticOf(e, file));
  }
  for (const doc of docs) readDocument(doc, false, subjects, byId, seen, out);
  out.policies = [...byId.values()].map((x) => x.policy);
  return out;
}

function diagnosticOf(e: UserError, file: string): Diagnostic {
  const m = /^(.*?):(\d+): (.*)$/.exec(e.message);
  return m ? { file: m[1]!, line: Number(m[2]), message: m[3]! } : { file, line: 1, message: e.message };
}

/** Reads packs and throws the first problem (with a count of the rest) as one UserError line. */
export async function loadPacks(sources: readonly PackSource[], subjects: SubjectRegistry): Promise<LoadedPacks> {
  const loaded = await readPacks(sources, subjects);
  const [first, ...rest] = loaded.diagnostics;
  if (first) throw new UserError(`${describeDiagnostic(first)}${rest.length ? ` (and ${rest.length} more problem(s); run gatehouse policy check)` : ''}`, 'bad-policy');
  return loaded;
}

type Ctx = { doc: PositionedDocument; out: LoadedPacks };

function report(c: Ctx, path: FieldPath, message: string): void {
  c.out.diagnostics.push({ file: c.doc.file, line: c.doc.positionOf(path).line, message });
}

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function unknownKeys(c: Ctx, path: FieldPath, v: Record<string, unknown>, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(v)) {
    if (allowed.includes(k)) continue;
    const guess = closest(k, allowed);
    report(c, [...path, k], `unknown ${what} key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
  }
}

function readDocument(
  doc: PositionedDocument,
  builtin: boolean,
  subjects: SubjectRegistry,
  byId: Map<string, { policy: Policy; builtin: boolean }>,
  seen: Map<string, { file: string; line: number; builtin: boolean }>,
  out: LoadedPacks,
): void {
  const c: Ctx = { doc, out };
  const v = doc.value;
  if (!isMap(v)) return report(c, [], 'a pack document must be a mapping with apiVersion and kind');
  if (v.apiVersion === API_VERSION && OTHER_PACK_KINDS.has(v.kind)) return;
  if (v.apiVersion !== API_VERSION || (v.kind !== 'PolicyPack' && v.kind !== 'PolicyExceptions')) {
    if (v.kind === 'EngineProxyPolicy') return report(c, ['kind'], 'this is an engine-proxy rule file in the old format; convert it with `gatehouse policy convert`');
    return report(c, ['kind'], `expected apiVersion ${API_VERSION} kind PolicyPack or PolicyExceptions, got ${v.apiVersion} ${v.kind}`);
  }
  unknownKeys(c, [], v, PACK_KEYS, 'pack');
  const packSubject = v.subject === undefined ? 'workload' : v.subject;
  if (v.subject !== undefined && !subjects.get(String(packSubject))) {
    const guess = subjects.suggest(String(packSubject));
    report(c, ['subject'], `unknown subject "${packSubject}"${guess ? ` (did you mean "${guess}"?)` : ''} (expected ${subjects.kinds().join(', ')})`);
  }
  for (const key of ['policies', 'exceptions'] as const) {
    const list = v[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      report(c, [key], `${key} must be a list`);
      continue;
    }
    if (key === 'policies' && v.kind === 'PolicyExceptions') {
      report(c, [key], 'a PolicyExceptions document holds exceptions only');
      continue;
    }
    list.forEach((entry: unknown, i: number) => {
      const path = [key, i];
      if (!isMap(entry)) return report(c, path, 'entry must be a mapping');
      if (key === 'exceptions') {
        const e = parseException(c, path, entry);
        if (e) out.exceptions.push(e);
        return;
      }
      const id = entry.id;
      if (typeof id !== 'string' || !id.trim()) return report(c, [...path, 'id'], 'id must be a non-empty string');
      const prior = byId.get(id);
      const first = seen.get(id);
      if (!builtin) out.userIds.add(id);
      let raw: Record<string, any> = entry;
      if (first && first.builtin && !builtin) {
        if (prior) raw = { ...policyToRaw(prior.policy), ...entry };
      } else if (first) {
        return report(c, [...path, 'id'], `duplicate policy id "${id}" (first defined at ${first.file}:${first.line})`);
      }
      seen.set(id, { file: doc.file, line: doc.positionOf(path).line, builtin });
      const before = out.diagnostics.length;
      const policy = parsePolicy(c, path, raw, String(packSubject), subjects);
      if (policy && out.diagnostics.length === before) byId.set(id, { policy, builtin });
    });
  }
}

function policyToRaw(p: Policy): Record<string, any> {
  const { origin: _origin, ...rest } = p;
  return { ...rest };
}

function stringList(c: Ctx, path: FieldPath, v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number')) {
    report(c, path, `${what} must be a list of strings`);
    return undefined;
  }
  return v.map(String);
}

function parsePolicy(c: Ctx, path: FieldPath, raw: Record<string, any>, packSubject: string, subjects: SubjectRegistry): Policy | undefined {
  unknownKeys(c, path, raw, POLICY_KEYS, 'policy');
  const id = String(raw.id);
  const subjectKind = String(raw.subject ?? packSubject);
  const adapter = subjects.get(subjectKind);
  if (!adapter) {
    if (raw.subject !== undefined) {
      const guess = subjects.suggest(subjectKind);
      report(c, [...path, 'subject'], `policy ${id}: unknown subject "${subjectKind}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
    }
    return undefined;
  }
  let severity: Severity = 'UNKNOWN';
  try {
    severity = parseSeverity(String(raw.severity ?? ''));
  } catch (e) {
    report(c, [...path, 'severity'], `policy ${id}: ${describeError(e)}`);
  }
  const stages = (stringList(c, [...path, 'stages'], raw.stages, 'stages') ?? [adapter.defaultStage]) as Stage[];
  for (const s of stages) if (!STAGES.includes(s)) report(c, [...path, 'stages'], `policy ${id}: unknown stage "${s}" (expected ${STAGES.join(', ')})`);
  const enforcement = (stringList(c, [...path, 'enforcement'], raw.enforcement, 'enforcement') ?? ['inform']) as Enforcement[];
  for (const e of enforcement) {
    if (ENFORCEMENTS.includes(e)) continue;
    const guess = closest(e, ENFORCEMENTS);
    report(c, [...path, 'enforcement'], `policy ${id}: unknown enforcement "${e}"${guess ? ` (did you mean "${guess}"?)` : ''} (expected ${ENFORCEMENTS.join(', ')})`);
  }
  const scope = parseScope(c, [...path, 'scope'], raw.scope, id, adapter);
  if (raw.criteria === undefined) report(c, path, `policy ${id}: criteria are required`);
  const criteria = raw.criteria === undefined ? undefined : parseCriterion(c, [...path, 'criteria'], raw.criteria, id, adapter);
  if (criteria) checkTargets(c, [...path, 'criteria'], criteria, id, adapter);
  const mappingsRaw = raw.mappings ?? {};
  if (!isMap(mappingsRaw)) report(c, [...path, 'mappings'], `policy ${id}: mappings must be a mapping`);
  else unknownKeys(c, [...path, 'mappings'], mappingsRaw, ['cis', 'nist', 'mitre'], 'mappings');
  for (const k of ['name', 'description', 'remediation', 'category'] as const) {
    if (raw[k] !== undefined && typeof raw[k] !== 'string') report(c, [...path, k], `policy ${id}: ${k} must be a string`);
  }
  if (raw.enabled !== undefined && typeof raw.enabled !== 'boolean') report(c, [...path, 'enabled'], `policy ${id}: enabled must be true or false`);
  if (!criteria) return undefined;
  const m = isMap(mappingsRaw) ? mappingsRaw : {};
  return {
    id,
    name: typeof raw.name === 'string' ? raw.name : id,
    description: typeof raw.description === 'string' ? raw.description : '',
    severity,
    subject: adapter.kind,
    stages,
    scope,
    criteria,
    enforcement,
    remediation: typeof raw.remediation === 'string' ? raw.remediation : undefined,
    mappings: {
      cis: stringList(c, [...path, 'mappings', 'cis'], m.cis, 'mappings.cis'),
      nist: stringList(c, [...path, 'mappings', 'nist'], m.nist, 'mappings.nist'),
      mitre: stringList(c, [...path, 'mappings', 'mitre'], m.mitre, 'mappings.mitre'),
    },
    enabled: raw.enabled === undefined ? true : raw.enabled === true,
    category: typeof raw.category === 'string' ? raw.category : undefined,
    origin: { file: c.doc.file, line: c.doc.positionOf(path).line },
  };
}

function parseScope(c: Ctx, path: FieldPath, v: unknown, id: string, adapter: SubjectAdapter): PolicyScope {
  if (v === undefined || v === null) return {};
  if (!isMap(v)) {
    report(c, path, `policy ${id}: scope must be a mapping`);
    return {};
  }
  for (const k of Object.keys(v)) {
    if (!(SCOPE_KEYS as readonly string[]).includes(k)) {
      const guess = closest(k, adapter.scopeKeys);
      report(c, [...path, k], `policy ${id}: unknown scope key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
    } else if (!(adapter.scopeKeys as readonly string[]).includes(k)) {
      report(c, [...path, k], `policy ${id}: scope key "${k}" does not apply to subject ${adapter.kind} (it understands ${adapter.scopeKeys.join(', ') || 'none'})`);
    }
  }
  const scope: PolicyScope = {};
  for (const k of ['clusters', 'namespaces', 'excludeNamespaces', 'kinds', 'images', 'actions'] as const) {
    const list = stringList(c, [...path, k], v[k], `scope.${k}`);
    if (list) scope[k] = list;
  }
  if (v.labelSelector !== undefined) scope.labelSelector = parseSelector(c, [...path, 'labelSelector'], v.labelSelector, id);
  return scope;
}

function parseSelector(c: Ctx, path: FieldPath, v: any, id: string): PolicyScope['labelSelector'] {
  if (!isMap(v)) {
    report(c, path, `policy ${id}: labelSelector must be a mapping`);
    return undefined;
  }
  unknownKeys(c, path, v, ['matchLabels', 'matchExpressions'], 'labelSelector');
  const exprs = v.matchExpressions ?? [];
  if (!Array.isArray(exprs)) {
    report(c, [...path, 'matchExpressions'], `policy ${id}: matchExpressions must be a list`);
    return undefined;
  }
  exprs.forEach((e: any, i: number) => {
    if (!isMap(e) || typeof e.key !== 'string' || !['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) {
      report(c, [...path, 'matchExpressions', i], `policy ${id}: invalid selector expression (need key and operator In|NotIn|Exists|DoesNotExist)`);
    } else if ((e.operator === 'In' || e.operator === 'NotIn') && (!Array.isArray(e.values) || e.values.length === 0)) {
      report(c, [...path, 'matchExpressions', i], `policy ${id}: operator ${e.operator} needs non-empty values`);
    }
  });
  return { matchLabels: v.matchLabels, matchExpressions: exprs };
}

const scalar = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Whether a value fits a field's type for an operator (`in` lists hold such values). */
function typeProblem(def: FieldDef<unknown>, op: Operator, value: unknown): string | undefined {
  const values = op === 'in' || op === 'notIn' || op === 'under' ? (value as unknown[]) : [value];
  if (op === 'gt' || op === 'gte' || op === 'lt' || op === 'lte') {
    if (def.type !== 'number' && def.type !== 'any') return `op ${op} compares numbers, but field ${def.name} is a ${def.type}`;
    if (typeof value !== 'number') return `op ${op} needs a number value, got ${JSON.stringify(value)}`;
    return undefined;
  }
  if (op === 'under' && def.type !== 'string' && def.type !== 'list' && def.type !== 'any') return `op under compares paths, but field ${def.name} is a ${def.type}`;
  for (const x of values) {
    if (!scalar(x)) return `value ${JSON.stringify(x)} must be a scalar`;
    if (def.type === 'boolean' && op !== 'matches' && op !== 'notMatches' && typeof x !== 'boolean') return `field ${def.name} is a boolean; value ${JSON.stringify(x)} is not true or false`;
    if (def.type === 'number' && (op === 'equals' || op === 'notEquals' || op === 'in' || op === 'notIn') && typeof x !== 'number') return `field ${def.name} is a number; value ${JSON.stringify(x)} is not a number`;
  }
  return undefined;
}

function parseCriterion(c: Ctx, path: FieldPath, v: any, id: string, adapter: SubjectAdapter): Criterion | undefined {
  if (!isMap(v)) {
    report(c, path, `policy ${id}: a criterion must be a mapping`);
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length === 1 && (keys[0] === 'all' || keys[0] === 'any')) {
    const k = keys[0];
    const list = v[k];
    if (!Array.isArray(list) || list.length === 0) {
      report(c, [...path, k], `policy ${id}: ${k} needs a non-empty list`);
      return undefined;
    }
    const subs = list.map((s: unknown, i: number) => parseCriterion(c, [...path, k, i], s, id, adapter));
    if (subs.some((s) => !s)) return undefined;
    return k === 'all' ? { all: subs as Criterion[] } : { any: subs as Criterion[] };
  }
  if (keys.length === 1 && keys[0] === 'not') {
    const sub = parseCriterion(c, [...path, 'not'], v.not, id, adapter);
    return sub && { not: sub };
  }
  if (typeof v.field !== 'string') {
    report(c, path, `policy ${id}: a criterion needs field and op, or all/any/not`);
    return undefined;
  }
  let ok = true;
  const fail = (p: FieldPath, msg: string) => {
    report(c, p, `policy ${id}: ${msg}`);
    ok = false;
  };
  for (const k of keys) {
    if (['field', 'op', 'value'].includes(k)) continue;
    const guess = closest(k, ['field', 'op', 'value', 'all', 'any', 'not']);
    fail([...path, k], `unknown criterion key "${k}"${guess ? ` (did you mean "${guess}"?)` : ''}`);
  }
  const def = adapter.fields.get(v.field);
  if (!def) {
    const guess = adapter.fields.suggest(v.field);
    fail([...path, 'field'], `unknown field "${v.field}" for subject ${adapter.kind}${guess ? ` (did you mean "${guess}"?)` : ''}`);
  }
  if (!OPERATORS.includes(v.op)) {
    const guess = closest(String(v.op), OPERATORS);
    fail([...path, 'op'], `unknown op "${v.op}"${guess ? ` (did you mean "${guess}"?)` : ''} (expected ${OPERATORS.join(', ')})`);
    return undefined;
  }
  const op = v.op as Operator;
  const needsValue = op !== 'exists' && op !== 'absent';
  if (!needsValue && v.value !== undefined) fail([...path, 'value'], `op ${op} takes no value`);
  if (needsValue && v.value === undefined) fail(path, `op ${op} needs a value`);
  else if ((op === 'in' || op === 'notIn' || op === 'under') && !Array.isArray(v.value)) fail([...path, 'value'], `op ${op} needs a list value`);
  else if (op === 'matches' || op === 'notMatches') {
    try {
      compileRegex(String(v.value), { full: false });
    } catch (e) {
      fail([...path, 'value'], `invalid regular expression: ${describeError(e)}`);
    }
  } else if (def && needsValue) {
    const problem = typeProblem(def as FieldDef<unknown>, op, v.value);
    if (problem) fail([...path, 'value'], problem);
  }
  return ok ? { field: v.field, op, value: needsValue ? v.value : undefined } : undefined;
}

/** A policy reads the root target and at most one element target. */
function checkTargets(c: Ctx, path: FieldPath, criteria: Criterion, id: string, adapter: SubjectAdapter): void {
  const targets = new Set(fieldsOf(criteria).map((f) => adapter.fields.get(f)?.target).filter((t): t is string => !!t && t !== adapter.rootTarget));
  if (targets.size > 1) report(c, path, `policy ${id}: criteria mix fields of ${[...targets].join(' and ')}; a policy reads one element level at a time`);
}

function parseException(c: Ctx, path: FieldPath, raw: Record<string, any>): PolicyException | undefined {
  unknownKeys(c, path, raw, EXCEPTION_KEYS, 'exception');
  const before = c.out.diagnostics.length;
  const str = (k: string): string | undefined => {
    const v = raw[k];
    if (typeof v !== 'string' || v.trim() === '') {
      report(c, [...path, k], `exception: ${k} must be a non-empty string`);
      return undefined;
    }
    return v;
  };
  const policy = str('policy');
  const owner = str('owner');
  const reason = str('reason');
  // YAML turns an unquoted 2026-12-31 into a Date; accept both.
  const expires = raw.expires instanceof Date ? raw.expires.toISOString().slice(0, 10) : raw.expires;
  if (typeof expires !== 'string' || Number.isNaN(Date.parse(expires))) {
    report(c, [...path, 'expires'], `exception for ${policy ?? '?'}: expires must be a date (YYYY-MM-DD); every exception needs an expiry`);
  }
  if (c.out.diagnostics.length > before) return undefined;
  const opt = (k: string) => (raw[k] === undefined ? undefined : String(raw[k]));
  return {
    policy: policy!, owner: owner!, reason: reason!, expires,
    namespace: opt('namespace'), workload: opt('workload'), image: opt('image'), container: opt('container'),
    package: opt('package'), path: opt('path'),
    source: 'policy',
    origin: { file: c.doc.file, line: c.doc.positionOf(path).line },
  };
}

/** The subject a set of policies applies to, for callers that check one subject only. */
export function policiesFor(policies: readonly Policy[], kind: SubjectKind): Policy[] {
  return policies.filter((p) => p.subject === kind);
}
