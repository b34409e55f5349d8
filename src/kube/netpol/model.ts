/**
 * The network model np-guard-style analysis works on: workloads (one entry per pod owner),
 * namespaces, NetworkPolicies, AdminNetworkPolicies and the BaselineAdminNetworkPolicy,
 * compiled from manifest objects into matchers.
 */
import { parse as parseYaml } from 'yaml';
import type { ManifestObject } from '../manifests.js';
import { workloadKindOf } from '../workload-kinds.js';
import { getIn } from '../workloads.js';

/** What connectivity needs of a loaded object (manifests or a live cluster give more). */
export type NetpolObject = Pick<ManifestObject, 'kind' | 'name' | 'namespace' | 'labels' | 'raw'> & { source: { file: string; line: number } };
import { UserError } from '../../util/errors.js';
import { compileSelector, MATCH_ALL, type LabelMatcher, type Labels } from './selectors.js';
import { isIpv6Cidr, parseCidr, parseIpv4, subtract, type IpSet } from './ipset.js';
import { PROTOCOLS, type Protocol } from './conns.js';

export interface ContainerPort {
  name?: string;
  port: number;
  protocol: Protocol;
}

export interface Workload {
  namespace: string;
  /** Owner name (or the Pod's own name when it has no controller). */
  name: string;
  kind: string;
  labels: Labels;
  ports: ContainerPort[];
  /** `ns/name[Kind]`, how np-guard prints it. */
  id: string;
  /** Set for peers the analysis adds itself (the ingress controller). */
  synthetic?: boolean;
  /** Where the workload (or its first Pod) is declared. */
  source?: { file: string; line: number };
  /** The pod spec, for intent inference (env, envFrom). */
  podSpec?: Record<string, any>;
  /** Primary user-defined network (OVN-Kubernetes UDN/CUDN); undefined: the pod network. */
  network?: PrimaryNetwork;
  /** Secondary networks (NetworkAttachmentDefinition names) the pods attach to, sorted. */
  secondary?: string[];
  /** Addresses on secondary networks (from the attachment's "ips"), by network key. */
  secondaryIps?: Record<string, number[]>;
  /** Addresses the analysis of one secondary network matches ipBlocks against. */
  ips?: number[];
  /** Pod template annotations (secondary network attachments). */
  annotations?: Record<string, string>;
}

/** Secondary network: a NetworkAttachmentDefinition and the MultiNetworkPolicies for it. */
export interface SecondaryNetworkModel {
  namespace: string;
  name: string;
  policies: NetworkPolicyModel[];
}

export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
export const POLICY_FOR_ANNOTATION = 'k8s.v1.cni.cncf.io/policy-for';

export interface PrimaryNetwork {
  kind: 'UDN' | 'CUDN';
  /** A UDN is named after its namespace (as np-guard prints it), a CUDN by its own name. */
  name: string;
}

/** Namespaces must carry this label for a primary (C)UDN to apply to them. */
export const PRIMARY_UDN_LABEL = 'k8s.ovn.org/primary-user-defined-network';

export interface Namespace {
  name: string;
  labels: Labels;
}

/** Which pods a rule peer selects: namespace by labels (or the policy's own) and pod by labels. */
export interface PodPeerMatcher {
  type: 'pods';
  /** undefined: the policy's own namespace. */
  ns?: LabelMatcher;
  sameNamespace?: string;
  pod: LabelMatcher;
}

export interface IpPeerMatcher {
  type: 'ip';
  set: IpSet;
}

export type PeerMatcher = PodPeerMatcher | IpPeerMatcher;

/** A port clause; `range` undefined means every port of the protocol. */
export interface PortSpec {
  protocol?: Protocol;
  range?: [number, number];
  named?: string;
}

export interface PolicyRule {
  /** undefined: every peer (rule without from/to). */
  peers?: PeerMatcher[];
  /** undefined: every port and protocol. */
  ports?: PortSpec[];
}

