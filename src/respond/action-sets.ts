/**
 * Which action carries out a runtime policy's enforcement, and on what: the host agent's set
 * acts on the alert's container through the local engine; the cluster set (Central) acts on
 * the alert's pod through the Kubernetes API. A set answers a reason string when it cannot
 * act on the request (no container in the alert, no pod, an enforcement it does not do).
 *
 *   enforcement    host (Docker/podman)              cluster (Kubernetes)
 *   kill           kill the container (or process)   delete the pod (its controller replaces it)
 *   stop           stop the container                delete the pod
 *   pause          pause the container               —
 *   isolate        disconnect its networks           deny-all NetworkPolicy on a quarantine label
 *   scale-to-zero  —                                 scale the pod's workload to zero
 *   label          —                                 label the pod (gatehouse.dev/flagged, …)
 */
import type { Enforcement } from '../policy/types.js';
import { containerIsolate } from './container-isolate.js';
import { containerKill } from './container-kill.js';
import { containerPause } from './container-pause.js';
import { containerStop } from './container-stop.js';
import type { EngineApi } from './engine.js';
import type { KubeApi } from './kube-api.js';
import { kubeDelete } from './kube-delete.js';
import { kubeIsolate } from './kube-isolate.js';
import { kubeLabel } from './kube-label.js';
import { kubeScaleToZero } from './kube-scale.js';
import { processKill } from './process-kill.js';
import type { ResponseRequest } from './request.js';
import type { ResponseAction, ResponseTarget } from './types.js';

export type Resolved = { action: ResponseAction<any>; target: ResponseTarget } | string;

export interface ActionSet {
  /** The action and target for an enforcement, a reason it cannot apply, or undefined when this set does not do it. */
  resolve(enforcement: Enforcement, req: ResponseRequest): Resolved | undefined;
}

export interface HostActionSetOptions {
  /** `kill` kills the alert's process (when the alert names it) instead of the whole container. */
  killProcess?: boolean;
  stopGraceSeconds?: number;
}

export function hostActionSet(engine: EngineApi, opts: HostActionSetOptions = {}): ActionSet {
  const actions = {
    kill: containerKill(engine),
    stop: containerStop(engine, { graceSeconds: opts.stopGraceSeconds ?? 10 }),
    pause: containerPause(engine),
    isolate: containerIsolate(engine),
    killProcess: processKill(engine),
  };
  return {
    resolve(e, req) {
      if (e !== 'kill' && e !== 'stop' && e !== 'pause' && e !== 'isolate') return undefined;
      if (!req.container) return `the ${req.source} names no container: nothing for ${e} to act on`;
      const target = { type: 'container' as const, container: req.container.id, endpoint: engine.endpoint };
      if (e === 'kill' && opts.killProcess && req.process?.hostPid) return { action: actions.killProcess, target: { ...target, hostPid: req.process.hostPid } };
      return { action: actions[e], target };
    },
  };
}

export interface ClusterActionSetOptions {
  /** Labels put by `label` (default gatehouse.dev/flagged=true). */
  labels?: Record<string, string>;
}

export function clusterActionSet(api: KubeApi, opts: ClusterActionSetOptions = {}): ActionSet {
  const del = kubeDelete(api);
  const actions: Partial<Record<Enforcement, ResponseAction<any>>> = {
    kill: del,
    stop: del,
    isolate: kubeIsolate(api),
    'scale-to-zero': kubeScaleToZero(api),
    label: kubeLabel(api, 'label', opts.labels ?? { 'gatehouse.dev/flagged': 'true' }),
  };
  return {
    resolve(e, req) {
      const action = actions[e];
      if (!action) return e === 'pause' ? 'pause has no Kubernetes equivalent (isolate or scale-to-zero instead)' : undefined;
      if (!req.pod) return `the ${req.source} names no pod: nothing for ${e} to act on in cluster ${api.cluster}`;
      if (!req.pod.namespace) return `the ${req.source} names pod ${req.pod.name} without its namespace`;
      return { action, target: { type: 'kube', kind: 'Pod', namespace: req.pod.namespace, name: req.pod.name, cluster: api.cluster } };
    },
  };
}

/** The first set that does an enforcement wins (host actions first on an agent with both). */
export function combineActionSets(...sets: ActionSet[]): ActionSet {
  return {
    resolve(e, req) {
      let reason: string | undefined;
      for (const s of sets) {
        const r = s.resolve(e, req);
        if (r === undefined) continue;
        if (typeof r !== 'string') return r;
        reason ??= r;
      }
      return reason;
    },
  };
}
