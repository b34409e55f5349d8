/**
 * The engine proxy's old rule format (`kind: EngineProxyPolicy`, or a bare `rules:`
 * mapping), deprecated: it converts into a PolicyPack about `engine-request`, which the one
 * policy engine then checks and evaluates like any other pack.
 *
 *   name: my-policy                    →  metadata.name
 *   mode: enforce | audit              →  default of each rule's mode
 *   rules:
 *     - id, title, severity            →  id, name (and description), severity
 *       actions: [container.create]    →  scope.actions
 *       mode: enforce | audit          →  enforcement: [block] | [inform]
 *       when: <condition or list>      →  criteria (a list becomes all:)
 *
 * Conditions already had the Criterion shape, so they are copied; the pack loader then
 * checks fields, operators, values and regexes. Every line of the generated pack is mapped
 * back to the line of the old file it came from, so a problem found in the pack (an unknown
 * field such as `container.privilegd`) is reported at the old file's line.
 */
import { stringify } from 'yaml';
import { parsePositionedYaml, type FieldPath, type PositionedDocument } from '../util/positioned-yaml.js';
import { UserError } from '../util/errors.js';

export interface ConvertedPolicy {
  /** The pack, as YAML text (`apiVersion: gatehouse.dev/v1`, `kind: PolicyPack`, `subject: engine-request`). */
  packYaml: string;
  /** The old policy's name (metadata.name of the pack). */
  name: string;
  /** Number of rules converted. */
  rules: number;
  /** The line of the old file a line of packYaml came from (1-based both). */
  sourceLineOf(packLine: number): number;
}

const TOP_KEYS = ['apiVersion', 'kind', 'name', 'mode', 'rules'];
const RULE_KEYS = ['id', 'title', 'actions', 'mode', 'when', 'severity'];
/** The old rules had no severity; these stand in for it when a rule sets none. */
const DEFAULT_SEVERITY = { enforce: 'HIGH', audit: 'MEDIUM' } as const;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Whether a parsed YAML document is in the old engine-proxy rule format. */
export function isLegacyPolicy(doc: unknown): boolean {
  if (!isMap(doc)) return false;
  if (doc.kind === 'EngineProxyPolicy') return true;
  return doc.kind === undefined && doc.apiVersion === undefined && 'rules' in doc;
}

type Line = [text: string, from: FieldPath];

/** A value as one line of YAML (flow style, quoted where needed); JSON when YAML would need more lines. */
function flow(v: unknown): string {
  const text = stringify(v, { collectionStyle: 'flow', lineWidth: 0, blockQuote: false }).replace(/\n$/, '');
  return text.includes('\n') ? JSON.stringify(v) : text;
}

/**
 * Converts the text of an old-format rule file into a PolicyPack (one condition per line,
 * in flow style). Structural problems of
 * the old format (unknown keys, a missing id, actions or when, a bad mode, duplicate ids)
 * are UserErrors naming `source:line`; everything about conditions is left to the pack
 * loader, which reports through sourceLineOf().
 */
