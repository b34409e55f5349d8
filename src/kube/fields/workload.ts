/** Fields over an object and its pod template (one entry per field). */
import { hit, present, type FieldHit } from '../../policy/fields.js';
import type { EvalContext, FieldDef } from './context.js';
import { matchesSelector } from '../../policy/match.js';
import { nsOf } from '../object-index.js';
import type { FieldPath } from '../manifests.js';
import { getIn } from '../workloads.js';
import { workloadKindOf } from '../workload-kinds.js';

const sp = (ctx: EvalContext, ...rest: (string | number)[]): FieldPath => [...ctx.pod!.specPath, ...rest];
const spec = (ctx: EvalContext): Record<string, any> | undefined => ctx.pod?.spec;
const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);

const podBool = (name: string, key: string): FieldDef => ({
  name, target: 'object', type: 'boolean', description: `pod spec ${key}`,
  extract: (ctx) => (!spec(ctx) ? undefined : present(spec(ctx)![key]) ? [hit(spec(ctx)![key], sp(ctx, key), `${key}: ${spec(ctx)![key]}`)] : []),
});

/** Host paths that expose the node (kube-linter's sensitive-host-mounts list). */
const SENSITIVE_HOST_PATHS = /^\/(|bin|boot|dev|etc|lib|lib64|proc|sbin|sys|usr|var|var\/lib\/kubelet|var\/lib\/docker|var\/run\/docker\.sock|run|root|home|var\/log)\/?$/;

/** Sysctls that are not namespaced-safe (Kubernetes' safe set is allowed by PSS). */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.tcp_syncookies', 'net.ipv4.ping_group_range',
  'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout', 'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes', 'net.ipv4.tcp_rmem', 'net.ipv4.tcp_wmem',
]);

function effectiveServiceAccount(ctx: EvalContext): { name: string; path: FieldPath } {
  const s = spec(ctx)!;
  if (present(s.serviceAccountName) && s.serviceAccountName !== '') return { name: String(s.serviceAccountName), path: sp(ctx, 'serviceAccountName') };
  if (present(s.serviceAccount) && s.serviceAccount !== '') return { name: String(s.serviceAccount), path: sp(ctx, 'serviceAccount') };
  return { name: 'default', path: ctx.pod!.specPath };
}

const replicasOf = (raw: Record<string, any>): number => (present(raw.spec?.replicas) ? Number(raw.spec.replicas) : 1);

