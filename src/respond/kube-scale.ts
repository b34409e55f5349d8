/**
 * Scale a workload to zero through its scale subresource: a Deployment, StatefulSet or
 * ReplicaSet named directly, or the controller of a pod (pod → ReplicaSet → Deployment,
 * pod → StatefulSet). The previous replica count is kept in an annotation
 * (`gatehouse.dev/scaled-from`) for whoever restores it. DaemonSets and Jobs have no scale:
 * refused with a hint.
 */
import { KubeHttpError, mustGet, type KubeApi } from './kube-api.js';
import { describeTarget, type KubeTarget, type ResponseAction } from './types.js';

const SCALABLE = new Set(['Deployment', 'StatefulSet', 'ReplicaSet']);
export const SCALED_FROM = 'gatehouse.dev/scaled-from';

interface Owned {
  metadata: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] };
}

/** The workload to scale for a target: itself when scalable, else its top controller. */
export async function scalableWorkload(api: KubeApi, target: KubeTarget): Promise<KubeTarget | string> {
  let t = target;
  for (let depth = 0; depth < 3; depth++) {
    if (SCALABLE.has(t.kind)) {
      // A ReplicaSet a Deployment owns is scaled through the Deployment (else it scales back).
      if (t.kind !== 'ReplicaSet') return t;
      const rs = await mustGet<Owned>(api, t);
      const owner = rs.metadata.ownerReferences?.find((o) => o.controller && o.kind === 'Deployment');
      return owner ? { ...t, kind: 'Deployment', name: owner.name } : t;
    }
    if (t.kind !== 'Pod') return `${t.kind} has no scale subresource (scale-to-zero applies to Deployments, StatefulSets and ReplicaSets)`;
    const pod = await mustGet<Owned>(api, t);
    const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
    if (!owner) return `${describeTarget(t)} has no controller to scale (delete the pod instead)`;
    if (!SCALABLE.has(owner.kind)) return `${describeTarget(t)} belongs to ${owner.kind} ${owner.name}, which has no scale subresource`;
    t = { ...t, kind: owner.kind, name: owner.name };
  }
  return `cannot find the workload of ${describeTarget(target)}`;
}

export function kubeScaleToZero(api: KubeApi): ResponseAction<KubeTarget> {
  return {
    name: 'scale-to-zero',
    destructive: true,
    async plan(target) {
      const workload = await scalableWorkload(api, target);
      if (typeof workload === 'string') return { state: 'refused', detail: workload };
      const scalePath = api.path(workload.kind, workload.namespace, workload.name, 'scale');
      const scale = await api.get<{ spec?: { replicas?: number } }>(scalePath);
      if (!scale) await mustGet(api, workload);
      const replicas = scale?.spec?.replicas ?? 0;
      const via = workload.kind !== target.kind || workload.name !== target.name ? ` (the controller of ${describeTarget(target)})` : '';
      if (replicas === 0) return { state: 'already', detail: `${describeTarget(workload)}${via} is already scaled to zero`, data: { workload: `${workload.kind}/${workload.namespace}/${workload.name}` } };
      return {
        state: 'todo',
        detail: `scale ${describeTarget(workload)}${via} from ${replicas} replica(s) to zero`,
        data: { workload: `${workload.kind}/${workload.namespace}/${workload.name}`, previousReplicas: replicas },
        async apply() {
          try {
            await api.patch(api.path(workload.kind, workload.namespace, workload.name), { metadata: { annotations: { [SCALED_FROM]: String(replicas) } } });
          } catch (e) {
            if (!(e instanceof KubeHttpError && e.status === 403)) throw e; // may scale but not annotate: scale anyway
          }
          await api.patch(scalePath, { spec: { replicas: 0 } });
          return { detail: `scaled ${describeTarget(workload)}${via} from ${replicas} replica(s) to zero` };
        },
      };
    },
  };
}