export interface NetworkPolicyModel {
  namespace: string;
  name: string;
  selects: LabelMatcher;
  ingressIsolation: boolean;
  egressIsolation: boolean;
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

export type AdminAction = 'Allow' | 'Deny' | 'Pass';

export interface AdminRule extends PolicyRule {
  action: AdminAction;
  peers: PeerMatcher[];
}

export interface AdminPolicyModel {
  name: string;
  priority: number;
  subjectNs: LabelMatcher;
  subjectPod: LabelMatcher;
  ingress: AdminRule[];
  egress: AdminRule[];
}

export interface ClusterModel {
  namespaces: Map<string, Namespace>;
  workloads: Workload[];
  netpols: NetworkPolicyModel[];
  /** Sorted by priority (lowest number first = evaluated first). */
  anps: AdminPolicyModel[];
  banp?: AdminPolicyModel;
  /** Services, Routes and Ingresses: what the ingress controller may reach. */
  services: ServiceModel[];
  ingressRoutes: IngressRouteModel[];
  /** ConfigMap data by ns/name (intent inference reads service references there). */
  configMaps: Map<string, Record<string, string>>;
  /** Input uses multiple networks (UDN, CUDN, NAD or VirtualMachines): output gets sections. */
  multiNetwork: boolean;
  /** NetworkAttachmentDefinitions by name. */
  nads: Map<string, SecondaryNetworkModel>;
  notes: string[];
}

export interface ServiceModel {
  namespace: string;
  name: string;
  /** undefined: a Service without selector (not analysed, as in np-guard). */
  selector?: Labels;
  /** spec.type: ClusterIP (default), NodePort, LoadBalancer or ExternalName. */
  type?: string;
  ports: { name?: string; port: number; targetPort?: number | string; protocol: Protocol }[];
}

/** One Route or Ingress: the services (and service port, if given) it sends traffic to. */
export interface IngressRouteModel {
  kind: 'Route' | 'Ingress';
  namespace: string;
  name: string;
  backends: { service: string; port?: number | string }[];
}

export const NS_NAME_LABEL = 'kubernetes.io/metadata.name';

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, val] of Object.entries(v)) out[k] = val === null || val === undefined ? '' : String(val);
  }
  return out;
}

function protocolOf(p: unknown, where: string): Protocol {
  if (p === undefined || p === null || p === '') return 'TCP';
  const up = String(p).toUpperCase();
  if ((PROTOCOLS as readonly string[]).includes(up)) return up as Protocol;
  throw new UserError(`${where}: unsupported protocol ${JSON.stringify(p)}`, 'bad-policy');
}

function containerPorts(spec: any): ContainerPort[] {
  const out: ContainerPort[] = [];
  // Pod containers, or a KubeVirt VM template's interfaces.
  const holders = [...(Array.isArray(spec?.containers) ? spec.containers : []), ...(Array.isArray(spec?.domain?.devices?.interfaces) ? spec.domain.devices.interfaces : [])];
  for (const c of holders) {
    for (const p of Array.isArray(c?.ports) ? c.ports : []) {
      const port = Number(p?.containerPort ?? p?.port);
      if (!Number.isInteger(port)) continue;
      let protocol: Protocol = 'TCP';
      try {
        protocol = protocolOf(p?.protocol, 'container port');
      } catch {
        continue;
      }
      out.push({ name: typeof p?.name === 'string' ? p.name : undefined, port, protocol });
    }
  }
  return out;
}

export function workloadId(namespace: string, name: string, kind: string): string {
  return `${namespace}/${name}[${kind}]`;
}

