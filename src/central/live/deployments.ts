/**
 * Which watched objects are "deployments" in Central's sense (StackRox's): top-level
 * workloads, not owned by another workload (a ReplicaSet of a Deployment, a Job of a
 * CronJob and the pods of either are not), and every container on a plain host.
 */
import { hash128 } from '../../findings/fingerprint.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';

export interface ObjectMeta {
  kind: string;
  namespace: string;
  name: string;
  body: Record<string, any>;
}

export function deploymentId(sourceId: string, kind: string, namespace: string, name: string): string {
  return hash128(`${sourceId}\u001f${kind}\u001f${namespace}\u001f${name}`);
}

/** Whether a Kubernetes object is a top-level workload, or a host container. */
export function isDeployment(o: ObjectMeta): boolean {
  if (o.kind === 'Container') return true;
  const wk = workloadKindOf(o.kind);
  if (!wk?.runsPods) return false;
  const owners = (o.body.metadata?.ownerReferences ?? []) as { kind?: string; controller?: boolean }[];
  return !owners.some((r) => r.controller && r.kind && workloadKindOf(r.kind)?.runsPods);
}

/** The images a deployment runs: its containers' image references. */
export function imagesOf(o: ObjectMeta): string[] {
  if (o.kind === 'Container') return [String(o.body.Config?.Image ?? o.body.Image ?? '')].filter(Boolean);
  const wk = workloadKindOf(o.kind);
  let spec: any = o.body;
  for (const k of wk?.template ?? []) spec = spec?.[k];
  spec = spec?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].map((c: { image?: string }) => String(c.image ?? '')).filter(Boolean);
}

export function labelsOf(o: ObjectMeta): Record<string, string> {
  if (o.kind === 'Container') return (o.body.Config?.Labels ?? {}) as Record<string, string>;
  return (o.body.metadata?.labels ?? {}) as Record<string, string>;
}
