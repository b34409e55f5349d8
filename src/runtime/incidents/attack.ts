/** The ATT&CK mapping data (policies/attack/techniques.yaml), loaded and checked once. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { defaultPackDir } from '../../policy/builtin.js';
import { UserError } from '../../util/errors.js';

export interface AttackTactic { tag: string; id: string; name: string; order: number }

export interface AttackMap {
  tactics: AttackTactic[];
  tacticByTag: Map<string, AttackTactic>;
  techniques: Map<string, { name: string; tactics: string[] }>;
  rules: Map<string, string[]>;
  audit: Map<string, string[]>;
  denials: Map<string, string[]>;
  lateral: string[];
}

const KEYS = ['tactics', 'techniques', 'rules', 'audit', 'denials', 'lateral'];

function fail(file: string, what: string): never {
  throw new UserError(`${file}: ${what}`, 'bad-attack-map');
}

function stringList(file: string, where: string, v: unknown): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(file, `${where} must be a list of strings`);
  return v as string[];
}

/** Parses the mapping; unknown keys, techniques without a known tactic and rules naming unknown techniques are errors. */
export function parseAttackMap(text: string, file = 'techniques.yaml'): AttackMap {
  const doc = load(text) as Record<string, unknown> | null;
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) fail(file, 'expected a mapping');
  for (const k of Object.keys(doc)) if (!KEYS.includes(k)) fail(file, `unknown field "${k}"`);
  if (!Array.isArray(doc.tactics)) fail(file, 'tactics must be a list');
  const tactics = (doc.tactics as Array<Record<string, unknown>>).map((t, order) => {
    if (typeof t?.tag !== 'string' || typeof t.id !== 'string' || typeof t.name !== 'string') fail(file, `tactics[${order}] needs tag, id and name`);
    return { tag: t.tag, id: t.id, name: t.name, order };
  });
  const tacticByTag = new Map(tactics.map((t) => [t.tag, t]));
  const techniques = new Map<string, { name: string; tactics: string[] }>();
  for (const [id, v] of Object.entries((doc.techniques ?? {}) as Record<string, { name?: unknown; tactics?: unknown }>)) {
    if (typeof v?.name !== 'string') fail(file, `technique ${id} needs a name`);
    const ts = stringList(file, `technique ${id} tactics`, v.tactics);
    for (const t of ts) if (!tacticByTag.has(t)) fail(file, `technique ${id}: unknown tactic ${t}`);
    techniques.set(id, { name: v.name, tactics: ts });
  }
  const techMap = (key: string): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const [name, v] of Object.entries((doc[key] ?? {}) as Record<string, unknown>)) {
      const ids = stringList(file, `${key}.${name}`, v);
      for (const id of ids) if (!techniques.has(id)) fail(file, `${key}.${name}: unknown technique ${id}`);
      out.set(name, ids);
    }
    return out;
  };
  const lateral = stringList(file, 'lateral', doc.lateral ?? []);
  for (const id of lateral) if (!techniques.has(id)) fail(file, `lateral: unknown technique ${id}`);
  return { tactics, tacticByTag, techniques, rules: techMap('rules'), audit: techMap('audit'), denials: techMap('denials'), lateral };
}

let cached: AttackMap | undefined;

/** The built-in mapping from policies/attack/techniques.yaml. */
export function defaultAttackMap(): AttackMap {
  if (!cached) {
    const file = join(defaultPackDir(), 'attack', 'techniques.yaml');
    cached = parseAttackMap(readFileSync(file, 'utf8'), file);
  }
  return cached;
}
