/**
 * REFERENCE ONLY: the old engine-proxy rule format reader (src/engine-proxy/policy.ts at
 * 0f599c8), kept for the differential test.
 *
 * Engine-proxy policies: YAML data. A policy is a list of rules; each rule names the
 * actions it applies to (see endpoints.ts), conditions over facts (facts.ts) that describe
 * a violation, and a mode: `enforce` denies, `audit` only logs "would deny".
 *
 * Conditions use the same shape and operator names as the shared policy engine
 * (src/policy/types.ts `Criterion`: {field, op, value} / all / any / not) so the two can be
 * unified once that engine evaluates non-Kubernetes objects; `under` (path at or beneath)
 * is added here for host paths.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { UserError, describeError } from '../../../src/util/errors.js';

export type Mode = 'enforce' | 'audit';
export type Op = 'exists' | 'absent' | 'equals' | 'notEquals' | 'in' | 'notIn' | 'matches' | 'notMatches' | 'under';
export const OPS: readonly Op[] = ['exists', 'absent', 'equals', 'notEquals', 'in', 'notIn', 'matches', 'notMatches', 'under'];

export type Condition =
  | { field: string; op: Op; value?: unknown }
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition };

export interface Rule {
  id: string;
  title: string;
  /** Action names or globs (`container.*`, `*`). */
  actions: string[];
  mode: Mode;
  /** The rule is violated when this holds. */
  when: Condition;
  severity?: string;
}

export interface EnginePolicy {
  name: string;
  /** Default mode for rules that do not set one; `audit` turns the whole policy into audit-only. */
  mode: Mode;
  rules: Rule[];
  /** Where the policy came from (file path or "built-in"). */
  source: string;
}

const DEFAULT_POLICY_URL = new URL('./default-policy.yaml', import.meta.url);

export function loadDefaultPolicy(): EnginePolicy {
  return parsePolicy(readFileSync(DEFAULT_POLICY_URL, 'utf8'), 'built-in default policy');
}

export function loadPolicyFile(path: string): EnginePolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read policy ${path}: ${describeError(e)}`, 'bad-policy');
  }
  return parsePolicy(text, path);
}

export function parsePolicy(text: string, source: string): EnginePolicy {
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new UserError(`${source}: invalid YAML: ${describeError(e)}`, 'bad-policy');
  }
  const bad = (msg: string): never => {
    throw new UserError(`${source}: ${msg}`, 'bad-policy');
  };
  if (!isRecord(doc)) bad('expected a mapping with "rules"');
  const d = doc as Record<string, unknown>;
  checkKeys(d, ['apiVersion', 'kind', 'name', 'mode', 'rules'], 'policy', bad);
  if (d.kind !== undefined && d.kind !== 'EngineProxyPolicy') bad(`kind must be EngineProxyPolicy, got ${JSON.stringify(d.kind)}`);
  const mode = parseMode(d.mode ?? 'enforce', 'policy mode', bad);
  if (!Array.isArray(d.rules)) bad('"rules" must be a list');
  const ids = new Set<string>();
  const rules = (d.rules as unknown[]).map((r, i) => {
    const where = `rules[${i}]`;
    if (!isRecord(r)) bad(`${where}: expected a mapping`);
    const rr = r as Record<string, unknown>;
    checkKeys(rr, ['id', 'title', 'actions', 'mode', 'when', 'severity'], where, bad);
    if (typeof rr.id !== 'string' || !rr.id) bad(`${where}: "id" must be a non-empty string`);
    const id = rr.id as string;
    if (ids.has(id)) bad(`${where}: duplicate rule id "${id}"`);
    ids.add(id);
    const actions = typeof rr.actions === 'string' ? [rr.actions] : rr.actions;
    if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === 'string' && a)) {
      bad(`${where} (${id}): "actions" must be a non-empty list of action names`);
    }
    if (rr.when === undefined) bad(`${where} (${id}): "when" is required`);
    return {
      id,
      title: typeof rr.title === 'string' ? rr.title : id,
      actions: actions as string[],
      mode: parseMode(rr.mode ?? mode, `${where} (${id}) mode`, bad),
      when: parseCondition(rr.when, `${where} (${id}).when`, bad),
      severity: typeof rr.severity === 'string' ? rr.severity : undefined,
    } satisfies Rule;
  });
  return { name: typeof d.name === 'string' ? d.name : source, mode, rules, source };
}

function parseMode(v: unknown, where: string, bad: (m: string) => never): Mode {
  if (v === 'enforce' || v === 'audit') return v;
  return bad(`${where} must be "enforce" or "audit", got ${JSON.stringify(v)}`);
}

function parseCondition(v: unknown, where: string, bad: (m: string) => never): Condition {
  if (Array.isArray(v)) return { all: v.map((c, i) => parseCondition(c, `${where}[${i}]`, bad)) };
  if (!isRecord(v)) return bad(`${where}: expected a condition mapping or a list of them`);
  const c = v as Record<string, unknown>;
  if ('all' in c || 'any' in c) {
    const key = 'all' in c ? 'all' : 'any';
    checkKeys(c, [key], where, bad);
    const list = c[key];
    if (!Array.isArray(list) || list.length === 0) bad(`${where}.${key}: expected a non-empty list`);
    const parsed = (list as unknown[]).map((x, i) => parseCondition(x, `${where}.${key}[${i}]`, bad));
    return key === 'all' ? { all: parsed } : { any: parsed };
  }
  if ('not' in c) {
    checkKeys(c, ['not'], where, bad);
    return { not: parseCondition(c.not, `${where}.not`, bad) };
  }
  checkKeys(c, ['field', 'op', 'value'], where, bad);
  if (typeof c.field !== 'string' || !c.field) bad(`${where}: "field" must be a non-empty string`);
  if (!OPS.includes(c.op as Op)) bad(`${where}: "op" must be one of ${OPS.join(', ')}, got ${JSON.stringify(c.op)}`);
  const op = c.op as Op;
  if (op === 'exists' || op === 'absent') return { field: c.field as string, op };
  if (c.value === undefined) bad(`${where}: op ${op} needs a "value"`);
  if ((op === 'in' || op === 'notIn' || op === 'under') && !Array.isArray(c.value)) bad(`${where}: op ${op} needs a list "value"`);
  if (op === 'matches' || op === 'notMatches') {
    try {
      new RegExp(String(c.value));
    } catch (e) {
      bad(`${where}: invalid regular expression: ${describeError(e)}`);
    }
  }
  return { field: c.field as string, op, value: c.value };
}

function checkKeys(o: Record<string, unknown>, allowed: string[], where: string, bad: (m: string) => never): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad(`${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
