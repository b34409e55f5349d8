/**
 * What an application needs beyond its declared intent to keep working under a default
 * deny: DNS (UDP and TCP 53 to kube-system's `k8s-app: kube-dns` pods, the usual recipe)
 * for every pod under the generated egress deny, and ingress from anywhere on the target
 * ports of pods behind LoadBalancer and NodePort Services.
 */
import { ConnSet } from './conns.js';
import { parseCidr } from './ipset.js';
import { NS_NAME_LABEL, type ClusterModel, type ServiceModel, type Workload } from './model.js';
import type { Endpoint, IntentConnection } from './intent.js';

export const DNS_NAMESPACE = 'kube-system';
export const DNS_LABELS: Record<string, string> = { 'k8s-app': 'kube-dns' };
export const DNS_POLICY_NAME = 'gatehouse-allow-dns-egress';
export const DNS_SERVER_POLICY_NAME = 'gatehouse-allow-dns-ingress';
export const DNS_CONNS = ConnSet.of('UDP', [[53, 53]]).union(ConnSet.of('TCP', [[53, 53]]));
export const DNS_PORTS = [
  { protocol: 'UDP', port: 53 },
  { protocol: 'TCP', port: 53 },
];

/** The endpoint for "anywhere"; generated as ipBlocks 0.0.0.0/0 and ::/0. */
export const ANYWHERE: Endpoint = { type: 'cidr', cidr: '0.0.0.0/0', set: [parseCidr('0.0.0.0/0')!] };
export const ANYWHERE_PEERS = [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }];

export const DNS_PEER = {
  namespaceSelector: { matchLabels: { [NS_NAME_LABEL]: DNS_NAMESPACE } },
  podSelector: { matchLabels: { ...DNS_LABELS } },
};

/** kube-dns (CoreDNS) workloads present in the input, if any. */
export function dnsServers(model: ClusterModel): Workload[] {
  return model.workloads.filter(
    (w) => !w.synthetic && w.namespace === DNS_NAMESPACE && Object.entries(DNS_LABELS).every(([k, v]) => w.labels[k] === v),
  );
}

const EXTERNAL_TYPES = new Set(['LoadBalancer', 'NodePort']);

/** The pod-side connections a Service's ports map to on workload `w` (named targetPorts resolved on its containers). */
function targetConns(svc: ServiceModel, w: Workload): ConnSet {
  let c = ConnSet.none();
  for (const p of svc.ports) {
    const target = p.targetPort ?? p.port;
    let num: number | undefined;
    if (typeof target === 'string') num = w.ports.find((x) => x.name === target && x.protocol === p.protocol)?.port;
    else num = target;
    if (num !== undefined && Number.isInteger(num) && num >= 1 && num <= 65535) c = c.union(ConnSet.of(p.protocol, [[num, num]]));
  }
  return c;
}

export interface ExternalExposure {
  intents: IntentConnection[];
  notes: string[];
}

/** Ingress from anywhere to the pods behind LoadBalancer/NodePort Services, as intent. */
export function externalIntents(model: ClusterModel): ExternalExposure {
  const intents: IntentConnection[] = [];
  const notes: string[] = [];
  for (const svc of model.services) {
    if (!svc.type || !EXTERNAL_TYPES.has(svc.type) || !svc.selector || Object.keys(svc.selector).length === 0) continue;
    const sel = svc.selector;
    const backends = model.workloads.filter(
      (w) => !w.synthetic && w.namespace === svc.namespace && Object.entries(sel).every(([k, v]) => w.labels[k] === v),
    );
    for (const w of backends) {
      const conns = targetConns(svc, w);
      if (conns.isEmpty()) continue;
      intents.push({ from: ANYWHERE, to: { type: 'workload', w }, conns, origin: `${svc.type} Service ${svc.namespace}/${svc.name}` });
      notes.push(`allowed ingress from anywhere (0.0.0.0/0, ::/0) to ${w.id} on ${conns.toString()}: it is behind ${svc.type} Service ${svc.namespace}/${svc.name}`);
    }
  }
  return { intents, notes };
}
