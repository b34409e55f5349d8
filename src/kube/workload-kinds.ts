/**
 * The one list of workload kinds: which kinds run pods, under which API groups, and where
 * their pod template lives. `k8s check` (workloads.ts: podTemplateOf) and netpol
 * (netpol/model.ts: buildModel) both read it, so a kind is a workload for both or neither.
 *
 * A new workload kind is one row here.
 */

export interface WorkloadKind {
  kind: string;
  /** API groups that serve the kind ('' is the core group). */
  groups: readonly string[];
  /** Path of the template (its `metadata` and `spec`) inside the object; [] for a Pod. */
  template: readonly string[];
  /**
   * What the template's spec is: a Pod spec (containers, securityContext, …), or a KubeVirt
   * VirtualMachineInstance spec (domain.devices.interfaces), which pod-spec checks must not read.
   */
  spec: 'pod' | 'vmi';
  /** Whether the object runs pods (a PodTemplate only describes one). */
  runsPods: boolean;
  /** Whether it keeps `spec.replicas` copies running (default 1). */
  replicated?: boolean;
}

export const WORKLOAD_KINDS: readonly WorkloadKind[] = [
  { kind: 'Pod', groups: [''], template: [], spec: 'pod', runsPods: true },
  { kind: 'Deployment', groups: ['apps'], template: ['spec', 'template'], spec: 'pod', runsPods: true, replicated: true },
  { kind: 'StatefulSet', groups: ['apps'], template: ['spec', 'template'], spec: 'pod', runsPods: true, replicated: true },
  { kind: 'DaemonSet', groups: ['apps'], template: ['spec', 'template'], spec: 'pod', runsPods: true },
  { kind: 'ReplicaSet', groups: ['apps'], template: ['spec', 'template'], spec: 'pod', runsPods: true, replicated: true },
  { kind: 'ReplicationController', groups: [''], template: ['spec', 'template'], spec: 'pod', runsPods: true, replicated: true },
  { kind: 'Job', groups: ['batch'], template: ['spec', 'template'], spec: 'pod', runsPods: true },
  { kind: 'CronJob', groups: ['batch'], template: ['spec', 'jobTemplate', 'spec', 'template'], spec: 'pod', runsPods: true },
  { kind: 'PodTemplate', groups: [''], template: ['template'], spec: 'pod', runsPods: false },
  // OpenShift; OpenShift 3 also served it from the core group (`apiVersion: v1`).
  { kind: 'DeploymentConfig', groups: ['apps.openshift.io', ''], template: ['spec', 'template'], spec: 'pod', runsPods: true, replicated: true },
  { kind: 'VirtualMachine', groups: ['kubevirt.io'], template: ['spec', 'template'], spec: 'vmi', runsPods: true },
];

const BY_KIND = new Map(WORKLOAD_KINDS.map((w) => [w.kind, w]));

/**
 * The workload kind named `kind`, whatever its API group: netpol matches by kind alone, as
 * np-guard does (its corpus has `extensions`, `extensions/v1beta1`, …). `k8s check` also
 * wants the group to be one that serves the kind, which kinds.ts (isKnownKind) checks from
 * the same rows.
 */
export function workloadKindOf(kind: string): WorkloadKind | undefined {
  return BY_KIND.get(kind);
}
