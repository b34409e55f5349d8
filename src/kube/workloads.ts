/**
 * Where the pod template lives in each workload kind, so checks written once for a pod
 * spec apply to Pods, Deployments, CronJobs, … and report the right field position.
 */
import type { FieldPath, ManifestObject } from './manifests.js';

export interface PodTemplateRef {
  /** The pod spec (never null when returned). */
  spec: Record<string, any>;
  /** Pod metadata (annotations matter to Pod Security). */
  metadata: Record<string, any>;
  /** Path of the spec inside the object. */
  specPath: FieldPath;
  metadataPath: FieldPath;
}

const TEMPLATE_PATHS: Record<string, FieldPath> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

export const WORKLOAD_KINDS = new Set(['Pod', ...Object.keys(TEMPLATE_PATHS)]);

export function getIn(value: unknown, path: FieldPath): any {
  let v: any = value;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[k as any];
  }
  return v;
}

export function podTemplateOf(obj: ManifestObject): PodTemplateRef | undefined {
  const base: FieldPath | undefined = obj.kind === 'Pod' ? [] : TEMPLATE_PATHS[obj.kind];
  if (!base || !obj.known) return undefined;
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
