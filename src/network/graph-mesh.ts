/**
 * Mesh protection of one edge of the network graph (issue 23, part 5), from the manifests
 * the same way src/compliance/mesh.ts reads them for coverage, but per source → destination
 * pair and port:
 *
 * - Linkerd: both ends meshed (`linkerd.io/inject: enabled` on the pod template, or on the
 *   namespace unless the pod says `disabled`) → mTLS, except a port in the source's
 *   `config.linkerd.io/skip-outbound-ports` or the destination's `skip-inbound-ports`.
 * - Istio: both ends have a sidecar (namespace label `istio-injection: enabled` or
 *   `istio.io/rev`, or pod `sidecar.istio.io/inject: "true"`; `"false"` or the namespace's
 *   `istio-injection: disabled` opts out) → mTLS (Istio's auto mTLS, whatever PERMISSIVE or
 *   STRICT), except where the destination's effective PeerAuthentication mode (workload
 *   selector > namespace > mesh-wide in the root namespace, per-port overrides) is DISABLE, or
 *   a DestinationRule for its Service host sets `tls.mode: DISABLE` (for all ports or this one).
 * - Two Kubernetes workloads otherwise: plaintext.
 * - Anything else (external addresses, Services without a known backend, plain-host
 *   containers): the manifests cannot tell; flows that went through a mesh proxy make it
 *   `mtls`, else `unknown`.
 */
import type { NetpolObject } from '../kube/netpol/model.js';
import { workloadKindOf } from '../kube/workload-kinds.js';
import type { GraphEdge } from './graph-types.js';

export const ISTIO_ROOT_NAMESPACE = 'istio-system';

interface Profile {
  namespace: string;
  labels: Record<string, string>;
  istio: boolean;
  linkerd: boolean;
  skipInbound: PortList;
  skipOutbound: PortList;
  /** FQDNs of the Services that select it. */
  hosts: string[];
}

type PortList = [number, number][];
type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

interface PeerAuth {
  namespace: string;
  selector?: Record<string, string>;
  mode: Mode;
  ports: Map<number, Mode>;
  created: string;
  name: string;
}

interface DestRule {
  host: string;
  disableAll: boolean;
  disabledPorts: Set<number>;
}

export interface MeshProfiles {
  profiles: Map<string, Profile>;
  peers: PeerAuth[];
  rules: DestRule[];
}

function parsePorts(text: string | undefined): PortList {
  const out: PortList = [];
  for (const part of (text ?? '').split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (m) out.push([Number(m[1]), Number(m[2] ?? m[1])]);
  }
  return out;
}

const inPorts = (list: PortList, port: number | undefined) => port !== undefined && list.some(([s, e]) => port >= s && port <= e);

function modeOf(v: unknown): Mode {
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return s === 'STRICT' || s === 'PERMISSIVE' || s === 'DISABLE' ? s : 'UNSET';
}

const strMap = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? '')])) : {};

const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === v);

function fqdn(host: string, namespace: string): string {
  if (host === '*' || host.startsWith('*.')) return host;
  const parts = host.split('.');
  if (parts.length === 1) return `${host}.${namespace}.svc.cluster.local`;
  if (parts.length === 2) return `${host}.svc.cluster.local`;
  if (host.endsWith('.svc')) return `${host}.cluster.local`;
  return host;
}

const hostMatches = (pattern: string, host: string) => pattern === '*' || pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)));

