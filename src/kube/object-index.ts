/**
 * A cluster-wide view of the loaded objects, for checks that relate objects to each other
 * (services without pods, missing service accounts, namespaces without quotas).
 */
import type { ManifestObject } from './manifests.js';
import { podTemplateOf } from './workloads.js';

export interface ObjectIndex {
  all: readonly ManifestObject[];
  byKind(kind: string): readonly ManifestObject[];
  find(kind: string, namespace: string | undefined, name: string): ManifestObject | undefined;
  /** Pod templates with their labels and namespace (for selector checks). */
  podTemplates(): readonly { object: ManifestObject; namespace: string; labels: Record<string, string> }[];
  /** Pod templates of one namespace. */
  podTemplatesIn(namespace: string): readonly { object: ManifestObject; namespace: string; labels: Record<string, string> }[];
  /** Objects of a kind in one namespace. */
  byKindIn(kind: string, namespace: string): readonly ManifestObject[];
  namespaces(): ReadonlySet<string>;
}

export const nsOf = (o: ManifestObject): string => o.namespace ?? 'default';

/**
 * Maps are built on first use: most policies read one object, and admission sends one
 * object, so an evaluation that never asks a cross-object question pays nothing for them.
 */
export function buildIndex(objects: readonly ManifestObject[]): ObjectIndex {
  let maps: { kinds: Map<string, ManifestObject[]>; byKey: Map<string, ManifestObject>; kindNs: Map<string, ManifestObject[]> } | undefined;
  const index = () => {
    if (maps) return maps;
    const kinds = new Map<string, ManifestObject[]>();
    const byKey = new Map<string, ManifestObject>();
    const kindNs = new Map<string, ManifestObject[]>();
    for (const o of objects) {
      let l = kinds.get(o.kind);
      if (!l) kinds.set(o.kind, (l = []));
      l.push(o);
      byKey.set(`${o.kind}/${nsOf(o)}/${o.name}`, o);
      const key = `${o.kind}/${nsOf(o)}`;
      let k = kindNs.get(key);
      if (!k) kindNs.set(key, (k = []));
      k.push(o);
    }
    return (maps = { kinds, byKey, kindNs });
  };
  let templates: { object: ManifestObject; namespace: string; labels: Record<string, string> }[] | undefined;
  let nss: Set<string> | undefined;
  let templatesByNs: Map<string, { object: ManifestObject; namespace: string; labels: Record<string, string> }[]> | undefined;
  const podTemplates = () =>
    (templates ??= objects.flatMap((o) => {
      const t = podTemplateOf(o);
      if (!t) return [];
      const labels = t.metadata.labels && typeof t.metadata.labels === 'object' ? (t.metadata.labels as Record<string, string>) : {};
      return [{ object: o, namespace: nsOf(o), labels }];
    }));
  return {
    all: objects,
    byKind: (kind) => index().kinds.get(kind) ?? [],
    find: (kind, namespace, name) => {
      const { byKey } = index();
      return byKey.get(`${kind}/${namespace ?? 'default'}/${name}`) ?? (kind === 'Namespace' || kind.startsWith('Cluster') ? byKey.get(`${kind}/default/${name}`) : undefined);
    },
    podTemplates,
    podTemplatesIn: (ns) => {
      if (!templatesByNs) {
        templatesByNs = new Map();
        for (const t of podTemplates()) {
          let l = templatesByNs.get(t.namespace);
          if (!l) templatesByNs.set(t.namespace, (l = []));
          l.push(t);
        }
      }
      return templatesByNs.get(ns) ?? [];
    },
    byKindIn: (kind, ns) => index().kindNs.get(`${kind}/${ns}`) ?? [],
    namespaces: () => (nss ??= new Set(objects.filter((o) => o.kind !== 'Namespace' && o.namespace).map((o) => o.namespace!).concat(
      (index().kinds.get('Namespace') ?? []).map((n) => n.name)))),
  };
}
