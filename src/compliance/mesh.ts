/**
 * Service-mesh coverage: which namespaces and workloads only accept mutual TLS, and the
 * plaintext paths left.
 *
 * Istio (PeerAuthentication, security.istio.io): a policy in the root namespace without a
 * selector is mesh-wide; one in a namespace without a selector is namespace-wide; one with
 * `selector.matchLabels` covers the workloads it selects in its own namespace. The most
 * specific one wins, and `UNSET` (or no `mtls`) inherits from the next level. Without any
 * policy Istio accepts plaintext (PERMISSIVE). `portLevelMtls` (selector policies only)
 * overrides the mode per port: a PERMISSIVE or DISABLE port is a plaintext path even under
 * a STRICT workload. Several policies at the same level: the oldest wins in Istio; here, by
 * creationTimestamp when known, else the first by name (reported in the evidence).
 * Workloads that opt out of the sidecar (`sidecar.istio.io/inject: "false"`, or the
 * namespace label `istio-injection: disabled`) are not covered whatever the policy says.
 *
 * Linkerd: a workload is meshed when its pod template or its namespace has the annotation
 * `linkerd.io/inject: enabled` (the pod's `disabled` wins); meshed-to-meshed traffic is
 * mTLS. `config.linkerd.io/skip-inbound-ports` / `skip-outbound-ports` are plaintext paths.
 */
import type { CheckResult } from '../findings/check-result.js';
import type { ManifestObject } from '../kube/manifests.js';
import type { ObjectIndex } from '../kube/object-index.js';
import { podTemplateOf } from '../kube/workloads.js';
import { describeObject, result, whereIs, type ClusterCheckDef } from './check-result.js';

/** Kinds to read from a live cluster beside the posture kinds (404 when Istio is not installed: a note). */
export const MESH_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' },
  { apiVersion: 'security.istio.io/v1beta1', kind: 'PeerAuthentication' },
];

const NS_CHECK: ClusterCheckDef = {
  id: 'k8s.mesh.namespace-mtls',
  title: 'Namespace requires mutual TLS (Istio STRICT or Linkerd)',
  failTitle: 'Namespace accepts plaintext traffic',
  severity: 'MEDIUM',
  remediation: 'Apply a PeerAuthentication with mtls.mode STRICT to the namespace (or mesh-wide in the root namespace), or annotate the namespace linkerd.io/inject: enabled.',
};
const WL_CHECK: ClusterCheckDef = {
  id: 'k8s.mesh.workload-mtls',
  title: 'Workload accepts only mutual TLS',
  failTitle: 'Workload has plaintext network paths',
  severity: 'MEDIUM',
  remediation: 'Cover the workload with a STRICT PeerAuthentication (and no PERMISSIVE/DISABLE port overrides) or mesh it with Linkerd without skip-ports annotations.',
};

export const MESH_CHECKS: readonly ClusterCheckDef[] = [NS_CHECK, WL_CHECK];

type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';

interface Peer {
  object: ManifestObject;
  namespace: string;
  selector?: Record<string, string>;
  mode: Mode;
  ports: Map<string, Mode>;
}

function modeOf(v: unknown): Mode {
  const s = typeof v === 'string' ? v.toUpperCase() : '';
  return s === 'STRICT' || s === 'PERMISSIVE' || s === 'DISABLE' ? s : 'UNSET';
}

