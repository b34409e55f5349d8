/** Where each watched kind lives in the Kubernetes API: GA kinds with fixed paths, and optional CRDs (Istio's). */
import type { ClusterKind } from '../types.js';

export interface KindResource {
  apiVersion: string;
  plural: string;
  namespaced: boolean;
  /** A CRD most clusters do not install: a 404 is expected, skipped quietly (not in the source's status) and looked for again later. */
  optional?: boolean;
}

const core = (plural: string, namespaced = true): KindResource => ({ apiVersion: 'v1', plural, namespaced });
const apps = (plural: string): KindResource => ({ apiVersion: 'apps/v1', plural, namespaced: true });
const rbac = (plural: string, namespaced: boolean): KindResource => ({ apiVersion: 'rbac.authorization.k8s.io/v1', plural, namespaced });

export const KIND_RESOURCES: Record<ClusterKind, KindResource> = {
  Namespace: core('namespaces', false),
  Deployment: apps('deployments'),
  StatefulSet: apps('statefulsets'),
  DaemonSet: apps('daemonsets'),
  ReplicaSet: apps('replicasets'),
  Job: { apiVersion: 'batch/v1', plural: 'jobs', namespaced: true },
  CronJob: { apiVersion: 'batch/v1', plural: 'cronjobs', namespaced: true },
  Pod: core('pods'),
  Service: core('services'),
  ServiceAccount: core('serviceaccounts'),
  Node: core('nodes', false),
  Ingress: { apiVersion: 'networking.k8s.io/v1', plural: 'ingresses', namespaced: true },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
  Role: rbac('roles', true),
  ClusterRole: rbac('clusterroles', false),
  RoleBinding: rbac('rolebindings', true),
  ClusterRoleBinding: rbac('clusterrolebindings', false),
  ResourceQuota: core('resourcequotas'),
  LimitRange: core('limitranges'),
  PodDisruptionBudget: { apiVersion: 'policy/v1', plural: 'poddisruptionbudgets', namespaced: true },
  HorizontalPodAutoscaler: { apiVersion: 'autoscaling/v2', plural: 'horizontalpodautoscalers', namespaced: true },
  ValidatingWebhookConfiguration: { apiVersion: 'admissionregistration.k8s.io/v1', plural: 'validatingwebhookconfigurations', namespaced: false },
  ValidatingAdmissionPolicy: { apiVersion: 'admissionregistration.k8s.io/v1', plural: 'validatingadmissionpolicies', namespaced: false },
  // v1beta1: served by every Istio release since 1.5 (v1 only since 1.22); the objects are the same
  PeerAuthentication: { apiVersion: 'security.istio.io/v1beta1', plural: 'peerauthentications', namespaced: true, optional: true },
  DestinationRule: { apiVersion: 'networking.istio.io/v1beta1', plural: 'destinationrules', namespaced: true, optional: true },
};

/** The all-namespaces collection path, e.g. /apis/apps/v1/deployments. */
export function collectionPath(r: KindResource): string {
  return `${r.apiVersion.includes('/') ? '/apis' : '/api'}/${r.apiVersion}/${r.plural}`;
}
