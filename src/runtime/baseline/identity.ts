/**
 * Workload identity of an event (ARCHITECTURE.md: cluster/namespace/kind/name/container on
 * Kubernetes; host/image/container name on plain hosts). Replicas of one workload get the same
 * identity, so they share one baseline.
 *
 * Kubernetes facts come from the event's `k8s.*` fields when a source fills them, else from
 * the container labels the CRI runtimes set on every container (`io.kubernetes.pod.name`,
 * `io.kubernetes.pod.namespace`, `io.kubernetes.container.name`), which the sensor carries as
 * `container.label[…]`. The owner (Deployment, StatefulSet, DaemonSet) is taken from the
 * `k8s.deployment.name`/`k8s.statefulset.name`/`k8s.daemonset.name`/`k8s.rs.name` fields when
 * present, else read from the pod name as the controllers build it:
 *   Deployment  <name>-<pod-template-hash>-<5 chars>   (ReplicaSet <name>-<hash>)
 *   StatefulSet <name>-<ordinal>
 *   DaemonSet / bare ReplicaSet <name>-<5 chars>
 * The hash alphabet of the controllers ("bcdfghjklmnpqrstvwxz2456789") tells a generated
 * suffix from a word.
 */
import type { RuntimeEvent } from '../event.js';

export interface WorkloadIdentity {
  /** Stable text key: `k8s:<cluster>/<namespace>/<Kind>/<name>/<container>` or `host:<host>/<image>/<container>`. */
  id: string;
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet' | 'ReplicaSet' | 'Pod' | 'Container' | 'Host';
  namespace?: string;
  name: string;
  container: string;
  image?: string;
  cluster?: string;
  host?: string;
}

const SAFE = /^[bcdfghjklmnpqrstvwxz2456789]+$/;

function str(ev: RuntimeEvent, key: string): string | undefined {
  const v = ev[key];
  return typeof v === 'string' && v !== '' && v !== '<NA>' ? v : undefined;
}

/** The owner of a pod, from its name: [kind, name]. */
export function ownerFromPodName(pod: string): [WorkloadIdentity['kind'], string] {
  const parts = pod.split('-');
  if (parts.length >= 3) {
    const last = parts[parts.length - 1]!;
    const hash = parts[parts.length - 2]!;
    if (last.length === 5 && SAFE.test(last) && hash.length >= 6 && hash.length <= 10 && SAFE.test(hash)) {
      return ['Deployment', parts.slice(0, -2).join('-')];
    }
  }
  if (parts.length >= 2) {
    const last = parts[parts.length - 1]!;
    if (/^\d+$/.test(last)) return ['StatefulSet', parts.slice(0, -1).join('-')];
    if (last.length === 5 && SAFE.test(last)) return ['DaemonSet', parts.slice(0, -1).join('-')];
  }
  return ['Pod', pod];
}

export interface IdentityOptions {
  cluster?: string;
  host?: string;
}

export function workloadOf(ev: RuntimeEvent, opts: IdentityOptions = {}): WorkloadIdentity {
  const cluster = opts.cluster ?? 'default';
  const pod = str(ev, 'k8s.pod.name') ?? str(ev, 'container.label[io.kubernetes.pod.name]');
  const ns = str(ev, 'k8s.ns.name') ?? str(ev, 'container.label[io.kubernetes.pod.namespace]');
  const container = str(ev, 'container.label[io.kubernetes.container.name]') ?? str(ev, 'container.name') ?? 'host';
  if (pod && ns) {
    let kind: WorkloadIdentity['kind'];
    let name: string;
    const dep = str(ev, 'k8s.deployment.name');
    const sts = str(ev, 'k8s.statefulset.name');
    const ds = str(ev, 'k8s.daemonset.name');
    const rs = str(ev, 'k8s.rs.name');
    if (dep) [kind, name] = ['Deployment', dep];
    else if (sts) [kind, name] = ['StatefulSet', sts];
    else if (ds) [kind, name] = ['DaemonSet', ds];
    else if (rs) {
      const m = /^(.*)-([bcdfghjklmnpqrstvwxz2456789]{6,10})$/.exec(rs);
      [kind, name] = m ? ['Deployment', m[1]!] : ['ReplicaSet', rs];
    } else [kind, name] = ownerFromPodName(pod);
    return { id: `k8s:${cluster}/${ns}/${kind}/${name}/${container}`, kind, namespace: ns, name, container, cluster };
  }
  const host = opts.host ?? str(ev, 'evt.hostname') ?? 'localhost';
  const cid = str(ev, 'container.id');
  if (!cid || cid === 'host') return { id: `host:${host}`, kind: 'Host', name: host, container: 'host', host };
  const image = str(ev, 'container.image.repository') ?? str(ev, 'container.image') ?? 'unknown-image';
  return { id: `host:${host}/${image}/${container}`, kind: 'Container', name: container, container, image, host };
}

/** Parses a WORKLOAD argument: a full id, or the short forms `ns/kind/name/container` and `image/container`. */
export function normaliseWorkloadArg(arg: string, cluster = 'default'): string {
  if (arg.startsWith('k8s:') || arg.startsWith('host:')) return arg;
  const parts = arg.split('/');
  if (parts.length === 4) return `k8s:${cluster}/${arg}`;
  return arg;
}
