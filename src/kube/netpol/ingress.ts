/**
 * Connectivity from the ingress controller, as np-guard infers it: a Route or Ingress that
 * targets a Service in its namespace lets `{ingress-controller}` reach the Service's pods on
 * the pod port the service port maps to (TCP), within what the policies allow.
 */
import { ConnSet } from './conns.js';
import type { ClusterModel, IngressRouteModel, ServiceModel, Workload } from './model.js';
import { NS_NAME_LABEL } from './model.js';

export const INGRESS_CONTROLLER_NS = 'ingress-controller-ns';

export const ingressControllerWorkload: Workload = {
  namespace: INGRESS_CONTROLLER_NS,
  name: 'ingress-controller',
  kind: 'IngressController',
  labels: {},
  ports: [],
  id: '{ingress-controller}',
  synthetic: true,
};

export function ensureIngressControllerNamespace(model: ClusterModel): void {
  if (!model.namespaces.has(INGRESS_CONTROLLER_NS)) {
    model.namespaces.set(INGRESS_CONTROLLER_NS, { name: INGRESS_CONTROLLER_NS, labels: { [NS_NAME_LABEL]: INGRESS_CONTROLLER_NS } });
  }
}

function selectedWorkloads(model: ClusterModel, svc: ServiceModel): Workload[] {
  const sel = svc.selector;
  if (!sel) return [];
  return model.workloads.filter(
    (w) => !w.synthetic && w.namespace === svc.namespace && Object.entries(sel).every(([k, v]) => w.labels[k] === v),
  );
}

/** The pod ports a service exposes for a requested service port (all when none requested). */
function podAccessPorts(svc: ServiceModel, wanted: number | string | undefined): (number | string)[] {
  const out: (number | string)[] = [];
  for (const p of svc.ports) {
    const access = p.targetPort ?? p.port;
    if (wanted === undefined) out.push(access);
    else if ((p.name !== undefined && p.name === wanted) || p.port === wanted || p.targetPort === wanted) return [access];
  }
  return out;
}

function connsToWorkload(w: Workload, ports: (number | string)[]): ConnSet {
  let c = ConnSet.none();
  for (const p of ports) {
    let num: number;
    if (typeof p === 'string') {
      const cp = w.ports.find((x) => x.name === p);
      if (!cp || cp.protocol !== 'TCP') continue;
      num = cp.port;
    } else num = p;
    // np-guard counts every declared container port as reachable over TCP here; a VM
    // declares no ports, so any port the Service maps to counts.
    if (w.kind === 'VirtualMachine' || w.ports.some((x) => x.port === num)) c = c.union(ConnSet.of('TCP', [[num, num]]));
  }
  return c;
}

/** Workload id -> connections the Routes/Ingresses ask for; empty map when there are none. */
export function ingressTargets(model: ClusterModel): Map<string, { w: Workload; conns: ConnSet }> {
  const out = new Map<string, { w: Workload; conns: ConnSet }>();
  const services = new Map<string, { svc: ServiceModel; peers: Workload[] }>();
  for (const svc of model.services) {
    const peers = selectedWorkloads(model, svc);
    if (peers.length > 0) services.set(`${svc.namespace}/${svc.name}`, { svc, peers });
  }
  const objects: IngressRouteModel[] = model.ingressRoutes.filter((r) => r.backends.length > 0);
  if (services.size === 0 || objects.length === 0) return out;
  for (const obj of objects) {
    for (const b of obj.backends) {
      const entry = services.get(`${obj.namespace}/${b.service}`);
      if (!entry) continue;
      const ports = podAccessPorts(entry.svc, b.port);
      for (const w of entry.peers) {
        const c = connsToWorkload(w, ports);
        const prev = out.get(w.id);
        out.set(w.id, { w, conns: prev ? prev.conns.union(c) : c });
      }
    }
  }
  return out;
}
