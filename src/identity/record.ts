/**
 * Building a workload's ServiceIdentity from what is known about it: its object (a
 * Kubernetes workload, or a plain-host container as the engine's inspect gives it) and
 * what is known about each image it runs (digest, signature, vulnerability counts, the
 * manifest's annotations and the config's labels).
 */
import { workloadKindOf } from '../kube/workload-kinds.js';
import { readBuildSource, type ProvenancePlaces } from './provenance.js';
import { hostSpiffeId, kubernetesSpiffeId } from './spiffe.js';
import type { ImageIdentity, ServiceIdentity, SignatureStatus, VulnerabilityCounts, WorkloadRef } from './types.js';

/** What is known about one image (any part may be missing). */
export interface ImageFactsForIdentity {
  digest?: string;
  /** Null or absent: never checked. */
  signature?: { verified: boolean; signers?: readonly string[] } | null;
  /** Null or absent: never scanned. */
  vulnerabilities?: VulnerabilityCounts | null;
  /** The image manifest's annotations. */
  annotations?: Record<string, string>;
  /** The image config's labels. */
  labels?: Record<string, string>;
}

export interface WorkloadObject extends WorkloadRef {
  /** The Kubernetes object, or (kind `Container`) the container engine's inspect of it. */
  body: Record<string, any>;
}

export interface BuildIdentityOptions {
  trustDomain: string;
  /** What is known about an image reference (by the container that runs it). */
  image(ref: string, container: { name?: string; imageId?: string }): ImageFactsForIdentity | undefined;
}

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): Record<string, string> => (isMap(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {});

export function emptyCounts(): VulnerabilityCounts {
  return { critical: 0, high: 0, medium: 0, low: 0, unknown: 0 };
}

/** Counts from a map keyed by Finding severity (CRITICAL, HIGH, …). */
export function countsFromSeverities(bySeverity: Record<string, number> | undefined): VulnerabilityCounts {
  const c = emptyCounts();
  for (const [sev, n] of Object.entries(bySeverity ?? {})) {
    const key = sev.toLowerCase();
    if (key in c) c[key as keyof VulnerabilityCounts] += n;
    else c.unknown += n;
  }
  return c;
}

function signatureOf(facts: ImageFactsForIdentity | undefined): { status: SignatureStatus; signers: string[] } {
  const s = facts?.signature;
  if (!s) return { status: 'unknown', signers: [] };
  return { status: s.verified ? 'verified' : 'unverified', signers: s.verified ? [...(s.signers ?? [])].sort() : [] };
}

interface ContainerSpec {
  name?: string;
  image: string;
  init: boolean;
  imageId?: string;
}

function podTemplate(o: WorkloadObject): { metadata: Record<string, any>; spec: Record<string, any> } {
  const wk = workloadKindOf(o.kind);
  let t: any = o.body;
  for (const k of wk?.template ?? []) t = t?.[k];
  return { metadata: isMap(t?.metadata) ? t.metadata : {}, spec: isMap(t?.spec) ? t.spec : {} };
}

/** One workload's identity. */
export function buildServiceIdentity(o: WorkloadObject, opts: BuildIdentityOptions): ServiceIdentity {
  const workload: WorkloadRef = {
    ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.host ? { host: o.host } : {}),
    namespace: o.namespace, kind: o.kind, name: o.name,
  };
  let containers: ContainerSpec[];
  let labels: Record<string, string>;
  let podPlaces: { 'pod-annotation'?: Record<string, string>; 'pod-label'?: Record<string, string>; 'container-label'?: Record<string, string> };
  let serviceAccount: string | undefined;
  let spiffeId: string | undefined;
  const tryId = (make: () => string) => {
    try {
      return make();
    } catch {
      return undefined; // a name no SPIFFE path segment can hold: no ID
    }
  };
  if (o.kind === 'Container') {
    const cfg = isMap(o.body.Config) ? o.body.Config : {};
    labels = strings(cfg.Labels);
    const image = String(cfg.Image ?? o.body.Image ?? '');
    containers = image ? [{ name: o.name, image, init: false, ...(typeof o.body.Image === 'string' ? { imageId: o.body.Image } : {}) }] : [];
    podPlaces = { 'container-label': labels };
    spiffeId = o.host ? tryId(() => hostSpiffeId(opts.trustDomain, o.host!, o.name)) : undefined;
  } else {
    const { metadata, spec } = podTemplate(o);
    labels = strings(o.body.metadata?.labels);
    podPlaces = { 'pod-annotation': { ...strings(o.body.metadata?.annotations), ...strings(metadata.annotations) }, 'pod-label': { ...labels, ...strings(metadata.labels) } };
    const list = (v: unknown, init: boolean): ContainerSpec[] => (Array.isArray(v) ? v : []).filter(isMap).map((c) => ({ ...(typeof c.name === 'string' ? { name: c.name } : {}), image: String(c.image ?? ''), init })).filter((c) => c.image);
    containers = [...list(spec.containers, false), ...list(spec.initContainers, true)];
    serviceAccount = typeof spec.serviceAccountName === 'string' && spec.serviceAccountName ? spec.serviceAccountName : typeof spec.serviceAccount === 'string' && spec.serviceAccount ? spec.serviceAccount : 'default';
    spiffeId = tryId(() => kubernetesSpiffeId(opts.trustDomain, o.namespace || 'default', serviceAccount!));
  }

  const images: ImageIdentity[] = containers.map((c) => {
    const facts = opts.image(c.image, { ...(c.name ? { name: c.name } : {}), ...(c.imageId ? { imageId: c.imageId } : {}) });
    const sig = signatureOf(facts);
    const digest = facts?.digest ?? (c.image.includes('@') ? c.image.slice(c.image.indexOf('@') + 1) : undefined);
    return {
      ref: c.image,
      ...(c.name ? { container: c.name } : {}),
      ...(digest ? { digest } : {}),
      signature: sig.status,
      signers: sig.signers,
      vulnerabilities: facts?.vulnerabilities ?? null,
      build: readBuildSource({ 'image-annotation': facts?.annotations, 'image-label': facts?.labels, ...podPlaces }),
    };
  });

  const mainIndex = containers.findIndex((c) => !c.init);
  const summary = summarizeImages(images, mainIndex < 0 ? 0 : mainIndex, podPlaces);
  return {
    workload,
    ...(serviceAccount ? { serviceAccount } : {}),
    ...(spiffeId ? { spiffeId } : {}),
    labels,
    images,
    ...summary,
  };
}