export const workloadFields: FieldDef[] = [
  { name: 'object.kind', target: 'object', type: 'string', description: 'object kind', extract: (ctx) => [hit(ctx.object.kind, ['kind'])] },
  { name: 'object.apiVersion', target: 'object', type: 'string', description: 'object apiVersion', extract: (ctx) => [hit(ctx.object.apiVersion, ['apiVersion'], `apiVersion ${ctx.object.apiVersion}`)] },
  { name: 'object.namespace', target: 'object', type: 'string', description: 'metadata.namespace as written', extract: (ctx) => (ctx.object.namespace ? [hit(ctx.object.namespace, ['metadata', 'namespace'])] : []) },
  { name: 'object.isWorkload', target: 'object', type: 'boolean', description: 'whether the object has a pod template', extract: (ctx) => [hit(ctx.pod !== undefined)] },
  podBool('pod.hostNetwork', 'hostNetwork'),
  podBool('pod.hostPID', 'hostPID'),
  podBool('pod.hostIPC', 'hostIPC'),
  {
    name: 'pod.serviceAccount.deprecatedField', target: 'object', type: 'string', description: 'the deprecated spec.serviceAccount field',
    extract: (ctx) => !spec(ctx) ? undefined : (present(spec(ctx)!.serviceAccount) && spec(ctx)!.serviceAccount !== '' ? [hit(String(spec(ctx)!.serviceAccount), sp(ctx, 'serviceAccount'), 'uses deprecated serviceAccount field')] : []),
  },
  {
    name: 'pod.serviceAccountName', target: 'object', type: 'string', description: 'effective service account name ("default" when unset)',
    extract: (ctx) => {
      if (!spec(ctx)) return undefined;
      const sa = effectiveServiceAccount(ctx);
      return [hit(sa.name, sa.path, `runs as service account "${sa.name}"`)];
    },
  },
  {
    name: 'pod.serviceAccount.missing', target: 'object', type: 'string', description: 'service account named by the pod that the loaded objects do not define',
    extract: (ctx) => {
      if (!spec(ctx)) return undefined;
      const sa = effectiveServiceAccount(ctx);
      if (sa.name === 'default' || ctx.index.find('ServiceAccount', nsOf(ctx.object), sa.name)) return [];
      return [hit(sa.name, sa.path, `service account "${sa.name}" is not defined`)];
    },
  },
  {
    name: 'pod.automountServiceAccountToken', target: 'object', type: 'boolean',
    description: 'whether the API token is mounted: the pod field, else its ServiceAccount\'s, else true',
    extract: (ctx) => {
      if (!spec(ctx)) return undefined;
      const s = spec(ctx)!;
      if (present(s.automountServiceAccountToken)) return [hit(s.automountServiceAccountToken === true, sp(ctx, 'automountServiceAccountToken'), 'automountServiceAccountToken is true')];
      const sa = ctx.index.find('ServiceAccount', nsOf(ctx.object), effectiveServiceAccount(ctx).name);
      if (sa && present(sa.raw.automountServiceAccountToken)) return [hit(sa.raw.automountServiceAccountToken === true, ctx.pod!.specPath, `ServiceAccount ${sa.name} automounts its token`)];
      return [hit(true, ctx.pod!.specPath, 'service account token is automounted (default)')];
    },
  },
  {
    name: 'pod.hostPathVolumes', target: 'object', type: 'string', description: 'hostPath volume paths',
    extract: (ctx) => !spec(ctx) ? undefined : list(spec(ctx)?.volumes).flatMap((v, i) => (v?.hostPath ? [hit(String(v.hostPath.path ?? ''), sp(ctx, 'volumes', i, 'hostPath'), `hostPath volume ${v.hostPath.path}`)] : [])),
  },
  {
    name: 'pod.sensitiveHostPaths', target: 'object', type: 'string', description: 'hostPath volumes exposing sensitive node directories',
    extract: (ctx) => !spec(ctx) ? undefined : list(spec(ctx)?.volumes).flatMap((v, i) => (v?.hostPath && SENSITIVE_HOST_PATHS.test(String(v.hostPath.path ?? '')) ? [hit(String(v.hostPath.path), sp(ctx, 'volumes', i, 'hostPath', 'path'), `sensitive host path ${v.hostPath.path}`)] : [])),
  },
  {
    name: 'pod.sysctls.unsafe', target: 'object', type: 'string', description: 'sysctls outside the safe set',
    extract: (ctx) => !spec(ctx) ? undefined : list(spec(ctx)?.securityContext?.sysctls).flatMap((s, i) => (SAFE_SYSCTLS.has(String(s?.name)) ? [] : [hit(String(s?.name), sp(ctx, 'securityContext', 'sysctls', i, 'name'), `unsafe sysctl ${s?.name}`)])),
  },
  {
    name: 'pod.nodePlacement', target: 'object', type: 'boolean', description: 'nodeSelector, node affinity or tolerations steer the pod onto chosen nodes',
    extract: (ctx) => {
      const s = spec(ctx);
      if (!s) return undefined;
      const placed = (s.nodeSelector && Object.keys(s.nodeSelector).length > 0) || !!s.affinity?.nodeAffinity || list(s.tolerations).length > 0 || present(s.nodeName);
      return [hit(!!placed, ctx.pod!.specPath, placed ? undefined : 'no nodeSelector, node affinity or tolerations')];
    },
  },
  {
    name: 'pod.antiAffinity', target: 'object', type: 'boolean', description: 'pod anti-affinity or topology spread constraints are set',
    extract: (ctx) => {
      const s = spec(ctx);
      if (!s) return undefined;
      const ok = !!s.affinity?.podAntiAffinity || list(s.topologySpreadConstraints).length > 0;
      return [hit(ok, ctx.pod!.specPath, ok ? undefined : 'no pod anti-affinity')];
    },
  },
  {
    name: 'pod.networkPolicyCount', target: 'object', type: 'number', description: 'NetworkPolicies in the namespace selecting the pod',
    extract: (ctx) => {
      if (!ctx.pod) return undefined;
      const labels = (ctx.pod.metadata.labels ?? {}) as Record<string, string>;
      const n = ctx.index.byKindIn('NetworkPolicy', nsOf(ctx.object)).filter((np) => matchesSelector(labels, np.raw.spec?.podSelector ?? {})).length;
      return [hit(n, ctx.pod.metadataPath, n === 0 ? 'no NetworkPolicy selects this pod' : undefined)];
    },
  },
  {
    name: 'workload.replicas', target: 'object', type: 'number', description: 'spec.replicas (default 1) of replicated workloads (Deployments, StatefulSets, ReplicaSets, ReplicationControllers, DeploymentConfigs)',
    extract: (ctx) => (workloadKindOf(ctx.object.kind)?.replicated ? [hit(replicasOf(ctx.object.raw), ['spec', 'replicas'], `replicas: ${replicasOf(ctx.object.raw)}`)] : undefined),
  },
  {
    name: 'workload.selectorMismatch', target: 'object', type: 'boolean', description: 'the workload selector does not match its own pod template labels',
    extract: (ctx) => {
      if (!ctx.pod || ctx.object.kind === 'Pod' || ctx.object.kind === 'CronJob' || ctx.object.kind === 'Job' || ctx.object.kind === 'PodTemplate') return undefined;
      const sel = ctx.object.raw.spec?.selector;
      if (!sel) return [];
      const labels = (ctx.pod.metadata.labels ?? {}) as Record<string, string>;
      const selector = ctx.object.kind === 'ReplicationController' ? { matchLabels: sel } : sel;
      const ok = matchesSelector(labels, selector);
      return ok ? [] : [hit(true, ['spec', 'selector'], 'selector does not match the pod template labels')];
    },
  },
  {
    name: 'workload.strategy', target: 'object', type: 'string', description: 'Deployment strategy type / StatefulSet+DaemonSet updateStrategy type',
    extract: (ctx) => {
      const k = ctx.object.kind;
      if (k === 'Deployment') return [hit(String(getIn(ctx.object.raw, ['spec', 'strategy', 'type']) ?? 'RollingUpdate'), ['spec', 'strategy'], `strategy ${getIn(ctx.object.raw, ['spec', 'strategy', 'type'])}`)];
      if (k === 'StatefulSet' || k === 'DaemonSet') return [hit(String(getIn(ctx.object.raw, ['spec', 'updateStrategy', 'type']) ?? 'RollingUpdate'), ['spec', 'updateStrategy'])];
      return undefined;
    },
  },
  {
    name: 'job.ttlSecondsAfterFinished', target: 'object', type: 'number', description: 'Job ttlSecondsAfterFinished (Jobs not owned by a CronJob)',
    extract: (ctx) => {
      if (ctx.object.kind !== 'Job' || ctx.object.raw.metadata?.ownerReferences) return undefined;
      const v = ctx.object.raw.spec?.ttlSecondsAfterFinished;
      return present(v) ? [hit(Number(v), ['spec', 'ttlSecondsAfterFinished'])] : [];
    },
  },
];

export type { FieldHit };