/** What the manifests say about each workload's mesh membership, and the Istio policies. */
export function meshProfiles(objects: readonly NetpolObject[], nodeIdOf: (kind: string, namespace: string, name: string) => string): MeshProfiles {
  const nsLabels = new Map<string, Record<string, string>>();
  const nsAnn = new Map<string, Record<string, string>>();
  const services: { namespace: string; name: string; selector: Record<string, string> }[] = [];
  const peers: PeerAuth[] = [];
  const rules: DestRule[] = [];
  for (const o of objects) {
    const ns = o.namespace || 'default';
    if (o.kind === 'Namespace') {
      nsLabels.set(o.name, strMap(o.raw.metadata?.labels));
      nsAnn.set(o.name, strMap(o.raw.metadata?.annotations));
    } else if (o.kind === 'Service' && o.raw.spec?.selector) {
      services.push({ namespace: ns, name: o.name, selector: strMap(o.raw.spec.selector) });
    } else if (o.kind === 'PeerAuthentication') {
      const spec = o.raw.spec ?? {};
      const ml = strMap(spec.selector?.matchLabels);
      const ports = new Map<number, Mode>();
      for (const [p, v] of Object.entries(spec.portLevelMtls ?? {})) ports.set(Number(p), modeOf((v as { mode?: unknown })?.mode));
      if (peers.some((p) => p.namespace === ns && p.name === o.name)) continue;
      peers.push({ namespace: ns, selector: Object.keys(ml).length ? ml : undefined, mode: modeOf(spec.mtls?.mode), ports, created: String(o.raw.metadata?.creationTimestamp ?? ''), name: o.name });
    } else if (o.kind === 'DestinationRule' && typeof o.raw.spec?.host === 'string') {
      const tp = o.raw.spec.trafficPolicy ?? {};
      const disabledPorts = new Set<number>();
      for (const s of Array.isArray(tp.portLevelSettings) ? tp.portLevelSettings : []) {
        if (modeOf(s?.tls?.mode) === 'DISABLE' && Number.isInteger(s?.port?.number)) disabledPorts.add(s.port.number);
      }
      rules.push({ host: fqdn(o.raw.spec.host, ns), disableAll: modeOf(tp.tls?.mode) === 'DISABLE', disabledPorts });
    }
  }
  peers.sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
  const profiles = new Map<string, Profile>();
  for (const o of objects) {
    const wk = workloadKindOf(o.kind);
    if (!wk?.runsPods) continue;
    let tpl: any = o.raw;
    for (const k of wk.template) tpl = tpl?.[k];
    const ns = o.namespace || 'default';
    const labels = strMap(tpl?.metadata?.labels);
    const ann = strMap(tpl?.metadata?.annotations);
    const nl = nsLabels.get(ns) ?? {};
    const na = nsAnn.get(ns) ?? {};
    const podInject = ann['linkerd.io/inject'];
    const linkerd = podInject === 'enabled' || (!podInject && na['linkerd.io/inject'] === 'enabled');
    const sidecarFlag = labels['sidecar.istio.io/inject'] ?? ann['sidecar.istio.io/inject'];
    const nsIstio = nl['istio-injection'] === 'enabled' || (nl['istio.io/rev'] !== undefined && nl['istio-injection'] !== 'disabled');
    const istio = sidecarFlag === 'false' || nl['istio-injection'] === 'disabled' ? false : sidecarFlag === 'true' || nsIstio;
    const hosts = services.filter((s) => s.namespace === ns && Object.keys(s.selector).length && selects(s.selector, labels)).map((s) => `${s.name}.${ns}.svc.cluster.local`);
    profiles.set(nodeIdOf(o.kind, ns, o.name), {
      namespace: ns, labels, istio, linkerd, hosts,
      skipInbound: parsePorts(ann['config.linkerd.io/skip-inbound-ports'] ?? na['config.linkerd.io/skip-inbound-ports']),
      skipOutbound: parsePorts(ann['config.linkerd.io/skip-outbound-ports'] ?? na['config.linkerd.io/skip-outbound-ports']),
    });
  }
  return { profiles, peers, rules };
}

/** The destination's effective PeerAuthentication mode at a port. */
function peerMode(mesh: MeshProfiles, dst: Profile, port: number | undefined): Mode {
  const wl = mesh.peers.find((p) => p.namespace === dst.namespace && p.selector && selects(p.selector, dst.labels));
  const ns = mesh.peers.find((p) => p.namespace === dst.namespace && !p.selector);
  const root = mesh.peers.find((p) => p.namespace === ISTIO_ROOT_NAMESPACE && !p.selector);
  const portMode = port !== undefined ? wl?.ports.get(port) : undefined;
  for (const m of [portMode, wl?.mode, ns?.mode, root?.mode]) if (m && m !== 'UNSET') return m;
  return 'UNSET';
}

export function edgeMtls(
  mesh: MeshProfiles | undefined,
  src: { id: string; kind: string },
  dst: { id: string; kind: string },
  port: number | undefined,
  meshFlows: number,
): NonNullable<GraphEdge['mtls']> {
  const a = mesh?.profiles.get(src.id);
  const b = mesh?.profiles.get(dst.id);
  if (!mesh || !a || !b) return meshFlows > 0 ? 'mtls' : 'unknown';
  if (a.linkerd && b.linkerd) return inPorts(a.skipOutbound, port) || inPorts(b.skipInbound, port) ? 'plaintext' : 'mtls';
  if (a.istio && b.istio) {
    if (peerMode(mesh, b, port) === 'DISABLE') return 'plaintext';
    const rule = mesh.rules.find((r) => b.hosts.some((h) => hostMatches(r.host, h)));
    if (rule && (rule.disableAll || (port !== undefined && rule.disabledPorts.has(port)))) return 'plaintext';
    return 'mtls';
  }
  return 'plaintext';
}
