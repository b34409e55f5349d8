/**
 * Delete a pod, so that its controller replaces it from the spec (a fresh container from the
 * image, nothing of what ran in the old one). `already` when the pod is gone or terminating.
 */
import type { KubeApi } from './kube-api.js';
import { describeTarget, type KubeTarget, type ResponseAction } from './types.js';

export function kubeDelete(api: KubeApi, opts: { gracePeriodSeconds?: number } = {}): ResponseAction<KubeTarget> {
  return {
    name: 'delete',
    destructive: true,
    async plan(target) {
      if (target.kind !== 'Pod') return { state: 'refused', detail: `delete applies to pods, not ${target.kind} (use scale-to-zero for a workload)` };
      const path = api.path('Pod', target.namespace, target.name);
      const pod = await api.get<{ metadata: { deletionTimestamp?: string; ownerReferences?: { kind: string; name: string; controller?: boolean }[] } }>(path);
      if (!pod) return { state: 'already', detail: `${describeTarget(target)} does not exist (already deleted)` };
      if (pod.metadata.deletionTimestamp) return { state: 'already', detail: `${describeTarget(target)} is already being deleted (since ${pod.metadata.deletionTimestamp})` };
      const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
      return {
        state: 'todo',
        detail: `delete ${describeTarget(target)}${owner ? ` (its ${owner.kind} ${owner.name} will replace it)` : ' (no controller will replace it)'}`,
        ...(owner ? { data: { controller: `${owner.kind}/${owner.name}` } } : {}),
        async apply() {
          await api.delete(path, opts.gracePeriodSeconds !== undefined ? { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: opts.gracePeriodSeconds } : undefined);
          return { detail: `deleted ${describeTarget(target)}` };
        },
      };
    },
  };
}