function peersOf(objects: readonly ManifestObject[]): Peer[] {
  const out: Peer[] = [];
  // A live cluster serves the same objects as v1 and v1beta1: each once.
  const seen = new Set<string>();
  for (const o of objects) {
    if (o.kind !== 'PeerAuthentication' || !o.apiVersion.startsWith('security.istio.io/')) continue;
    const key = `${o.namespace ?? 'default'}/${o.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const spec = o.raw.spec ?? {};
    const ml = spec.selector?.matchLabels;
    const ports = new Map<string, Mode>();
    const pl = spec.portLevelMtls;
    if (pl && typeof pl === 'object') for (const [port, v] of Object.entries(pl)) ports.set(String(port), modeOf((v as any)?.mode));
    out.push({ object: o, namespace: o.namespace ?? 'default', selector: ml && typeof ml === 'object' && Object.keys(ml).length ? ml : undefined, mode: modeOf(spec.mtls?.mode), ports });
  }
  // The oldest first (Istio's tie-break), then by name.
  const t = (p: Peer) => String(p.object.raw.metadata?.creationTimestamp ?? '');
  return out.sort((a, b) => t(a).localeCompare(t(b)) || a.object.name.localeCompare(b.object.name));
}

const label = (p: Peer) => `PeerAuthentication ${p.namespace}/${p.object.name}${whereIs(p.object)}`;
const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.entries(sel).every(([k, v]) => labels[k] === String(v));

function skipPorts(...sources: (Record<string, string> | undefined)[]): { inbound?: string; outbound?: string } {
  const out: { inbound?: string; outbound?: string } = {};
  for (const a of sources) {
    if (!a) continue;
    out.inbound ??= a['config.linkerd.io/skip-inbound-ports'] || undefined;
    out.outbound ??= a['config.linkerd.io/skip-outbound-ports'] || undefined;
  }
  return out;
}

export function meshChecks(objects: readonly ManifestObject[], index: ObjectIndex, namespaces: readonly { name: string; object?: ManifestObject }[], opts: { rootNamespace: string }): CheckResult[] {
  const peers = peersOf(objects);
  const mesh = peers.find((p) => p.namespace === opts.rootNamespace && !p.selector);
  const nsPeer = (ns: string) => peers.find((p) => p.namespace === ns && !p.selector);
  const nsAnn = (ns: string): Record<string, string> => (index.find('Namespace', undefined, ns)?.annotations ?? namespaces.find((n) => n.name === ns)?.object?.annotations ?? {});
  const nsLabels = (ns: string): Record<string, string> => namespaces.find((n) => n.name === ns)?.object?.labels ?? {};
  const out: CheckResult[] = [];

  /** The namespace-level mode and where it comes from. */
  const nsMode = (ns: string): { mode: Mode; from: string } => {
    const own = nsPeer(ns);
    if (own && own.mode !== 'UNSET') return { mode: own.mode, from: `${label(own)} mtls.mode ${own.mode}` };
    if (mesh && mesh.mode !== 'UNSET') return { mode: mesh.mode, from: `mesh-wide ${label(mesh)} mtls.mode ${mesh.mode}${own ? ` (${label(own)} leaves it UNSET)` : ''}` };
    return { mode: 'UNSET', from: 'no PeerAuthentication for the namespace or mesh-wide (Istio accepts plaintext: PERMISSIVE)' };
  };

  for (const ns of namespaces) {
    const m = nsMode(ns.name);
    const linkerd = nsAnn(ns.name)['linkerd.io/inject'] === 'enabled';
    const evidence = [m.from];
    if (linkerd) evidence.push(`Namespace ${ns.name}: annotation linkerd.io/inject: enabled`);
    const skips = skipPorts(nsAnn(ns.name));
    if (linkerd && (skips.inbound || skips.outbound)) evidence.push(`namespace-wide plaintext ports: ${[skips.inbound && `inbound ${skips.inbound}`, skips.outbound && `outbound ${skips.outbound}`].filter(Boolean).join(', ')}`);
    const istioOff = nsLabels(ns.name)['istio-injection'] === 'disabled';
    if (istioOff) evidence.push(`Namespace ${ns.name}: label istio-injection: disabled (no sidecars)`);
    const pass = (m.mode === 'STRICT' && !istioOff) || (linkerd && !skips.inbound && !skips.outbound);
    out.push(result(NS_CHECK, { kind: 'Namespace', name: ns.name, object: ns.object }, pass, evidence));
  }

  for (const o of objects) {
    const pod = podTemplateOf(o);
    if (!pod) continue;
    const ns = o.namespace ?? 'default';
    const labels: Record<string, string> = pod.metadata.labels ?? {};
    const ann: Record<string, string> = pod.metadata.annotations ?? {};
    const evidence: string[] = [];
    const plaintext: string[] = [];
    // Linkerd.
    const podInject = ann['linkerd.io/inject'];
    const linkerd = podInject === 'enabled' || ((podInject === undefined || podInject === '') && nsAnn(ns)['linkerd.io/inject'] === 'enabled');
    let covered = false;
    if (linkerd) {
      evidence.push(`Linkerd: ${podInject === 'enabled' ? 'pod template annotation' : `Namespace ${ns} annotation`} linkerd.io/inject: enabled`);
      const skips = skipPorts(ann, nsAnn(ns));
      if (skips.inbound) plaintext.push(`inbound port(s) ${skips.inbound} skip the Linkerd proxy (config.linkerd.io/skip-inbound-ports)`);
      if (skips.outbound) plaintext.push(`outbound port(s) ${skips.outbound} skip the Linkerd proxy (config.linkerd.io/skip-outbound-ports)`);
      covered = true;
    } else if (podInject === 'disabled') evidence.push('Linkerd: pod template annotation linkerd.io/inject: disabled');
    // Istio.
    const sidecarOff = String(labels['sidecar.istio.io/inject'] ?? ann['sidecar.istio.io/inject'] ?? '') === 'false' || nsLabels(ns)['istio-injection'] === 'disabled';
    const wl = peers.find((p) => p.namespace === ns && p.selector && selects(p.selector, labels));
    const others = peers.filter((p) => p !== wl && p.namespace === ns && p.selector && selects(p.selector, labels));
    const base = nsMode(ns);
    let mode = base.mode;
    let from = base.from;
    if (wl && wl.mode !== 'UNSET') {
      mode = wl.mode;
      from = `${label(wl)} selects it: mtls.mode ${wl.mode}`;
    } else if (wl) from = `${label(wl)} selects it (mode UNSET, inherits): ${base.from}`;
    if (others.length) from += ` (also selected by ${others.map(label).join(', ')}; the oldest wins)`;
    const istioPolicies = peers.length > 0;
    if (istioPolicies || !linkerd) evidence.push(`Istio: ${from}`);
    if (istioPolicies && sidecarOff) evidence.push('Istio: no sidecar (sidecar.istio.io/inject false or namespace istio-injection disabled)');
    if (mode === 'STRICT' && !sidecarOff) {
      covered = true;
      for (const [port, pm] of wl?.ports ?? []) if (pm === 'PERMISSIVE' || pm === 'DISABLE') plaintext.push(`port ${port}: portLevelMtls ${pm} in ${label(wl!)}`);
    } else if (!linkerd && istioPolicies) {
      plaintext.push(sidecarOff ? 'no Istio sidecar: all traffic is plaintext' : `Istio mode ${mode === 'UNSET' ? 'PERMISSIVE (default)' : mode}: plaintext accepted`);
    }
    if (!covered && !linkerd && !istioPolicies) plaintext.push('no service mesh covers it: pod-to-pod traffic is plaintext unless the application encrypts it');
    if (plaintext.length) evidence.push(...plaintext.map((p) => `plaintext path: ${p}`));
    out.push(result(WL_CHECK, { kind: o.kind, namespace: ns, name: o.name, object: o }, covered && plaintext.length === 0, [`${describeObject(o)}${whereIs(o)}`, ...evidence]));
  }
  return out;
}