/** Builds the model; bad policies raise UserError (file + line) since the result would be wrong. */
export function buildModel(objects: NetpolObject[]): ClusterModel {
  const model: ClusterModel = { namespaces: new Map(), workloads: [], netpols: [], anps: [], services: [], ingressRoutes: [], configMaps: new Map(), multiNetwork: false, nads: new Map(), notes: [] };
  const mnps: { policy: NetworkPolicyModel; targets: string[] }[] = [];
  const udnNamespaces = new Set<string>();
  const cudns: { name: string; selector: LabelMatcher }[] = [];
  const seenWorkloads = new Set<string>();
  const where = (o: NetpolObject): string => `${o.source.file}:${o.source.line}: ${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}`;
  for (const o of objects) {
    const ns = o.namespace || 'default';
    if (o.kind === 'Namespace') {
      model.namespaces.set(o.name, { name: o.name, labels: { ...o.labels, [NS_NAME_LABEL]: o.name } });
    } else if (o.kind === 'Pod') {
      const owner = (Array.isArray(o.raw.metadata?.ownerReferences) ? o.raw.metadata.ownerReferences : []).find(
        (r: any) => r?.controller === true && r?.kind !== 'Node',
      );
      const name = owner ? String(owner.name) : o.name;
      // virt-launcher Pods belong to their VirtualMachineInstance, i.e. to the VirtualMachine.
      const kind = owner?.kind === 'VirtualMachineInstance' ? 'VirtualMachine' : owner?.kind ? String(owner.kind) : 'Pod';
      addWorkload(model, seenWorkloads, ns, name, kind, o.labels, containerPorts(o.raw.spec), o.source, o.raw.spec, labelsOf(o.raw.metadata?.annotations));
    } else if (workloadKindOf(o.kind)?.runsPods) {
      const tpl = getIn(o.raw, workloadKindOf(o.kind)!.template);
      addWorkload(model, seenWorkloads, ns, o.name, o.kind, labelsOf(tpl?.metadata?.labels), containerPorts(tpl?.spec), o.source, tpl?.spec, labelsOf(tpl?.metadata?.annotations));
    } else if (o.kind === 'NetworkPolicy') {
      model.netpols.push(compileNetworkPolicy(o.raw, ns, o.name, where(o)));
    } else if (o.kind === 'AdminNetworkPolicy') {
      model.anps.push(compileAdminPolicy(o.raw, o.name, where(o), false));
    } else if (o.kind === 'BaselineAdminNetworkPolicy') {
      if (model.banp) throw new UserError(`${where(o)}: only one BaselineAdminNetworkPolicy may exist`, 'bad-policy');
      model.banp = compileAdminPolicy(o.raw, o.name, where(o), true);
    } else if (o.kind === 'UserDefinedNetwork') {
      model.multiNetwork = true;
      if (udnRole(o.raw?.spec) === 'Primary') udnNamespaces.add(ns);
    } else if (o.kind === 'ClusterUserDefinedNetwork') {
      model.multiNetwork = true;
      if (udnRole(o.raw?.spec?.network) === 'Primary') cudns.push({ name: o.name, selector: compileSelector(o.raw?.spec?.namespaceSelector ?? {}, where(o)) });
    } else if (o.kind === 'NetworkAttachmentDefinition') {
      model.multiNetwork = true;
      // np-guard treats equally named NADs in different namespaces as one network.
      if (!model.nads.has(o.name)) model.nads.set(o.name, { namespace: ns, name: o.name, policies: [] });
    } else if (o.kind === 'MultiNetworkPolicy') {
      const forList = String(o.raw?.metadata?.annotations?.[POLICY_FOR_ANNOTATION] ?? '');
      const targets = forList.split(',').map((t) => t.trim()).filter(Boolean).map((t) => (t.includes('/') ? t : `${ns}/${t}`));
      mnps.push({ policy: compileNetworkPolicy(o.raw, ns, o.name, where(o)), targets });
    } else if (o.kind === 'ConfigMap') {
      model.configMaps.set(`${ns}/${o.name}`, labelsOf(o.raw.data));
    } else if (o.kind === 'Service') {
      model.services.push(serviceModel(o.raw, ns, o.name));
    } else if (o.kind === 'Route' || o.kind === 'Ingress') {
      model.ingressRoutes.push({ kind: o.kind, namespace: ns, name: o.name, backends: o.kind === 'Route' ? routeBackends(o.raw) : ingressBackends(o.raw) });
    }
  }
  const prios = new Map<number, string>();
  for (const a of model.anps) {
    if (!Number.isInteger(a.priority) || a.priority < 0 || a.priority > 1000) {
      throw new UserError(`AdminNetworkPolicy ${a.name}: priority must be an integer in 0-1000`, 'bad-policy');
    }
    const other = prios.get(a.priority);
    if (other !== undefined) throw new UserError(`AdminNetworkPolicies ${other} and ${a.name} have the same priority ${a.priority}`, 'bad-policy');
    prios.set(a.priority, a.name);
  }
  model.anps.sort((a, b) => a.priority - b.priority);
  for (const w of model.workloads) {
    if (!model.namespaces.has(w.namespace)) {
      model.namespaces.set(w.namespace, { name: w.namespace, labels: { [NS_NAME_LABEL]: w.namespace } });
    }
  }
  if (model.workloads.some((w) => w.kind === 'VirtualMachine')) model.multiNetwork = true;
  const nadName = (key: string): string => key.slice(key.indexOf('/') + 1);
  for (const { policy, targets } of mnps) {
    for (const t of new Set(targets.map(nadName))) model.nads.get(t)?.policies.push(policy);
  }
  const resolve = (key: string): string | undefined => (model.nads.has(nadName(key)) ? nadName(key) : undefined);
  for (const w of model.workloads) {
    const refs = attachments(w.annotations?.[NETWORKS_ANNOTATION], w.namespace);
    for (const n of Array.isArray(w.podSpec?.networks) ? w.podSpec!.networks : []) {
      const name = n?.multus?.networkName;
      if (typeof name === 'string' && name) refs.push({ key: name.includes('/') ? name : `${w.namespace}/${name}`, ips: [] });
    }
    const vmIps = cloudInitAddresses(w.podSpec);
    const secondary = new Set<string>();
    for (const r of refs) {
      if (r.ips.length === 0 && vmIps.length > 0) r.ips = vmIps;
      const key = resolve(r.key);
      if (!key) continue;
      secondary.add(key);
      if (r.ips.length > 0) (w.secondaryIps ??= {})[key] = r.ips;
    }
    if (secondary.size > 0) w.secondary = [...secondary].sort();
  }
  for (const w of model.workloads) {
    const nsLabels = model.namespaces.get(w.namespace)!.labels;
    if (!(PRIMARY_UDN_LABEL in nsLabels)) continue;
    if (udnNamespaces.has(w.namespace)) w.network = { kind: 'UDN', name: w.namespace };
    else {
      const c = cudns.find((x) => x.selector(nsLabels));
      if (c) w.network = { kind: 'CUDN', name: c.name };
    }
  }
  return model;
}

