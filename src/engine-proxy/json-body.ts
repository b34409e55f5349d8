/**
 * Reading request bodies the way the engine reads them. Go's encoding/json (Docker) and
 * json-iterator in its compatible mode (podman) match object keys case-insensitively, so
 * `{"HostConfig":{"privileged":true}}` sets Privileged. Field lookups here fold case the
 * same way, and a body with two keys that fold to the same name is refused: which one the
 * engine would pick depends on ordering JSON.parse does not preserve.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Go folds the Kelvin sign to k (JS lowercases it) and the long s to s (JS does not). */
export function foldKey(k: string): string {
  return k.toLowerCase().replace(/\u017f/g, 's');
}

/** Returns the path of the first object holding two keys that fold equal, or undefined. */
export function findAmbiguousKey(v: Json, path = '$'): string | undefined {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const r = findAmbiguousKey(v[i]!, `${path}[${i}]`);
      if (r) return r;
    }
    return undefined;
  }
  if (v === null || typeof v !== 'object') return undefined;
  const seen = new Set<string>();
  for (const [k, child] of Object.entries(v)) {
    const f = foldKey(k);
    if (seen.has(f)) return `${path}.${k}`;
    seen.add(f);
    const r = findAmbiguousKey(child, `${path}.${k}`);
    if (r) return r;
  }
  return undefined;
}

/** Case-insensitive member lookup (bodies were checked unambiguous first). */
export function member(obj: Json | undefined, key: string): Json | undefined {
  if (obj === null || obj === undefined || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
  const want = foldKey(key);
  for (const [k, v] of Object.entries(obj)) if (foldKey(k) === want) return v;
  return undefined;
}

export function memberPath(obj: Json | undefined, ...keys: string[]): Json | undefined {
  let cur = obj;
  for (const k of keys) cur = member(cur, k);
  return cur;
}

export function asString(v: Json | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function asStrings(v: Json | undefined): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
}
