/**
 * One shape for what risk reads of a workload, with an adapter per source: a Kubernetes
 * workload object (any kind in workload-kinds.ts) or a container's inspect document
 * (Docker Engine API / podman, as plain hosts report them).
 */
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { getIn } from '../../kube/workloads.js';
import { UserError } from '../../util/errors.js';

export interface HostPathMount {
  path: string;
  readOnly: boolean;
}

export interface NormalizedContainer {
  name: string;
  image?: string;
  privileged: boolean;
  /** Added Linux capabilities, upper case without the CAP_ prefix. */
  capabilitiesAdded: string[];
  /** Effective user id when known (0 = root). */
  runAsUser?: number;
  /** runAsNonRoot, or a named non-root user on a host. */
  runAsNonRoot: boolean;
  /** false only when no_new_privs is set (allowPrivilegeEscalation: false, --security-opt no-new-privileges). */
  allowPrivilegeEscalation: boolean;
  hostPorts: number[];
  hostPaths: HostPathMount[];
}

export interface PublishedPort {
  port: number;
  /** Host address it binds ('' or 0.0.0.0/:: = every interface). */
  hostIp: string;
}

export interface NormalizedWorkload {
  platform: 'kubernetes' | 'host';
  kind: string;
  name: string;
  namespace?: string;
  /** Pod labels (what Services and NetworkPolicies select), or container labels on a host. */
  podLabels: Record<string, string>;
  /** Kubernetes only: the pod's service account (default: `default`). */
  serviceAccount?: string;
  /** The pod's automountServiceAccountToken (undefined: the service account decides). */
  automountToken?: boolean;
  hostNetwork: boolean;
  hostPID: boolean;
  hostIPC: boolean;
  containers: NormalizedContainer[];
  /** Plain hosts: ports published on the host. */
  publishedPorts: PublishedPort[];
}

const isObj = (v: unknown): v is Record<string, any> => !!v && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) out[k] = x === null || x === undefined ? '' : String(x);
  return out;
}

export const capName = (c: unknown): string => String(c).toUpperCase().replace(/^CAP_/, '');

const uid = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/** A Kubernetes workload (Deployment, DaemonSet, Pod, CronJob, …). */
export function fromKubernetes(obj: Record<string, any>): NormalizedWorkload {
  const kind = String(obj.kind);
  const wk = workloadKindOf(kind);
  if (!wk || wk.spec !== 'pod') throw new UserError(`risk: ${kind} is not a workload kind that runs pods`, 'bad-input');
  const template = wk.template.length ? getIn(obj, wk.template) : obj;
  const spec: Record<string, any> = isObj(template?.spec) ? template.spec : {};
  const podSc: Record<string, any> = isObj(spec.securityContext) ? spec.securityContext : {};
  const volumes = new Map<string, string>();
  for (const v of list(spec.volumes)) if (isObj(v) && isObj(v.hostPath) && typeof v.name === 'string') volumes.set(v.name, String(v.hostPath.path ?? ''));
  const containers: NormalizedContainer[] = [];
  for (const c of [...list(spec.initContainers), ...list(spec.containers)]) {
    if (!isObj(c)) continue;
    const sc: Record<string, any> = isObj(c.securityContext) ? c.securityContext : {};
    const privileged = sc.privileged === true;
    const runAsUser = uid(sc.runAsUser) ?? uid(podSc.runAsUser);
    containers.push({
      name: String(c.name ?? ''),
      image: typeof c.image === 'string' ? c.image : undefined,
      privileged,
      capabilitiesAdded: list(sc.capabilities?.add).map(capName),
      runAsUser,
      runAsNonRoot: (sc.runAsNonRoot ?? podSc.runAsNonRoot) === true,
      // Privileged containers can always escalate, whatever the field says.
      allowPrivilegeEscalation: privileged || sc.allowPrivilegeEscalation !== false,
      hostPorts: list(c.ports).map((p) => Number(p?.hostPort)).filter((p) => Number.isInteger(p) && p > 0),
      hostPaths: list(c.volumeMounts).flatMap((m) => {
        const path = isObj(m) ? volumes.get(String(m.name)) : undefined;
        return path === undefined ? [] : [{ path, readOnly: m.readOnly === true }];
      }),
    });
  }
  return {
    platform: 'kubernetes',
    kind,
    name: String(obj.metadata?.name ?? ''),
    namespace: String(obj.metadata?.namespace ?? 'default'),
    podLabels: strMap(template?.metadata?.labels),
    serviceAccount: String(spec.serviceAccountName ?? spec.serviceAccount ?? 'default'),
    automountToken: typeof spec.automountServiceAccountToken === 'boolean' ? spec.automountServiceAccountToken : undefined,
    hostNetwork: spec.hostNetwork === true,
    hostPID: spec.hostPID === true,
    hostIPC: spec.hostIPC === true,
    containers,
    publishedPorts: [],
  };
}

