/**
 * The response engine as Central runs it for a cluster: the cluster action set over the
 * kubeconfig's cluster (or a KubeApi already made), audited to a JSONL log, with the same
 * guards as the host agent. Alerts pushed by sensors, anomaly alerts and incidents all go to
 * `respondTo` — an incident as a ResponseRequest:
 *   { source: 'incident', name, incident: ID, pod: { namespace, name }, policies: [{ id, enforcement }] }
 */
import { clusterActionSet, type ClusterActionSetOptions } from './action-sets.js';
import { JsonlAuditLog, type AuditSink } from './audit.js';
import { KubeApi, type KubeConnectOptions } from './kube-api.js';
import { Responder, type ResponderOptions } from './responder.js';

export interface ClusterResponderOptions extends KubeConnectOptions, ClusterActionSetOptions {
  api?: KubeApi;
  /** A JSONL path, or any audit sink (Central's store). */
  audit: string | AuditSink;
  responder?: Partial<ResponderOptions>;
}

export function clusterResponder(o: ClusterResponderOptions): Responder {
  const api = o.api ?? KubeApi.connect({ ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), ...(o.context ? { context: o.context } : {}) });
  return new Responder({
    actions: clusterActionSet(api, o.labels ? { labels: o.labels } : {}),
    audit: typeof o.audit === 'string' ? new JsonlAuditLog(o.audit) : o.audit,
    component: 'central',
    ...o.responder,
  });
}
