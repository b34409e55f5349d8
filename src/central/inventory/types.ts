/**
 * What the live inventory (clusters through the Kubernetes API, plain hosts through their
 * engine's Docker API) hands to Central's store. Watchers know nothing of the store: they
 * call an InventorySink, which Central implements over its store and tests implement in memory.
 */

/** Kinds Central lists and watches on a cluster. */
export const CLUSTER_KINDS = [
  'Namespace', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicaSet', 'Pod',
  'Service', 'Ingress', 'NetworkPolicy', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding',
  'ServiceAccount', 'Node',
  // What compliance and posture checks read beside the workloads: quotas and limits per
  // namespace (CIS 5.7, the DoS controls), disruption budgets, autoscalers, and the
  // admission webhooks and policies that guard pods (CIS 5.2.1).
  'ResourceQuota', 'LimitRange', 'PodDisruptionBudget', 'HorizontalPodAutoscaler',
  'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy',
  // Istio's mTLS settings, for the network graph's mTLS marks and the mesh compliance checks:
  // CRDs most clusters do not install (optional in kube/resources.ts: a 404 is expected).
  'PeerAuthentication', 'DestinationRule',
] as const;
export type ClusterKind = (typeof CLUSTER_KINDS)[number];

/** One object as seen on a cluster or host. `body` is the full object (Kubernetes JSON, or the engine's inspect JSON). */
export interface InventoryObject {
  /** Which cluster or host this object lives on (Central's id of it). */
  sourceId: string;
  /** Kubernetes kind, or `Container` / `Image` on plain hosts. */
  kind: string;
  /** Stable unique id: metadata.uid on Kubernetes, container/image id on hosts. */
  uid: string;
  namespace?: string;
  name: string;
  /** metadata.resourceVersion on Kubernetes; a state hash on hosts. */
  resourceVersion?: string;
  body: Record<string, unknown>;
}

export interface InventorySink {
  /** An object was added or modified. */
  upsert(obj: InventoryObject): Promise<void>;
  /** An object was deleted. */
  remove(sourceId: string, kind: string, uid: string): Promise<void>;
  /**
   * A full (re-)list of one kind on one source: everything not in `objects` is gone
   * (deleted while the watch was down). Called after the first list and after every re-list.
   */
  replaceKind(sourceId: string, kind: string, objects: InventoryObject[]): Promise<void>;
  /** The source's state changed (connected, watching, error text). */
  status?(sourceId: string, state: { up: boolean; message?: string }): void;
}