/** Config.User as Docker merges it from the image: '' means root. */
function userOf(user: unknown): { runAsUser?: number; runAsNonRoot: boolean } {
  const name = String(user ?? '').split(':')[0]!.trim();
  if (name === '' || name === 'root' || name === '0') return { runAsUser: 0, runAsNonRoot: false };
  if (/^\d+$/.test(name)) return { runAsUser: Number(name), runAsNonRoot: true };
  return { runAsNonRoot: true };
}

/** A container inspect document (`docker inspect`, `podman inspect`, GET /containers/{id}/json). */
export function fromContainerInspect(doc: Record<string, any>): NormalizedWorkload {
  const hc: Record<string, any> = isObj(doc.HostConfig) ? doc.HostConfig : {};
  const cfg: Record<string, any> = isObj(doc.Config) ? doc.Config : {};
  const privileged = hc.Privileged === true;
  const name = String(doc.Name ?? doc.Id ?? '').replace(/^\//, '');
  const publishedPorts: PublishedPort[] = [];
  if (isObj(hc.PortBindings)) {
    for (const bindings of Object.values(hc.PortBindings)) {
      for (const b of list(bindings)) {
        const port = Number(b?.HostPort);
        if (Number.isInteger(port) && port > 0) publishedPorts.push({ port, hostIp: String(b?.HostIp ?? '') });
      }
    }
  }
  const noNewPrivs = list(hc.SecurityOpt).some((o) => /^no-new-privileges(?:[:=]true)?$/.test(String(o)));
  return {
    platform: 'host',
    kind: 'Container',
    name,
    podLabels: strMap(cfg.Labels),
    hostNetwork: hc.NetworkMode === 'host',
    hostPID: hc.PidMode === 'host',
    hostIPC: hc.IpcMode === 'host',
    containers: [
      {
        name,
        image: typeof cfg.Image === 'string' ? cfg.Image : undefined,
        privileged,
        capabilitiesAdded: list(hc.CapAdd).map(capName),
        ...userOf(cfg.User),
        allowPrivilegeEscalation: privileged || !noNewPrivs,
        hostPorts: [],
        hostPaths: list(doc.Mounts)
          .filter((m) => m?.Type === 'bind' && typeof m.Source === 'string')
          .map((m) => ({ path: String(m.Source), readOnly: m.RW === false })),
      },
    ],
    publishedPorts,
  };
}

/** The normalized workload of either source; anything else is a one-line UserError. */
export function normalizeWorkload(input: unknown): NormalizedWorkload {
  const doc = Array.isArray(input) && input.length === 1 ? input[0] : input;
  if (isObj(doc) && typeof doc.kind === 'string' && isObj(doc.metadata)) return fromKubernetes(doc);
  if (isObj(doc) && (isObj(doc.HostConfig) || isObj(doc.Config))) return fromContainerInspect(doc);
  throw new UserError('risk: the workload is neither a Kubernetes object (kind, metadata) nor a container inspect document (Config, HostConfig)', 'bad-input');
}