function addWorkload(
  model: ClusterModel,
  seen: Set<string>,
  ns: string,
  name: string,
  kind: string,
  labels: Labels,
  ports: ContainerPort[],
  source: { file: string; line: number },
  podSpec: unknown,
  annotations: Record<string, string>,
): void {
  const id = workloadId(ns, name, kind);
  if (seen.has(id)) return; // replicas of one owner: np-guard keeps one representative
  seen.add(id);
  const spec = podSpec && typeof podSpec === 'object' ? (podSpec as Record<string, any>) : undefined;
  model.workloads.push({ namespace: ns, name, kind, labels, ports, id, source, podSpec: spec, annotations });
}

function compilePortSpecs(ports: unknown, where: string): PortSpec[] | undefined {
  if (!Array.isArray(ports) || ports.length === 0) return undefined;
  return ports.map((p: any) => {
    const protocol = protocolOf(p?.protocol, where);
    if (p?.port === undefined || p?.port === null) return { protocol };
    if (typeof p.port === 'string' && !/^\d+$/.test(p.port)) return { protocol, named: p.port };
    const start = Number(p.port);
    const end = p.endPort === undefined || p.endPort === null ? start : Number(p.endPort);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 1 || end > 65535 || end < start) {
      throw new UserError(`${where}: invalid port range ${p.port}${p.endPort !== undefined ? `-${p.endPort}` : ''}`, 'bad-policy');
    }
    return { protocol, range: [start, end] as [number, number] };
  });
}

