/**
 * Isolate a pod: a generated deny-all NetworkPolicy (no ingress, no egress rule) selecting a
 * quarantine label whose value is the pod's uid, and that label put on the pod — so the
 * policy selects that pod and no other (a replacement pod from the same controller has
 * another uid and is not quarantined). The policy is made first, so the pod is cut off the
 * moment the label lands. Needs a network plugin that enforces NetworkPolicy.
 */
import { createHash } from 'node:crypto';
import { KubeHttpError, mustGet, type KubeApi } from './kube-api.js';
import { describeTarget, type KubeTarget, type ResponseAction } from './types.js';

export const QUARANTINE_LABEL = 'gatehouse.dev/quarantine';

/** The NetworkPolicy's name for a pod (a DNS subdomain of at most 253 characters). */
export function quarantinePolicyName(pod: string): string {
  const name = `gatehouse-quarantine-${pod}`;
  return name.length <= 253 ? name : `gatehouse-quarantine-${createHash('sha256').update(pod).digest('hex').slice(0, 16)}`;
}

export function quarantinePolicy(namespace: string, pod: string, uid: string): Record<string, unknown> {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: quarantinePolicyName(pod),
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'gatehouse', [QUARANTINE_LABEL]: uid },
      annotations: { 'gatehouse.dev/quarantined-pod': pod },
    },
    spec: { podSelector: { matchLabels: { [QUARANTINE_LABEL]: uid } }, policyTypes: ['Ingress', 'Egress'], ingress: [], egress: [] },
  };
}

export function kubeIsolate(api: KubeApi): ResponseAction<KubeTarget> {
  return {
    name: 'isolate',
    destructive: false,
    async plan(target) {
      if (target.kind !== 'Pod') return { state: 'refused', detail: `isolate applies to pods, not ${target.kind} (isolate its pods, or scale it to zero)` };
      const pod = await mustGet<{ metadata: { uid: string; labels?: Record<string, string> } }>(api, target);
      const uid = pod.metadata.uid;
      const ns = target.namespace!;
      const policyPath = api.path('NetworkPolicy', ns, quarantinePolicyName(target.name));
      const existing = await api.get<{ spec?: { podSelector?: { matchLabels?: Record<string, string> } } }>(policyPath);
      const policyOk = existing?.spec?.podSelector?.matchLabels?.[QUARANTINE_LABEL] === uid;
      const labelOk = pod.metadata.labels?.[QUARANTINE_LABEL] === uid;
      const name = quarantinePolicyName(target.name);
      if (policyOk && labelOk) return { state: 'already', detail: `${describeTarget(target)} is already isolated by NetworkPolicy ${ns}/${name}`, data: { networkPolicy: name } };
      return {
        state: 'todo',
        detail: `${policyOk ? 'keep' : existing ? 'replace' : 'create'} deny-all NetworkPolicy ${ns}/${name} selecting ${QUARANTINE_LABEL}=${uid}, and label ${describeTarget(target)} with it`,
        data: { networkPolicy: name, label: `${QUARANTINE_LABEL}=${uid}` },
        async apply() {
          const body = quarantinePolicy(ns, target.name, uid);
          if (!policyOk) {
            if (existing) await api.delete(policyPath);
            try {
              await api.post(api.path('NetworkPolicy', ns), body);
            } catch (e) {
              // Made meanwhile by another responder: the same object.
              if (!(e instanceof KubeHttpError && e.status === 409)) throw e;
            }
          }
          if (!labelOk) await api.patch(api.path('Pod', ns, target.name), { metadata: { labels: { [QUARANTINE_LABEL]: uid } } });
          return { detail: `isolated ${describeTarget(target)} with deny-all NetworkPolicy ${ns}/${name}` };
        },
      };
    },
  };
}
