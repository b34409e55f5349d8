/**
 * Observed edges from the sensor's flow file (`gatehouse sensor --flows FILE`: JSON lines of
 * ObservedFlow), for `netpol generate PATHS --observed --flows FILE` without Central.
 *
 * Local ends are resolved by their pod (`local.pod` namespace/name) to the manifests'
 * workloads: a Pod in the input by its name (and its controller), otherwise by the pod
 * names controllers give: `<deployment>-<hash>-<id>`, `<statefulset>-<ordinal>`,
 * `<daemonset|job|replicaset>-<id>`, `<cronjob>-<time>-<id>` (the longest workload name
 * that fits wins). Remote ends are resolved by the address another flow's resolved local
 * end had (the peer's own sensor saw it), then by a Service's clusterIP in the manifests
 * (its backends, the Service port mapped to the target port), else they are external.
 */
import type { ClusterModel, Workload } from '../kube/netpol/model.js';
import type { ObservedFlow } from './flow.js';
import type { ObservedEdge, ObservedPeer } from './observed-policy.js';

export interface ParsedFlows {
  flows: ObservedFlow[];
  /** Lines that are not an ObservedFlow (JSON errors, missing fields), by line number. */
  malformed: { line: number; reason: string }[];
}

const PROTOS = new Set(['TCP', 'UDP', 'SCTP']);

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 65535;
}

/** Reads JSON lines of ObservedFlow; bad lines are counted, never thrown. */
export function parseFlowLines(text: string): ParsedFlows {
  const flows: ObservedFlow[] = [];
  const malformed: { line: number; reason: string }[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (!line) return;
    let v: any;
    try {
      v = JSON.parse(line);
    } catch {
      malformed.push({ line: i + 1, reason: 'not JSON' });
      return;
    }
    const why = !v || typeof v !== 'object' ? 'not an object'
      : !PROTOS.has(v.protocol) ? 'protocol is not TCP, UDP or SCTP'
      : v.direction !== 'egress' && v.direction !== 'ingress' ? 'direction is not egress or ingress'
      : typeof v.local?.ip !== 'string' || !isPort(v.local?.port) ? 'local.ip / local.port missing'
      : typeof v.remote?.ip !== 'string' || !isPort(v.remote?.port) ? 'remote.ip / remote.port missing'
      : v.local.pod !== undefined && (typeof v.local.pod?.namespace !== 'string' || typeof v.local.pod?.name !== 'string') ? 'local.pod needs namespace and name'
      : undefined;
    if (why) malformed.push({ line: i + 1, reason: why });
    else flows.push(v as ObservedFlow);
  });
  return { flows, malformed };
}

function podNameFits(w: Workload, pod: string): boolean {
  if (!pod.startsWith(`${w.name}-`)) return false;
  const rest = pod.slice(w.name.length + 1);
  switch (w.kind) {
    case 'Deployment':
      return /^[a-z0-9]{1,10}-[a-z0-9]{5}$/.test(rest);
    case 'StatefulSet':
      return /^\d+$/.test(rest);
    case 'CronJob':
      return /^\d+-[a-z0-9]{5}$/.test(rest);
    case 'DaemonSet':
    case 'Job':
    case 'ReplicaSet':
    case 'ReplicationController':
      return /^[a-z0-9]{5}$/.test(rest);
    default:
      return false;
  }
}

/** The workload a pod belongs to, by the pod's namespace and name. */
export function workloadOfPod(model: ClusterModel, namespace: string, pod: string): Workload | undefined {
  const inNs = model.workloads.filter((w) => !w.synthetic && w.namespace === namespace);
  // A Pod in the input names its own controller (buildModel groups it there); a bare Pod is itself.
  const exact = inNs.find((w) => w.kind === 'Pod' && w.name === pod);
  if (exact) return exact;
  const fits = inNs.filter((w) => podNameFits(w, pod)).sort((a, b) => b.name.length - a.name.length);
  return fits[0];
}

export interface FlowsToEdges {
  edges: ObservedEdge[];
  notes: string[];
  /** Flows whose local end could not be resolved to a workload. */
  unresolved: number;
}

