/**
 * A forensic evidence bundle for a Kubernetes pod, read through the API server — what Central
 * can see of a pod before it deletes it or scales its workload away: the pod object, its
 * controller chain, the Kubernetes events about it, each container's recent logs (and the
 * previous instance's, after a restart), the NetworkPolicies that select it, and the
 * triggering alerts. The same layout, manifest, hashes and signature as a container's bundle
 * (collect.ts), so `gatehouse evidence verify` checks both; `container.id` is the pod's uid
 * (what the signature binds) and `pod` names it.
 *
 * Processes, open connections and the filesystem diff are read on the pod's node (the sensor's
 * container bundle); the API server does not expose them, so they are listed as unavailable.
 */
import type { KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { GATEHOUSE_VERSION } from '../../version.js';
import { UserError, describeError } from '../../util/errors.js';
import type { KubeApi } from '../kube-api.js';
import { checkOutput, finishBundle, type EvidenceResult } from './collect.js';
import { DEFAULT_LIMITS, EVIDENCE_SCHEMA, sha256Hex, type EvidenceIncident, type EvidenceLimits, type EvidenceManifest, type ManifestPart } from './manifest.js';

export interface CollectPodEvidenceOptions {
  api: KubeApi;
  namespace: string;
  name: string;
  /** A new or empty directory. */
  output: string;
  /** The alerts or events behind the capture. */
  events?: unknown[];
  incident?: EvidenceIncident;
  signingKey?: KeyObject;
  limits?: Partial<EvidenceLimits>;
  now?: () => Date;
}

/** Part names must fit verify.ts's safe pattern; container names are DNS labels already. */
const partName = (prefix: string, container: string, suffix = '') => `${prefix}-${container.toLowerCase().replace(/[^a-z0-9-]/g, '-')}${suffix}.txt`;

interface PodLike {
  metadata?: { uid?: string; name?: string; namespace?: string; labels?: Record<string, string>; ownerReferences?: { kind?: string; name?: string; controller?: boolean }[]; managedFields?: unknown };
  spec?: { nodeName?: string; containers?: { name: string; image?: string }[]; initContainers?: { name: string }[] };
  status?: { phase?: string; containerStatuses?: { name: string; restartCount?: number }[] };
}

export async function collectPodEvidence(o: CollectPodEvidenceOptions): Promise<EvidenceResult> {
  const limits: EvidenceLimits = { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(o.limits ?? {}).filter(([, v]) => v !== undefined)) };
  const out = resolve(o.output);
  await checkOutput(out);
  const { api, namespace, name } = o;
  const pod = await api.get<PodLike>(api.path('Pod', namespace, name));
  if (!pod?.metadata?.uid) throw new UserError(`no pod ${namespace}/${name} in cluster ${api.cluster}`, 'not-found');
  try {
    // No files/ folder: a pod's bundle copies no file from the container (collect.ts's layout otherwise).
    await mkdir(out, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new UserError(`cannot create evidence output ${out}: ${describeError(e)}`, 'io');
  }
  const createdAt = (o.now?.() ?? new Date()).toISOString();
  const parts: ManifestPart[] = [];
  const unavailable: EvidenceManifest['unavailable'] = [];
  const json = (v: unknown) => Buffer.from(`${JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 1)}\n`, 'utf8');
  const write = async (path: string, kind: ManifestPart['kind'], bytes: Buffer) => {
    await writeFile(join(out, path), bytes, { flag: 'wx', mode: 0o600 });
    parts.push({ path, sha256: sha256Hex(bytes), size: bytes.length, kind });
  };
  const attempt = async (part: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      unavailable.push({ part, reason: describeError(e) });
    }
  };

  // managedFields are bookkeeping of who wrote which field: noise in evidence, often most of the object.
  const { managedFields: _managed, ...metadata } = pod.metadata;
  await write('inspect.json', 'inspect', json({ ...pod, metadata }));
  await write('events.json', 'events', json(o.events ?? []));

  await attempt('owners.json', async () => {
    // The controller chain up to the top workload (Pod → ReplicaSet → Deployment: at most three hops).
    const chain: unknown[] = [];
    let ref = pod.metadata?.ownerReferences?.find((r) => r.controller && r.kind && r.name);
    for (let hop = 0; ref && hop < 3; hop++) {
      let owner: PodLike | undefined;
      try {
        owner = await api.get<PodLike>(api.path(ref.kind!, namespace, ref.name!));
      } catch (e) {
        if (e instanceof UserError) throw e;
        owner = undefined; // a kind the response engine does not know: the reference alone is kept
      }
      if (!owner) {
        chain.push({ kind: ref.kind, name: ref.name, missing: true });
        break;
      }
      const { managedFields: _m, ...meta } = owner.metadata ?? {};
      chain.push({ ...owner, metadata: meta });
      ref = owner.metadata?.ownerReferences?.find((r) => r.controller && r.kind && r.name);
    }
    await write('owners.json', 'inspect', json(chain));
  });

  await attempt('k8s-events.json', async () => {
    const selector = encodeURIComponent(`involvedObject.uid=${pod.metadata!.uid}`);
    const list = await api.get<{ items?: unknown[] }>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/events?fieldSelector=${selector}&limit=500`);
    await write('k8s-events.json', 'events', json(list?.items ?? []));
  });

  // Logs, bounded by the API server itself (tailLines, limitBytes) and again here.
  const restarts = new Map((pod.status?.containerStatuses ?? []).map((c) => [c.name, c.restartCount ?? 0]));
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}/log?container=${encodeURIComponent(c.name)}&timestamps=true&tailLines=${limits.logTailLines}&limitBytes=${limits.logBytes}`;
    const current = partName('log', c.name);
    await attempt(current, async () => {
      const text = await api.getText(base, limits.logBytes);
      if (text === undefined) throw new Error('no log (the container has not started)');
      await write(current, 'logs', Buffer.from(text, 'utf8'));
    });
    if ((restarts.get(c.name) ?? 0) > 0) {
      const previous = partName('log', c.name, '-previous');
      await attempt(previous, async () => {
        const text = await api.getText(`${base}&previous=true`, limits.logBytes);
        if (text !== undefined) await write(previous, 'logs', Buffer.from(text, 'utf8'));
      });
    }
  }

  await attempt('network.json', async () => {
    const list = await api.get<{ items?: { metadata?: { name?: string }; spec?: { podSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] } } }[] }>(`/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/networkpolicies`);
    const labels = pod.metadata?.labels ?? {};
    // matchLabels only: a policy with expressions is listed as "may select" (the analysis is netpol's job).
    const policies = (list?.items ?? []).map((p) => {
      const sel = p.spec?.podSelector ?? {};
      const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
      return { name: p.metadata?.name, selects: byLabels ? (sel.matchExpressions?.length ? 'may' : 'yes') : 'no', policy: p };
    }).filter((p) => p.selects !== 'no');
    await write('network.json', 'network', json({ source: 'kube-apiserver', podIPs: (pod.status as { podIPs?: unknown } | undefined)?.podIPs ?? [], networkPolicies: policies }));
  });

  for (const part of ['processes.json', 'changes.json']) {
    unavailable.push({ part, reason: "read on the pod's node (the sensor's container bundle); the API server does not expose it" });
  }

  const uid = pod.metadata.uid;
  const first = pod.spec?.containers?.[0];
  const manifest: EvidenceManifest = {
    schema: EVIDENCE_SCHEMA,
    createdAt,
    collector: { name: 'gatehouse', version: GATEHOUSE_VERSION, host: hostname() },
    engine: `kubernetes cluster ${api.cluster}`,
    container: { id: uid, name: `${namespace}/${name}`, ...(first?.image ? { image: first.image } : {}), ...(pod.status?.phase ? { status: pod.status.phase } : {}) },
    pod: { cluster: api.cluster, namespace, name, uid, ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}) },
    ...(o.incident ? { incident: o.incident } : {}),
    limits,
    unavailable,
    parts,
  };
  return finishBundle(out, manifest, json(manifest), o.signingKey);
}
