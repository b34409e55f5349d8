/** Label selectors (Kubernetes semantics) and the scope test shared by every subject. */
import { matchesAnyGlob, matchesGlob } from '../util/glob.js';
import type { ScopeFacts } from './subject.js';
import type { LabelSelector, PolicyScope } from './types.js';

export { matchesAnyGlob, matchesGlob } from '../util/glob.js';

export function matchesSelector(labels: Record<string, string>, sel: LabelSelector | undefined): boolean {
  if (!sel) return true;
  const ml = sel.matchLabels;
  if (ml) for (const k in ml) if (labels[k] !== String(ml[k])) return false;
  if (!sel.matchExpressions) return true;
  for (const e of sel.matchExpressions) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = (e.values ?? []).map(String);
    switch (e.operator) {
      case 'In': if (!has || !values.includes(labels[e.key]!)) return false; break;
      case 'NotIn': if (has && values.includes(labels[e.key]!)) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false;
    }
  }
  return true;
}

/** `container.*` covers every container action; `*` every action. */
export function matchesAction(action: string, patterns: readonly string[]): boolean {
  return patterns.some((a) => a === '*' || a === action || (a.endsWith('.*') && action.startsWith(a.slice(0, -1))));
}

/** Whether a node is inside a policy's scope. Keys a node has no fact for exclude it. */
export function inScope(scope: PolicyScope, facts: ScopeFacts): boolean {
  if (scope.clusters?.length && !(facts.cluster !== undefined && matchesAnyGlob(facts.cluster, scope.clusters))) return false;
  if (scope.namespaces?.length || scope.excludeNamespaces?.length) {
    const ns = facts.namespace ?? 'default';
    if (scope.namespaces?.length && !matchesAnyGlob(ns, scope.namespaces)) return false;
    if (scope.excludeNamespaces?.some((g) => matchesGlob(ns, g))) return false;
  }
  if (scope.kinds?.length && !(facts.kind !== undefined && scope.kinds.includes(facts.kind))) return false;
  if (scope.labelSelector && !matchesSelector(facts.labels ?? {}, scope.labelSelector)) return false;
  if (scope.images?.length && !(facts.images ?? []).some((i) => matchesAnyGlob(i, scope.images))) return false;
  if (scope.actions?.length && !(facts.action !== undefined && matchesAction(facts.action, scope.actions))) return false;
  return true;
}