/** Service clusterIPs of loaded objects (`spec.clusterIP(s)`), to `ns/name`. */
export function serviceIpsOf(objects: { kind: string; namespace?: string; name: string; raw: Record<string, any> }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of objects) {
    if (o.kind !== 'Service') continue;
    const ips = [o.raw.spec?.clusterIP, ...(Array.isArray(o.raw.spec?.clusterIPs) ? o.raw.spec.clusterIPs : [])];
    for (const ip of ips) if (typeof ip === 'string' && ip && ip !== 'None') out.set(ip, `${o.namespace || 'default'}/${o.name}`);
  }
  return out;
}

export interface FlowsOptions {
  /** Flows last seen before this (ms since the epoch) are left out. */
  since?: number;
  /** Service clusterIPs to `ns/name` (see serviceIpsOf). */
  serviceIps?: Map<string, string>;
}

/** Observed edges from flows. */
export function observedFromFlows(flows: ObservedFlow[], model: ClusterModel, opts: FlowsOptions = {}): FlowsToEdges {
  const since = opts.since;
  const notes: string[] = [];
  const kept = since === undefined ? flows : flows.filter((f) => !(Date.parse(f.lastSeen) < since));
  const localOf = new Map<ObservedFlow, Workload>();
  const byIp = new Map<string, Workload>();
  let unresolved = 0;
  for (const f of kept) {
    const pod = f.local.pod;
    const w = pod ? workloadOfPod(model, pod.namespace, pod.name) : undefined;
    if (!w) {
      unresolved++;
      notes.push(pod ? `flows of pod ${pod.namespace}/${pod.name} skipped: no workload in the manifests runs it` : `flows of ${f.local.container?.name ?? f.local.ip} skipped: not a pod (NetworkPolicies apply to pods)`);
      continue;
    }
    localOf.set(f, w);
    byIp.set(f.local.ip, w);
  }
  const services = new Map<string, { ns: string; selector: Record<string, string>; ports: ClusterModel['services'][number]['ports'] }>();
  for (const [ip, ref] of opts.serviceIps ?? []) {
    const s = model.services.find((x) => `${x.namespace}/${x.name}` === ref);
    if (s?.selector) services.set(ip, { ns: s.namespace, selector: s.selector, ports: s.ports });
  }
  const peer = (w: Workload): ObservedPeer => ({ type: 'workload', namespace: w.namespace, name: w.name, kind: w.kind });
  const edges: ObservedEdge[] = [];
  for (const [f, w] of localOf) {
    const remoteW = byIp.get(f.remote.ip);
    const meta = { connections: f.connections, lastSeen: f.lastSeen };
    if (f.direction === 'egress') {
      if (remoteW) {
        edges.push({ src: peer(w), dst: peer(remoteW), protocol: f.protocol, port: f.remote.port, ...meta });
        continue;
      }
      const svc = services.get(f.remote.ip);
      if (svc) {
        for (const b of model.workloads) {
          if (b.synthetic || b.namespace !== svc.ns || !Object.entries(svc.selector).every(([k, v]) => b.labels[k] === v)) continue;
          const sp = svc.ports.find((p) => p.port === f.remote.port && p.protocol === f.protocol);
          const t = sp ? (sp.targetPort ?? sp.port) : f.remote.port;
          const port = typeof t === 'number' ? t : b.ports.find((c) => c.name === t)?.port;
          if (port !== undefined) edges.push({ src: peer(w), dst: peer(b), protocol: f.protocol, port, ...meta });
        }
        continue;
      }
      edges.push({ src: peer(w), dst: { type: 'external', cidr: f.remote.ip }, protocol: f.protocol, port: f.remote.port, ...meta });
    } else {
      // Accepted on the local port; the remote end's port is its ephemeral source port.
      edges.push({ src: remoteW ? peer(remoteW) : { type: 'external', cidr: f.remote.ip }, dst: peer(w), protocol: f.protocol, port: f.local.port, ...meta });
    }
  }
  return { edges, notes: [...new Set(notes)], unresolved };
}