function compileIpBlock(b: any, where: string): IpSet {
  const cidr = typeof b?.cidr === 'string' ? b.cidr : '';
  if (isIpv6Cidr(cidr)) return [];
  const base = parseCidr(cidr);
  if (!base) throw new UserError(`${where}: invalid ipBlock cidr ${JSON.stringify(b?.cidr)}`, 'bad-policy');
  const excepts: IpSet = [];
  for (const e of Array.isArray(b?.except) ? b.except : []) {
    if (typeof e === 'string' && isIpv6Cidr(e)) continue;
    const iv = parseCidr(String(e));
    if (!iv) throw new UserError(`${where}: invalid ipBlock except ${JSON.stringify(e)}`, 'bad-policy');
    excepts.push(iv);
  }
  excepts.sort((x, y) => x[0] - y[0]);
  return subtract([base], excepts);
}

function compileNpPeers(list: unknown, policyNs: string, where: string): PeerMatcher[] | undefined {
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const out: PeerMatcher[] = [];
  for (const p of list as any[]) {
    const hasPod = p?.podSelector !== undefined && p?.podSelector !== null;
    const hasNs = p?.namespaceSelector !== undefined && p?.namespaceSelector !== null;
    const hasIp = p?.ipBlock !== undefined && p?.ipBlock !== null;
    if (!hasPod && !hasNs && !hasIp) throw new UserError(`${where}: a rule peer must set podSelector, namespaceSelector or ipBlock`, 'bad-policy');
    if (hasIp && (hasPod || hasNs)) throw new UserError(`${where}: ipBlock cannot be combined with selectors in one rule peer`, 'bad-policy');
    if (hasIp) out.push({ type: 'ip', set: compileIpBlock(p.ipBlock, where) });
    else {
      out.push({
        type: 'pods',
        ns: hasNs ? compileSelector(p.namespaceSelector, where) : undefined,
        sameNamespace: hasNs ? undefined : policyNs,
        pod: hasPod ? compileSelector(p.podSelector, where) : MATCH_ALL,
      });
    }
  }
  return out;
}

function compileNetworkPolicy(raw: any, ns: string, name: string, where: string): NetworkPolicyModel {
  const spec = raw?.spec ?? {};
  const types: string[] | undefined = Array.isArray(spec.policyTypes) ? spec.policyTypes.map(String) : undefined;
  for (const t of types ?? []) {
    if (t !== 'Ingress' && t !== 'Egress') throw new UserError(`${where}: unknown policyType ${JSON.stringify(t)}`, 'bad-policy');
  }
  const ingressRules: any[] = Array.isArray(spec.ingress) ? spec.ingress : [];
  const egressRules: any[] = Array.isArray(spec.egress) ? spec.egress : [];
  const rule = (r: any, dir: 'from' | 'to'): PolicyRule => ({
    peers: compileNpPeers(r?.[dir], ns, where),
    ports: compilePortSpecs(r?.ports, where),
  });
  return {
    namespace: ns,
    name,
    selects: compileSelector(spec.podSelector ?? {}, where),
    ingressIsolation: types ? types.includes('Ingress') : true,
    egressIsolation: types ? types.includes('Egress') : egressRules.length > 0,
    ingress: ingressRules.map((r) => rule(r, 'from')),
    egress: egressRules.map((r) => rule(r, 'to')),
  };
}

function compileAdminPorts(ports: unknown, where: string): PortSpec[] | undefined {
  if (!Array.isArray(ports) || ports.length === 0) return undefined;
  return (ports as any[]).map((p) => {
    if (p?.portNumber) {
      const port = Number(p.portNumber.port);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`${where}: invalid port ${p.portNumber.port}`, 'bad-policy');
      return { protocol: protocolOf(p.portNumber.protocol, where), range: [port, port] as [number, number] };
    }
    if (p?.portRange) {
      const s = Number(p.portRange.start);
      const e = Number(p.portRange.end);
      if (!Number.isInteger(s) || !Number.isInteger(e) || s < 1 || e > 65535 || s > e) {
        throw new UserError(`${where}: invalid port range ${p.portRange.start}-${p.portRange.end}`, 'bad-policy');
      }
      return { protocol: protocolOf(p.portRange.protocol, where), range: [s, e] as [number, number] };
    }
    if (typeof p?.namedPort === 'string') return { named: p.namedPort };
    throw new UserError(`${where}: a port must set portNumber, portRange or namedPort`, 'bad-policy');
  });
}

