/**
 * The field registry: every criterion names a field registered here. Adding a field is
 * adding one entry (see src/kube/fields/). A field extracts zero or more values, each with
 * the path of the YAML node it came from, so findings point at the offending line.
 */
import type { FieldPath, ManifestObject } from '../kube/manifests.js';
import type { ContainerRef, PodTemplateRef } from '../kube/workloads.js';
import type { ObjectIndex } from './object-index.js';
import type { PssPolicy } from '../kube/pss/evaluate.js';

/** 'object' fields read the whole object; 'container' fields are evaluated per container. */
export type FieldTarget = 'object' | 'container';

export interface FieldHit {
  value: unknown;
  /** Path inside the object of the node the value came from. */
  path?: FieldPath;
  /** Short explanation used in the finding detail. */
  note?: string;
}

export interface EvalContext {
  object: ManifestObject;
  pod?: PodTemplateRef;
  container?: ContainerRef;
  index: ObjectIndex;
  settings: EvalSettings;
}

export interface EvalSettings {
  /** Pod Security level/version used by pss.* fields. */
  pss: PssPolicy;
}

export interface FieldDef {
  name: string;
  target: FieldTarget;
  type: 'string' | 'number' | 'boolean' | 'list' | 'any';
  description: string;
  /**
   * The values found. `undefined` means the field does not apply to this object (a PDB
   * field on a Deployment), so no criterion over it holds; `[]` means it applies but is unset.
   */
  extract(ctx: EvalContext): FieldHit[] | undefined;
}

const registry = new Map<string, FieldDef>();

export function registerFields(defs: readonly FieldDef[]): void {
  for (const d of defs) {
    if (registry.has(d.name)) throw new Error(`field ${d.name} registered twice`);
    registry.set(d.name, d);
  }
}

export function getField(name: string): FieldDef | undefined {
  return registry.get(name);
}

export function allFields(): FieldDef[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Helpers for field definitions. */
export const hit = (value: unknown, path?: FieldPath, note?: string): FieldHit => ({ value, path, note });
export const present = (v: unknown): boolean => v !== undefined && v !== null;
