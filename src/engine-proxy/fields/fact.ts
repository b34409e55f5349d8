/** How engine-request fields read the facts of one request (src/engine-proxy/facts.ts). */
import { hit, type FieldDef, type FieldHit, type FieldType } from '../../policy/fields.js';
import type { FactValue, Facts } from '../facts.js';

export type EngineFieldDef = FieldDef<Facts> & { target: 'request' };

/**
 * The values of one fact: none when it is missing, an empty string or an empty list (the
 * old proxy evaluator treated those as absent, and so does `exists` here); one value per
 * element of a list fact (an empty element, such as a device without PathOnHost, is still
 * one: the list is not empty).
 */
export function factHits(v: FactValue | undefined, name: string): FieldHit[] {
  if (v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.map((x) => hit(x, [name]));
  return [hit(v, [name])];
}

/** A field that reads the fact of the same name. */
export function fact(name: string, type: FieldType, description: string): EngineFieldDef {
  return { name, type, description, target: 'request', extract: (f) => factHits(f[name], name) };
}