function compileAdminPeers(list: unknown, where: string, egress: boolean): PeerMatcher[] {
  if (!Array.isArray(list) || list.length === 0) throw new UserError(`${where}: an admin policy rule needs at least one peer`, 'bad-policy');
  const out: PeerMatcher[] = [];
  for (const p of list as any[]) {
    if (p?.namespaces !== undefined) {
      out.push({ type: 'pods', ns: compileSelector(p.namespaces ?? {}, where), pod: MATCH_ALL });
    } else if (p?.pods !== undefined) {
      out.push({
        type: 'pods',
        ns: compileSelector(p.pods?.namespaceSelector ?? {}, where),
        pod: compileSelector(p.pods?.podSelector ?? {}, where),
      });
    } else if (egress && Array.isArray(p?.networks)) {
      const set: IpSet = [];
      for (const c of p.networks) {
        if (typeof c === 'string' && isIpv6Cidr(c)) continue;
        const iv = parseCidr(String(c));
        if (!iv) throw new UserError(`${where}: invalid network ${JSON.stringify(c)}`, 'bad-policy');
        set.push(iv);
      }
      out.push({ type: 'ip', set: mergeIntervals(set) });
    } else if (egress && p?.nodes !== undefined) {
      continue; // nodes are not modelled: such a peer selects nothing here
    } else {
      throw new UserError(`${where}: unsupported admin policy peer`, 'bad-policy');
    }
  }
  return out;
}

