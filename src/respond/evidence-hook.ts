/**
 * The evidence hook wired to the forensic evidence module: before a destructive action on a
 * container, a bundle is collected (collectEvidence, src/respond/evidence/) into
 * DIR/<time>-<container>-<action>/, signed when a key is given. Kubernetes targets have no
 * engine here to read: podEvidenceCapture reads a pod through the API server instead.
 */
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { collectEvidence } from './evidence/collect.js';
import { collectPodEvidence } from './evidence/collect-pod.js';
import type { KubeApi } from './kube-api.js';
import { EngineApi as EvidenceEngine } from './evidence/engine.js';
import type { EvidenceIncident, EvidenceLimits } from './evidence/manifest.js';
import type { EvidenceCapture, Trigger } from './types.js';

export interface EvidenceHookOptions {
  /** Folder the bundles go into (one sub-folder per capture). */
  dir: string;
  /** Engine endpoint of the containers. */
  host?: string;
  signingKey?: KeyObject;
  limits?: Partial<EvidenceLimits>;
  /** Skip the host's /proc (the engine is remote). */
  noProc?: boolean;
  now?: () => Date;
}

/** The capture function, with `close()` for the engine connections it keeps (one per endpoint, reused). */
export type ClosableEvidenceCapture = EvidenceCapture & { close(): Promise<void> };

/** What the bundle records about why it was taken. */
function incidentOf(trigger: Trigger, action: string): EvidenceIncident {
  return {
    ...(trigger.incident ? { id: trigger.incident } : {}),
    trigger: trigger.alert?.rule ?? trigger.by,
    ...(trigger.policies?.length ? { policy: trigger.policies.join(',') } : {}),
    reason: `before ${action}`,
  };
}

export function evidenceCapture(opts: EvidenceHookOptions): ClosableEvidenceCapture {
  let seq = 0;
  const engines = new Map<string, EvidenceEngine>();
  const engineFor = (endpoint: string | undefined): EvidenceEngine | undefined => {
    if (!endpoint) return undefined;
    let e = engines.get(endpoint);
    if (!e) engines.set(endpoint, (e = new EvidenceEngine(endpoint)));
    return e;
  };
  const capture = async ({ target, action, trigger, events }: Parameters<EvidenceCapture>[0]) => {
    if (target.type !== 'container') return undefined;
    const now = opts.now?.() ?? new Date();
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const safe = target.container.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
    const output = join(opts.dir, `${stamp}-${safe}-${action}-${++seq}`);
    const result = await collectEvidence({
      container: target.container,
      ...(target.endpoint ?? opts.host ? { host: target.endpoint ?? opts.host, engine: engineFor(target.endpoint ?? opts.host) } : {}),
      output,
      ...(events ? { events } : {}),
      incident: incidentOf(trigger, action),
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.noProc ? { noProc: true } : {}),
    });
    return { location: result.path };
  };
  return Object.assign(capture, {
    async close() {
      await Promise.all([...engines.values()].map((e) => e.close()));
      engines.clear();
    },
  });
}

export interface PodEvidenceHookOptions {
  /** Folder the bundles go into (one sub-folder per capture). */
  dir: string;
  api: KubeApi;
  signingKey?: KeyObject;
  limits?: Partial<EvidenceLimits>;
  now?: () => Date;
}

/**
 * Before a destructive action on a pod (delete), a bundle of what the API server knows of it
 * (collectPodEvidence) into DIR/<time>-<namespace>-<pod>-<action>-<n>/. Other kinds (a
 * workload scaled to zero, a node) get none: their pods' bundles come from their own alerts.
 */
export function podEvidenceCapture(opts: PodEvidenceHookOptions): EvidenceCapture {
  let seq = 0;
  return async ({ target, action, trigger, events }) => {
    if (target.type !== 'kube' || target.kind !== 'Pod' || !target.namespace) return undefined;
    const now = opts.now?.() ?? new Date();
    const stamp = now.toISOString().replace(/[:.]/g, '-');
    const safe = `${target.namespace}-${target.name}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120);
    const result = await collectPodEvidence({
      api: opts.api, namespace: target.namespace, name: target.name,
      output: join(opts.dir, `${stamp}-${safe}-${action}-${++seq}`),
      ...(events ? { events } : {}),
      incident: incidentOf(trigger, action),
      ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    return { location: result.path };
  };
}
