/** Package URLs through packageurl-js (it normalizes per type, e.g. PyPI names). */
import { PackageURL } from 'packageurl-js';

export function makePurl(
  type: string,
  namespace: string | undefined,
  name: string,
  version: string | undefined,
  qualifiers?: Record<string, string | undefined>,
): string {
  const q: Record<string, string> = {};
  for (const [k, v] of Object.entries(qualifiers ?? {})) if (v) q[k] = v;
  try {
    return new PackageURL(type, namespace || undefined, name, version || undefined, Object.keys(q).length ? q : undefined, undefined).toString();
  } catch {
    // A name the type's rules reject (seen in the wild): still identify it, as a generic purl.
    return new PackageURL('generic', undefined, namespace ? `${namespace}/${name}` : name, version || undefined, undefined, undefined).toString();
  }
}
