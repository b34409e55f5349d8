/**
 * The pod template of a workload object (where it lives per kind: workload-kinds.ts), so
 * checks written once for a pod spec apply to Pods, Deployments, CronJobs, … and report the
 * right field position.
 */
import type { FieldPath, ManifestObject } from './manifests.js';
import { workloadKindOf } from './workload-kinds.js';

export interface PodTemplateRef {
  /** The pod spec (never null when returned). */
  spec: Record<string, any>;
  /** Pod metadata (annotations matter to Pod Security). */
  metadata: Record<string, any>;
  /** Path of the spec inside the object. */
  specPath: FieldPath;
  metadataPath: FieldPath;
}

export function getIn(value: unknown, path: FieldPath): any {
  let v: any = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[k as any];
  }
  return v;
}

export function podTemplateOf(obj: ManifestObject): PodTemplateRef | undefined {
  const kind = workloadKindOf(obj.kind);
  // `known`: the API group serves the kind (a CRD called Deployment has no pod template).
  if (!kind || kind.spec !== 'pod' || !obj.known) return undefined;
  const base: FieldPath = kind.template;
  const spec = getIn(obj.raw, [...base, 'spec']);
  if (!spec || typeof spec !== 'object') return undefined;
  const metadata = getIn(obj.raw, [...base, 'metadata']);
  return {
    spec,
    metadata: metadata && typeof metadata === 'object' ? metadata : {},
    specPath: [...base, 'spec'],
    metadataPath: [...base, 'metadata'],
  };
}

export type ContainerKind = 'containers' | 'initContainers' | 'ephemeralContainers';

export interface ContainerRef {
  container: Record<string, any>;
  kind: ContainerKind;
  index: number;
  /** Path of the container inside the object. */
  path: FieldPath;
}

export function containersOf(pod: PodTemplateRef): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const kind of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const list = pod.spec[kind];
    if (!Array.isArray(list)) continue;
    list.forEach((c, index) => {
      if (c && typeof c === 'object') out.push({ container: c, kind, index, path: [...pod.specPath, kind, index] });
    });
  }
  return out;
}
