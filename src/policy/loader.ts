/**
 * Loads policy packs and exception files (YAML data). The default pack ships in
 * policies/; user files add policies or override defaults by id (`enabled: false`
 * disables one; any other key replaces the default's value).
 *
 *   apiVersion: gatehouse.dev/v1
 *   kind: PolicyPack            # or PolicyExceptions
 *   policies: [ {id, name, description, severity, stages, scope, criteria, enforcement,
 *                remediation, mappings, enabled, category}, … ]
 *   exceptions: [ {policy, namespace, workload, image, container, owner, reason, expires}, … ]
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { parseSeverity, type Severity } from '../findings/finding.js';
import { loadManifests, type FieldPath, type ManifestObject } from '../kube/manifests.js';
import { UserError, describeError } from '../util/errors.js';
import { getField } from './fields.js';
import {
  ENFORCEMENTS, OPERATORS, STAGES,
  type Criterion, type Enforcement, type Policy, type PolicyException, type Stage,
} from './types.js';

const API_VERSION = 'gatehouse.dev/v1';
/** Other engines' data packs that live beside policies (read by their own loaders). */
const OTHER_PACK_KINDS = new Set(['RbacRiskPack', 'DockerfileRulePack']);

/** The default pack folder (works from src/ through tsx and from dist/ after a build). */
export function defaultPackDir(): string {
  for (const rel of ['../../policies', '../../../policies']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('default policy pack (policies/) not found next to the sources');
}

export interface LoadedPolicies {
  policies: Policy[];
  exceptions: PolicyException[];
  /** Ids defined or overridden by user files. */
  userIds: Set<string>;
}

async function loadPackObjects(paths: string[]): Promise<ManifestObject[]> {
  const { objects: all, notes } = await loadManifests(paths);
  const err = notes.find((n) => n.level === 'error');
  if (err) throw new UserError(`${err.file}${err.line ? `:${err.line}` : ''}: ${err.message}`, 'bad-policy');
  const objects = all.filter((o) => !(o.apiVersion === API_VERSION && OTHER_PACK_KINDS.has(o.kind)));
  for (const o of objects) {
    if (o.apiVersion !== API_VERSION || (o.kind !== 'PolicyPack' && o.kind !== 'PolicyExceptions')) {
      throw new UserError(`${o.source.file}:${o.source.line}: expected apiVersion ${API_VERSION} kind PolicyPack or PolicyExceptions, got ${o.apiVersion} ${o.kind}`, 'bad-policy');
    }
  }
  return objects;
}

/**
 * Loads the default pack (unless `noDefaults`) and the given user files/dirs, merging
 * user policies over defaults by id.
 */
export async function loadPolicies(userPaths: string[], opts: { noDefaults?: boolean } = {}): Promise<LoadedPolicies> {
  const byId = new Map<string, Policy>();
  const exceptions: PolicyException[] = [];
  const userIds = new Set<string>();
  const sources: { objects: ManifestObject[]; user: boolean }[] = [];
  if (!opts.noDefaults) sources.push({ objects: await loadPackObjects([defaultPackDir()]), user: false });
  if (userPaths.length) sources.push({ objects: await loadPackObjects(userPaths), user: true });
  for (const { objects, user } of sources) {
    for (const o of objects) {
      const list = o.kind === 'PolicyPack' ? o.raw.policies : o.raw.exceptions;
      if (list === undefined) continue;
      const key = o.kind === 'PolicyPack' ? 'policies' : 'exceptions';
      if (!Array.isArray(list)) throw bad(o, [key], `${key} must be a list`);
      list.forEach((entry: unknown, i: number) => {
        const path = [key, i];
        if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw bad(o, path, 'entry must be a mapping');
        if (o.kind === 'PolicyExceptions') {
          exceptions.push(parseException(o, path, entry as Record<string, any>));
          return;
        }
        const raw = entry as Record<string, any>;
        const id = requireString(o, path, raw, 'id');
        const base = byId.get(id);
        if (user) userIds.add(id);
        if (base && user) {
          byId.set(id, parsePolicy(o, path, { ...policyToRaw(base), ...raw }));
        } else if (base) {
          throw bad(o, [...path, 'id'], `duplicate policy id ${id}`);
        } else {
          byId.set(id, parsePolicy(o, path, raw));
        }
      });
    }
  }
  return { policies: [...byId.values()], exceptions, userIds };
}

function policyToRaw(p: Policy): Record<string, any> {
  const { origin: _origin, ...rest } = p;
  return { ...rest };
}

function bad(o: ManifestObject, path: FieldPath, msg: string): UserError {
  const pos = o.positionOf(path);
  return new UserError(`${pos.file}:${pos.line}: ${msg}`, 'bad-policy');
}

function requireString(o: ManifestObject, path: FieldPath, raw: Record<string, any>, key: string): string {
  const v = raw[key];
  if (typeof v !== 'string' || v.trim() === '') throw bad(o, [...path, key], `${key} must be a non-empty string`);
  return v;
}

function stringList(o: ManifestObject, path: FieldPath, v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' && typeof x !== 'number')) throw bad(o, path, `${what} must be a list of strings`);
  return v.map(String);
}

const POLICY_KEYS = new Set([
  'id', 'name', 'description', 'severity', 'stages', 'scope', 'criteria', 'enforcement', 'remediation',
  'mappings', 'enabled', 'category',
]);

function parsePolicy(o: ManifestObject, path: FieldPath, raw: Record<string, any>): Policy {
  for (const k of Object.keys(raw)) if (!POLICY_KEYS.has(k)) throw bad(o, [...path, k], `unknown policy key "${k}"`);
  const id = requireString(o, path, raw, 'id');
  let severity: Severity;
  try {
    severity = parseSeverity(String(raw.severity ?? ''));
  } catch (e) {
    throw bad(o, [...path, 'severity'], `policy ${id}: ${describeError(e)}`);
  }
  const stages = (stringList(o, [...path, 'stages'], raw.stages, 'stages') ?? ['deploy']) as Stage[];
  for (const s of stages) if (!STAGES.includes(s)) throw bad(o, [...path, 'stages'], `policy ${id}: unknown stage "${s}" (expected ${STAGES.join(', ')})`);
  const enforcement = (stringList(o, [...path, 'enforcement'], raw.enforcement, 'enforcement') ?? ['inform']) as Enforcement[];
  for (const e of enforcement) if (!ENFORCEMENTS.includes(e)) throw bad(o, [...path, 'enforcement'], `policy ${id}: unknown enforcement "${e}" (expected ${ENFORCEMENTS.join(', ')})`);
  const scopeRaw = raw.scope ?? {};
  if (typeof scopeRaw !== 'object' || Array.isArray(scopeRaw)) throw bad(o, [...path, 'scope'], `policy ${id}: scope must be a mapping`);
  for (const k of Object.keys(scopeRaw)) {
    if (!['clusters', 'namespaces', 'excludeNamespaces', 'kinds', 'labelSelector', 'images'].includes(k)) throw bad(o, [...path, 'scope', k], `policy ${id}: unknown scope key "${k}"`);
  }
  const sp = [...path, 'scope'];
  if (raw.criteria === undefined) throw bad(o, path, `policy ${id}: criteria are required`);
  const mappingsRaw = raw.mappings ?? {};
  return {
    id,
    name: typeof raw.name === 'string' ? raw.name : id,
    description: typeof raw.description === 'string' ? raw.description : '',
    severity,
    stages,
    scope: {
      clusters: stringList(o, [...sp, 'clusters'], scopeRaw.clusters, 'scope.clusters'),
      namespaces: stringList(o, [...sp, 'namespaces'], scopeRaw.namespaces, 'scope.namespaces'),
      excludeNamespaces: stringList(o, [...sp, 'excludeNamespaces'], scopeRaw.excludeNamespaces, 'scope.excludeNamespaces'),
      kinds: stringList(o, [...sp, 'kinds'], scopeRaw.kinds, 'scope.kinds'),
      labelSelector: parseSelector(o, [...sp, 'labelSelector'], scopeRaw.labelSelector, id),
      images: stringList(o, [...sp, 'images'], scopeRaw.images, 'scope.images'),
    },
    criteria: parseCriterion(o, [...path, 'criteria'], raw.criteria, id),
    enforcement,
    remediation: typeof raw.remediation === 'string' ? raw.remediation : undefined,
    mappings: {
      cis: stringList(o, [...path, 'mappings', 'cis'], mappingsRaw.cis, 'mappings.cis'),
      nist: stringList(o, [...path, 'mappings', 'nist'], mappingsRaw.nist, 'mappings.nist'),
      mitre: stringList(o, [...path, 'mappings', 'mitre'], mappingsRaw.mitre, 'mappings.mitre'),
    },
    enabled: raw.enabled === undefined ? true : raw.enabled === true,
    category: typeof raw.category === 'string' ? raw.category : undefined,
    origin: { file: o.source.file, line: o.positionOf(path).line },
  };
}

function parseSelector(o: ManifestObject, path: FieldPath, v: any, id: string): Policy['scope']['labelSelector'] {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(o, path, `policy ${id}: labelSelector must be a mapping`);
  const exprs = v.matchExpressions ?? [];
  if (!Array.isArray(exprs)) throw bad(o, [...path, 'matchExpressions'], `policy ${id}: matchExpressions must be a list`);
  exprs.forEach((e: any, i: number) => {
    if (!e || typeof e.key !== 'string' || !['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) {
      throw bad(o, [...path, 'matchExpressions', i], `policy ${id}: invalid selector expression (need key and operator In|NotIn|Exists|DoesNotExist)`);
    }
    if ((e.operator === 'In' || e.operator === 'NotIn') && (!Array.isArray(e.values) || e.values.length === 0)) {
      throw bad(o, [...path, 'matchExpressions', i], `policy ${id}: operator ${e.operator} needs non-empty values`);
    }
  });
  return { matchLabels: v.matchLabels, matchExpressions: exprs };
}

function parseCriterion(o: ManifestObject, path: FieldPath, v: any, id: string): Criterion {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(o, path, `policy ${id}: a criterion must be a mapping`);
  const keys = Object.keys(v);
  if (keys.length === 1 && (keys[0] === 'all' || keys[0] === 'any')) {
    const list = v[keys[0]];
    if (!Array.isArray(list) || list.length === 0) throw bad(o, [...path, keys[0]], `policy ${id}: ${keys[0]} needs a non-empty list`);
    const subs = list.map((s: unknown, i: number) => parseCriterion(o, [...path, keys[0]!, i], s, id));
    return keys[0] === 'all' ? { all: subs } : { any: subs };
  }
  if (keys.length === 1 && keys[0] === 'not') return { not: parseCriterion(o, [...path, 'not'], v.not, id) };
  if (typeof v.field !== 'string') throw bad(o, path, `policy ${id}: criterion needs field+op, or all/any/not`);
  if (!getField(v.field)) throw bad(o, [...path, 'field'], `policy ${id}: unknown field "${v.field}"`);
  if (!OPERATORS.includes(v.op)) throw bad(o, [...path, 'op'], `policy ${id}: unknown op "${v.op}" (expected ${OPERATORS.join(', ')})`);
  for (const k of keys) if (!['field', 'op', 'value'].includes(k)) throw bad(o, [...path, k], `policy ${id}: unknown criterion key "${k}"`);
  const needsValue = !['exists', 'absent'].includes(v.op);
  if (needsValue && v.value === undefined) throw bad(o, path, `policy ${id}: op ${v.op} needs a value`);
  if ((v.op === 'in' || v.op === 'notIn') && !Array.isArray(v.value)) throw bad(o, [...path, 'value'], `policy ${id}: op ${v.op} needs a list value`);
  if (v.op === 'matches' || v.op === 'notMatches') {
    try {
      new RegExp(String(v.value));
    } catch (e) {
      throw bad(o, [...path, 'value'], `policy ${id}: invalid regular expression: ${describeError(e)}`);
    }
  }
  return { field: v.field, op: v.op, value: v.value };
}

function parseException(o: ManifestObject, path: FieldPath, raw: Record<string, any>): PolicyException {
  const allowed = ['policy', 'namespace', 'workload', 'image', 'container', 'owner', 'reason', 'expires'];
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) throw bad(o, [...path, k], `unknown exception key "${k}"`);
  const policy = requireString(o, path, raw, 'policy');
  const owner = requireString(o, path, raw, 'owner');
  const reason = requireString(o, path, raw, 'reason');
  // YAML turns an unquoted 2026-12-31 into a Date; accept both.
  const expiresRaw = raw.expires instanceof Date ? raw.expires.toISOString().slice(0, 10) : raw.expires;
  if (typeof expiresRaw !== 'string' || Number.isNaN(Date.parse(expiresRaw))) {
    throw bad(o, [...path, 'expires'], `exception for ${policy}: expires must be a date (YYYY-MM-DD); every exception needs an expiry`);
  }
  const opt = (k: string) => (raw[k] === undefined ? undefined : String(raw[k]));
  return {
    policy, owner, reason, expires: expiresRaw,
    namespace: opt('namespace'), workload: opt('workload'), image: opt('image'), container: opt('container'),
    origin: { file: o.source.file, line: o.positionOf(path).line },
  };
}

