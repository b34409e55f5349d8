/**
 * Cordon a node (spec.unschedulable: nothing new is scheduled there; what runs stays), named
 * directly (node/NAME) or as the node a pod runs on.
 */
import { mustGet, type KubeApi } from './kube-api.js';
import { describeTarget, type KubeTarget, type ResponseAction } from './types.js';

export function kubeCordon(api: KubeApi): ResponseAction<KubeTarget> {
  return {
    name: 'cordon',
    destructive: false,
    async plan(target) {
      let nodeName = target.name;
      let via = '';
      if (target.kind === 'Pod') {
        const pod = await mustGet<{ spec?: { nodeName?: string } }>(api, target);
        if (!pod.spec?.nodeName) return { state: 'refused', detail: `${describeTarget(target)} is not scheduled on a node: nothing to cordon` };
        nodeName = pod.spec.nodeName;
        via = ` (where ${describeTarget(target)} runs)`;
      } else if (target.kind !== 'Node') return { state: 'refused', detail: `cordon applies to nodes (node/NAME) or the node of a pod, not ${target.kind}` };
      const node = { type: 'kube' as const, kind: 'Node', name: nodeName };
      const obj = await mustGet<{ spec?: { unschedulable?: boolean } }>(api, node);
      if (obj.spec?.unschedulable) return { state: 'already', detail: `node ${nodeName}${via} is already cordoned`, data: { node: nodeName } };
      return {
        state: 'todo',
        detail: `cordon node ${nodeName}${via}`,
        data: { node: nodeName },
        async apply() {
          await api.patch(api.path('Node', undefined, nodeName), { spec: { unschedulable: true } });
          return { detail: `cordoned node ${nodeName}${via}` };
        },
      };
    },
  };
}
