/**
 * Field registries: every criterion names a field registered for its subject. A registry
 * is an instance each subject adapter owns (no global state), so loading a pack never
 * depends on which engine happened to register first. Adding a field is adding one entry
 * to the field-set file of its subject.
 *
 * A field extracts zero or more values, each with the path of the node it came from (so a
 * finding points at the offending YAML line) and an optional note for the finding detail.
 */
import type { FieldPath } from '../util/positioned-yaml.js';

export type { FieldPath } from '../util/positioned-yaml.js';

/** `list`: a list of scalars (a criterion holds when one element does). */
export type FieldType = 'string' | 'number' | 'boolean' | 'list' | 'any';

export interface FieldHit {
  value: unknown;
  /** Path inside the subject of the node the value came from. */
  path?: FieldPath;
  /** Short explanation used in the finding detail. */
  note?: string;
}

export interface FieldDef<C> {
  name: string;
  type: FieldType;
  /** One line for `gatehouse policy fields` and docs/policy-fields.md. */
  description: string;
  /**
   * The level of the subject the field reads: the subject's root target ("object",
   * "image", "request", "alert") or one of its element targets ("container",
   * "vulnerability", "secret", "component"). A policy reading an element target is
   * evaluated once per element and reports one violation per violating element.
   */
  target: string;
  /**
   * The values found. `undefined` means the field does not apply to this subject (a PDB
   * field on a Deployment), so no criterion over it holds; `[]` means it applies but is unset.
   */
  extract(ctx: C): FieldHit[] | undefined;
}

export class FieldRegistry<C> {
  private readonly defs = new Map<string, FieldDef<C>>();

  constructor(defs: readonly FieldDef<C>[] = []) {
    this.register(defs);
  }

  register(defs: readonly FieldDef<C>[]): this {
    for (const d of defs) {
      if (this.defs.has(d.name)) throw new Error(`field ${d.name} registered twice`);
      this.defs.set(d.name, d);
    }
    return this;
  }

  get(name: string): FieldDef<C> | undefined {
    return this.defs.get(name);
  }

  all(): FieldDef<C>[] {
    return [...this.defs.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The registered name closest to a misspelt one, if any is close enough to suggest. */
  suggest(name: string): string | undefined {
    return closest(name, [...this.defs.keys()]);
  }
}

/** Damerau-free Levenshtein distance; short strings only (field and key names). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The candidate within a third of the name's length in edits (at least 2), or a suffix match. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  if (best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3))) return best;
  const tail = name.split('.').pop()!;
  return candidates.find((c) => c.endsWith(`.${tail}`));
}

/** Helpers for field definitions. */
export const hit = (value: unknown, path?: FieldPath, note?: string): FieldHit => ({ value, path, note });
export const present = (v: unknown): boolean => v !== undefined && v !== null;