export function convertLegacyPolicy(text: string, source: string): ConvertedPolicy {
  const docs = parsePositionedYaml(text, source);
  if (docs.length !== 1) throw new UserError(`${source}:1: expected one engine-proxy policy document, found ${docs.length}`, 'bad-policy');
  const doc = docs[0]!;
  const bad = (path: FieldPath, msg: string): never => {
    throw new UserError(`${source}:${doc.positionOf(path).line}: ${msg}`, 'bad-policy');
  };
  const d = doc.value;
  if (!isMap(d)) return bad([], 'expected a mapping with "rules"');
  if (!isLegacyPolicy(d)) bad(['kind'], `not an engine-proxy rule file (kind ${JSON.stringify(d.kind)})`);
  checkKeys(d, [], TOP_KEYS, 'policy', bad);
  const mode = parseMode(d.mode ?? 'enforce', ['mode'], 'policy mode', bad);
  if (!Array.isArray(d.rules)) bad(['rules'], '"rules" must be a list');
  const name = typeof d.name === 'string' && d.name ? d.name : source.split('/').pop()!.replace(/\.ya?ml$/i, '');

  const lines: Line[] = [
    [`# Converted from the engine-proxy rule file ${source} (the EngineProxyPolicy format is deprecated).`, []],
    ['apiVersion: gatehouse.dev/v1', []],
    ['kind: PolicyPack', []],
    ['metadata:', []],
    [`  name: ${flow(name)}`, ['name']],
    ['subject: engine-request', []],
    ['policies:', ['rules']],
  ];
  const ids = new Set<string>();
  (d.rules as unknown[]).forEach((r, i) => {
    const at: FieldPath = ['rules', i];
    if (!isMap(r)) return bad(at, `rules[${i}]: expected a mapping`);
    checkKeys(r, at, RULE_KEYS, `rules[${i}]`, bad);
    if (typeof r.id !== 'string' || !r.id) bad([...at, 'id'], `rules[${i}]: "id" must be a non-empty string`);
    const id = r.id as string;
    if (ids.has(id)) bad([...at, 'id'], `rules[${i}]: duplicate rule id "${id}"`);
    ids.add(id);
    const actions = typeof r.actions === 'string' ? [r.actions] : r.actions;
    if (!Array.isArray(actions) || actions.length === 0 || !actions.every((a) => typeof a === 'string' && a)) {
      bad([...at, 'actions'], `rules[${i}] (${id}): "actions" must be a non-empty list of action names`);
    }
    if (r.when === undefined) bad(at, `rules[${i}] (${id}): "when" is required`);
    const ruleMode = parseMode(r.mode ?? mode, [...at, 'mode'], `rules[${i}] (${id}) mode`, bad);
    const title = typeof r.title === 'string' && r.title ? r.title : id;
    lines.push([`  - id: ${flow(id)}`, [...at, 'id']]);
    lines.push([`    name: ${flow(title)}`, [...at, 'title']]);
    lines.push([`    description: ${flow(title)}`, [...at, 'title']]);
    lines.push([`    severity: ${flow(r.severity ?? DEFAULT_SEVERITY[ruleMode])}`, r.severity === undefined ? at : [...at, 'severity']]);
    lines.push([`    scope: ${flow({ actions })}`, [...at, 'actions']]);
    lines.push([`    enforcement: [${ruleMode === 'enforce' ? 'block' : 'inform'}]`, r.mode === undefined ? at : [...at, 'mode']]);
    const when = Array.isArray(r.when) ? { all: r.when } : r.when;
    emitCriterion(when, 4, 'criteria: ', [...at, 'when'], Array.isArray(r.when), lines);
  });
  const map = lines.map(([, from]) => doc.positionOf(from).line);
  return {
    packYaml: `${lines.map(([t]) => t).join('\n')}\n`,
    name,
    rules: ids.size,
    sourceLineOf: (packLine) => map[Math.min(Math.max(packLine, 1), map.length) - 1] ?? 1,
  };
}

/**
 * One criterion as block YAML, one leaf condition per line (a flow mapping),
 * each line remembering the path of the old condition. `listWhen`: the old `when` was a
 * list, now under `all:`, so its elements' old paths have no `all` segment.
 */
function emitCriterion(c: unknown, col: number, lead: string, from: FieldPath, listWhen: boolean, out: Line[]): void {
  const pad = ' '.repeat(col);
  const combinator = isMap(c) && Object.keys(c).length === 1 ? Object.keys(c)[0] : undefined;
  const nested = (combinator === 'all' || combinator === 'any') && Array.isArray((c as Record<string, unknown>)[combinator]) && ((c as Record<string, unknown[]>)[combinator]!).length > 0;
  const negated = combinator === 'not';
  if (!nested && !negated) {
    out.push([`${pad}${lead}${flow(c)}`, from]);
    return;
  }
  if (lead.endsWith(': ')) {
    out.push([`${pad}${lead.trimEnd()}`, from]);
    emitCriterion(c, col + 2, '', from, listWhen, out);
    return;
  }
  const keyCol = col + lead.length;
  const value = (c as Record<string, unknown>)[combinator!];
  if (negated) {
    const isLeaf = !isMap(value) || Object.keys(value).length !== 1 || !['all', 'any', 'not'].includes(Object.keys(value)[0]!);
    if (isLeaf) out.push([`${pad}${lead}not: ${flow(value)}`, [...from, 'not']]);
    else {
      out.push([`${pad}${lead}not:`, from]);
      emitCriterion(value, keyCol + 2, '', [...from, 'not'], false, out);
    }
    return;
  }
  out.push([`${pad}${lead}${combinator}:`, from]);
  (value as unknown[]).forEach((sub, i) => emitCriterion(sub, keyCol + 2, '- ', listWhen ? [...from, i] : [...from, combinator!, i], false, out));
}

function parseMode(v: unknown, path: FieldPath, what: string, bad: (p: FieldPath, m: string) => never): 'enforce' | 'audit' {
  if (v === 'enforce' || v === 'audit') return v;
  return bad(path, `${what} must be "enforce" or "audit", got ${JSON.stringify(v)}`);
}

function checkKeys(o: Record<string, unknown>, path: FieldPath, allowed: string[], where: string, bad: (p: FieldPath, m: string) => never): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) bad([...path, k], `${where}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
}

/** Re-exported for callers that read a file before deciding how to load it. */
export type { PositionedDocument };
