/**
 * Runs policies over manifest objects and turns violations into Findings (one per
 * violating object, or per violating container for container-level policies).
 */
import type { Finding } from '../findings/finding.js';
import type { ManifestObject } from '../kube/manifests.js';
import { containersOf, podTemplateOf } from '../kube/workloads.js';
import { compileCriterion, fieldsOf, type CompiledCriterion } from './criteria.js';
import { getField, type EvalContext, type EvalSettings, type FieldHit } from './fields.js';
import { matchesAnyGlob, matchesSelector } from './match.js';
import { buildIndex, nsOf, type ObjectIndex } from './object-index.js';
import type { Policy } from './types.js';

interface CompiledPolicy {
  policy: Policy;
  criteria: CompiledCriterion;
  perContainer: boolean;
  kinds?: Set<string>;
}

export function compilePolicies(policies: readonly Policy[]): CompiledPolicy[] {
  return policies
    .filter((p) => p.enabled)
    .map((policy) => ({
      policy,
      criteria: compileCriterion(policy.criteria),
      perContainer: fieldsOf(policy.criteria).some((f) => getField(f)?.target === 'container'),
      kinds: policy.scope.kinds?.length ? new Set(policy.scope.kinds) : undefined,
    }));
}

export interface EvaluateOptions {
  settings: EvalSettings;
  /** Cluster name for scope.clusters (live mode); manifests have none. */
  cluster?: string;
  index?: ObjectIndex;
}

export function evaluatePolicies(objects: readonly ManifestObject[], policies: readonly Policy[], opts: EvaluateOptions): Finding[] {
  const compiled = compilePolicies(policies);
  const index = opts.index ?? buildIndex(objects);
  const findings: Finding[] = [];
  for (const object of objects) {
    const pod = podTemplateOf(object);
    const containers = pod ? containersOf(pod) : [];
    const ns = nsOf(object);
    const objectCtx: EvalContext = { object, pod, index, settings: opts.settings };
    const containerCtxs = containers.map((container): EvalContext => ({ object, pod, container, index, settings: opts.settings }));
    for (const cp of compiled) {
      const { policy } = cp;
      if (cp.kinds && !cp.kinds.has(object.kind)) continue;
      const scope = policy.scope;
      if (scope.clusters?.length && !(opts.cluster && matchesAnyGlob(opts.cluster, scope.clusters))) continue;
      if (scope.namespaces?.length && !matchesAnyGlob(ns, scope.namespaces)) continue;
      if (scope.excludeNamespaces?.length && scope.excludeNamespaces.some((g) => matchesAnyGlob(ns, [g]))) continue;
      if (scope.labelSelector && !matchesSelector(object.labels, scope.labelSelector)) continue;
      if (cp.perContainer) {
        for (const ctx of containerCtxs) {
          const container = ctx.container!;
          const image = String(container.container.image ?? '');
          if (scope.images?.length && !matchesAnyGlob(image, scope.images)) continue;
          const m = cp.criteria(ctx);
          if (m.holds) findings.push(toFinding(policy, object, m.hits, container.path, String(container.container.name ?? ''), image));
        }
      } else {
        if (scope.images?.length && !containers.some((c) => matchesAnyGlob(String(c.container.image ?? ''), scope.images))) continue;
        const m = cp.criteria(objectCtx);
        if (m.holds) findings.push(toFinding(policy, object, m.hits, [], undefined, undefined));
      }
    }
  }
  return findings;
}

function toFinding(
  policy: Policy,
  object: ManifestObject,
  hits: FieldHit[],
  fallbackPath: readonly (string | number)[],
  container: string | undefined,
  image: string | undefined,
): Finding {
  const path = hits.find((h) => h.path)?.path ?? fallbackPath;
  const pos = object.positionOf(path);
  const notes = [...new Set(hits.map((h) => h.note).filter((n): n is string => !!n))];
  const where = `${object.kind} ${object.namespace ? `${object.namespace}/` : ''}${object.name}${container ? ` container "${container}"` : ''}`;
  return {
    id: policy.id,
    kind: 'misconfiguration',
    severity: policy.severity,
    title: policy.name,
    detail: `${where}: ${notes.length ? notes.join('; ') : policy.description}`,
    // Objects read from a live cluster have no file: the finding names the object only.
    resource: pos.file
      ? {
          k8s: { kind: object.kind, namespace: object.namespace, name: object.name, container, file: pos.file, line: pos.line },
          file: { path: pos.file, line: pos.line, column: pos.column },
        }
      : { k8s: { kind: object.kind, namespace: object.namespace, name: object.name, container } },
    policy: { id: policy.id, name: policy.name, enforcement: policy.enforcement.join(',') },
    remediation: policy.remediation,
    references: [],
    data: {
      field: path.join('.'),
      stages: policy.stages,
      category: policy.category,
      mappings: policy.mappings,
      ...(image !== undefined ? { image } : {}),
    },
  };
}