function mergeIntervals(set: IpSet): IpSet {
  const sorted = [...set].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function compileAdminPolicy(raw: any, name: string, where: string, baseline: boolean): AdminPolicyModel {
  const spec = raw?.spec ?? {};
  const subject = spec.subject ?? {};
  let subjectNs: LabelMatcher;
  let subjectPod: LabelMatcher = MATCH_ALL;
  if (subject.namespaces !== undefined) subjectNs = compileSelector(subject.namespaces ?? {}, where);
  else if (subject.pods !== undefined) {
    subjectNs = compileSelector(subject.pods?.namespaceSelector ?? {}, where);
    subjectPod = compileSelector(subject.pods?.podSelector ?? {}, where);
  } else throw new UserError(`${where}: subject must set namespaces or pods`, 'bad-policy');
  const actions = baseline ? ['Allow', 'Deny'] : ['Allow', 'Deny', 'Pass'];
  const rules = (list: unknown, dir: 'from' | 'to'): AdminRule[] =>
    (Array.isArray(list) ? list : []).map((r: any) => {
      if (!actions.includes(r?.action)) throw new UserError(`${where}: invalid rule action ${JSON.stringify(r?.action)}`, 'bad-policy');
      return {
        action: r.action as AdminAction,
        peers: compileAdminPeers(r?.[dir], where, dir === 'to'),
        ports: compileAdminPorts(r?.ports, where),
      };
    });
  const ingress = rules(spec.ingress, 'from');
  const egress = rules(spec.egress, 'to');
  if (ingress.length > 100 || egress.length > 100) throw new UserError(`${where}: at most 100 rules per direction`, 'bad-policy');
  return { name, priority: baseline ? Infinity : Number(spec.priority), subjectNs, subjectPod, ingress, egress };
}

function portValue(v: unknown): number | string | undefined {
  if (v === undefined || v === null || v === '' || v === 0) return undefined;
  if (typeof v === 'number') return v;
  return /^\d+$/.test(String(v)) ? Number(v) : String(v);
}

function serviceModel(raw: any, namespace: string, name: string): ServiceModel {
  const sel = raw?.spec?.selector;
  return {
    namespace,
    name,
    selector: sel && typeof sel === 'object' ? labelsOf(sel) : undefined,
    type: typeof raw?.spec?.type === 'string' ? raw.spec.type : undefined,
    ports: (Array.isArray(raw?.spec?.ports) ? raw.spec.ports : []).map((p: any) => ({
      name: typeof p?.name === 'string' ? p.name : undefined,
      port: Number(p?.port),
      targetPort: portValue(p?.targetPort),
      protocol: ((PROTOCOLS as readonly string[]).includes(String(p?.protocol ?? 'TCP').toUpperCase())
        ? String(p?.protocol ?? 'TCP').toUpperCase()
        : 'TCP') as Protocol,
    })),
  };
}

function routeBackends(raw: any): IngressRouteModel['backends'] {
  const port = portValue(raw?.spec?.port?.targetPort);
  const out: IngressRouteModel['backends'] = [];
  const to = raw?.spec?.to;
  if (to && (!to.kind || to.kind === 'Service')) out.push({ service: String(to.name), port });
  for (const b of Array.isArray(raw?.spec?.alternateBackends) ? raw.spec.alternateBackends : []) {
    if (!b?.kind || b.kind === 'Service') out.push({ service: String(b.name), port });
  }
  return out;
}

function ingressBackends(raw: any): IngressRouteModel['backends'] {
  const out: IngressRouteModel['backends'] = [];
  const add = (svc: any): void => {
    if (svc?.name) out.push({ service: String(svc.name), port: portValue(svc.port?.name) ?? portValue(svc.port?.number) });
  };
  add(raw?.spec?.defaultBackend?.service);
  for (const r of Array.isArray(raw?.spec?.rules) ? raw.spec.rules : []) {
    for (const p of Array.isArray(r?.http?.paths) ? r.http.paths : []) add(p?.backend?.service);
  }
  return out;
}

function udnRole(spec: any): string | undefined {
  const layer = spec?.topology === 'Layer3' ? spec?.layer3 : spec?.layer2;
  return typeof layer?.role === 'string' ? layer.role : undefined;
}

/**
 * Static addresses a KubeVirt VM configures through cloud-init `networkData`
 * (`ethernets.<if>.addresses`); used as its address on its secondary networks.
 */
function cloudInitAddresses(spec: any): number[] {
  const out: number[] = [];
  for (const v of Array.isArray(spec?.volumes) ? spec.volumes : []) {
    const data = v?.cloudInitNoCloud?.networkData ?? v?.cloudInitConfigDrive?.networkData;
    if (typeof data !== 'string') continue;
    let doc: any;
    try {
      doc = parseYaml(data);
    } catch {
      continue;
    }
    for (const eth of Object.values(doc?.ethernets ?? {}) as any[]) {
      for (const a of Array.isArray(eth?.addresses) ? eth.addresses : []) {
        const ip = parseIpv4(String(a).split('/')[0]!);
        if (ip !== undefined) out.push(ip);
      }
    }
  }
  return out;
}

/** `k8s.v1.cni.cncf.io/networks`: "a, ns/b, c@eth1" or a JSON list of {name, namespace, ips}. */
function attachments(value: string | undefined, ns: string): { key: string; ips: number[] }[] {
  if (!value || !value.trim()) return [];
  const text = value.trim();
  if (text.startsWith('[')) {
    try {
      const list = JSON.parse(text) as { name?: string; namespace?: string; ips?: string[] }[];
      return list
        .filter((x) => x?.name)
        .map((x) => ({
          key: `${x.namespace || ns}/${x.name}`,
          ips: (Array.isArray(x.ips) ? x.ips : []).map((ip) => parseIpv4(String(ip).split('/')[0]!)).filter((n): n is number => n !== undefined),
        }));
    } catch {
      return [];
    }
  }
  return text
    .split(',')
    .map((t) => t.trim().split('@')[0]!)
    .filter(Boolean)
    .map((t) => ({ key: t.includes('/') ? t : `${ns}/${t}`, ips: [] }));
}