/**
 * The workload-wide attributes from its images: signature `verified` only when every image's
 * is, `unverified` when one is, else `unknown`; vulnerabilities summed over scanned images;
 * the build of the main container's image (else what the pod's own keys say).
 */
export function summarizeImages(images: readonly ImageIdentity[], mainIndex = 0, podPlaces: ProvenancePlaces = {}): Pick<ServiceIdentity, 'signature' | 'signers' | 'vulnerabilities' | 'scanned' | 'build'> {
  const statuses = images.map((i) => i.signature);
  const signature: SignatureStatus = images.length && statuses.every((s) => s === 'verified') ? 'verified' : statuses.includes('unverified') ? 'unverified' : 'unknown';
  let vulnerabilities: VulnerabilityCounts | null = null;
  let scanned = 0;
  for (const i of images) {
    if (!i.vulnerabilities) continue;
    scanned++;
    vulnerabilities ??= emptyCounts();
    for (const k of Object.keys(vulnerabilities) as (keyof VulnerabilityCounts)[]) vulnerabilities[k] += i.vulnerabilities[k];
  }
  const main = images[mainIndex] ?? images[0];
  return {
    signature,
    signers: [...new Set(images.flatMap((i) => i.signers))].sort(),
    vulnerabilities,
    scanned: images.length > 0 && scanned === images.length,
    build: main ? main.build : readBuildSource(podPlaces),
  };
}
