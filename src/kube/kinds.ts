/**
 * Built-in Kubernetes kinds by API group, plus the workload kinds whose pod templates are
 * checked (workload-kinds.ts: OpenShift's DeploymentConfig). Anything else (CRDs, typos) is
 * kept by the loader but flagged unknown, so only generic checks apply to it.
 */
import { WORKLOAD_KINDS } from './workload-kinds.js';

const BUILTIN: Record<string, readonly string[]> = {
  '': [
    'Pod', 'Service', 'ConfigMap', 'Secret', 'Namespace', 'ServiceAccount', 'PersistentVolume',
    'PersistentVolumeClaim', 'ReplicationController', 'PodTemplate', 'Endpoints', 'LimitRange',
    'ResourceQuota', 'Node', 'Event', 'Binding', 'ComponentStatus',
  ],
  apps: ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ControllerRevision'],
  batch: ['Job', 'CronJob'],
  'networking.k8s.io': ['NetworkPolicy', 'Ingress', 'IngressClass'],
  'rbac.authorization.k8s.io': ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'],
  policy: ['PodDisruptionBudget', 'PodSecurityPolicy'],
  autoscaling: ['HorizontalPodAutoscaler'],
  'storage.k8s.io': ['StorageClass', 'CSIDriver', 'CSINode', 'VolumeAttachment', 'CSIStorageCapacity'],
  'admissionregistration.k8s.io': [
    'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding', 'MutatingAdmissionPolicy', 'MutatingAdmissionPolicyBinding',
  ],
  'apiextensions.k8s.io': ['CustomResourceDefinition'],
  'apiregistration.k8s.io': ['APIService'],
  'certificates.k8s.io': ['CertificateSigningRequest', 'ClusterTrustBundle'],
  'coordination.k8s.io': ['Lease'],
  'discovery.k8s.io': ['EndpointSlice'],
  'events.k8s.io': ['Event'],
  'node.k8s.io': ['RuntimeClass'],
  'scheduling.k8s.io': ['PriorityClass'],
  'flowcontrol.apiserver.k8s.io': ['FlowSchema', 'PriorityLevelConfiguration'],
  'apiserver.config.k8s.io': ['EncryptionConfiguration', 'AdmissionConfiguration'],
  'audit.k8s.io': ['Policy'],
  'policy.networking.k8s.io': ['AdminNetworkPolicy', 'BaselineAdminNetworkPolicy'],
  'kubeadm.k8s.io': ['ClusterConfiguration', 'InitConfiguration', 'JoinConfiguration'],
  'kubelet.config.k8s.io': ['KubeletConfiguration'],
};

const KNOWN = new Map<string, Set<string>>(Object.entries(BUILTIN).map(([g, ks]) => [g, new Set(ks)]));
for (const w of WORKLOAD_KINDS) {
  if (w.spec !== 'pod') continue;
  for (const g of w.groups) {
    if (!KNOWN.has(g)) KNOWN.set(g, new Set());
    KNOWN.get(g)!.add(w.kind);
  }
}

export function apiGroupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export function isKnownKind(apiVersion: string, kind: string): boolean {
  return KNOWN.get(apiGroupOf(apiVersion))?.has(kind) ?? false;
}
