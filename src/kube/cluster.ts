/**
 * Live-cluster source for posture checks: lists the objects the policy pack looks at from
 * the cluster a kubeconfig names (@kubernetes/client-node's KubeConfig for the connection
 * and credentials), as ManifestObjects without file
 * positions. Pods, ReplicaSets and Jobs that a controller owns are left out, as StackRox
 * checks deployments rather than their pods: their findings belong to the owner, which is
 * listed. Secrets are never read (their values are not the pack's business, and reading
 * them would need more rights than a posture scan should ask for).
 */
import { existsSync } from 'node:fs';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { UserError, describeError } from '../util/errors.js';
import { isSuccess, kubeRequest, statusMessage } from './http.js';
import { isKnownKind } from './kinds.js';
import type { LoadNote, ManifestObject } from './manifests.js';

/** What a posture scan reads, in this order (cluster-scoped kinds included). */
export const CLUSTER_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'v1', kind: 'Namespace' },
  { apiVersion: 'v1', kind: 'Pod' },
  { apiVersion: 'v1', kind: 'ReplicationController' },
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'apps/v1', kind: 'DaemonSet' },
  { apiVersion: 'apps/v1', kind: 'ReplicaSet' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'batch/v1', kind: 'CronJob' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'ResourceQuota' },
  { apiVersion: 'v1', kind: 'LimitRange' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding' },
];

export const RBAC_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

export interface ClusterSourceOptions {
  /** kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster). */
  kubeconfig?: string;
  context?: string;
  /** Only this namespace (cluster-scoped kinds are still read). */
  namespace?: string;
  /** Only these kinds of `resources`. */
  kinds?: ReadonlySet<string>;
  /** What to list (default: CLUSTER_KINDS). */
  resources?: readonly { apiVersion: string; kind: string }[];
  /** Keep pods/replica sets/jobs a controller owns (connectivity needs the pods themselves). */
  keepOwned?: boolean;
  /** Page size of list calls. */
  pageSize?: number;
}

export interface ClusterLoadResult {
  objects: ManifestObject[];
  notes: LoadNote[];
  /** The kubeconfig context's cluster name (for policy scopes and reports). */
  cluster: string;
}

/** Controllers whose pods/replica sets/jobs are checked through the controller itself. */
const CHECKED_THROUGH_OWNER = new Set(['Pod', 'ReplicaSet', 'Job']);

export async function loadClusterObjects(opts: ClusterSourceOptions = {}): Promise<ClusterLoadResult> {
  const kc = loadKubeConfig(opts);
  const cluster = kc.getCurrentCluster()?.name ?? kc.getCurrentContext();
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const api = new RawApi(kc, server);
  const where = `cluster ${cluster}`;
  const notes: LoadNote[] = [];
  const objects: ManifestObject[] = [];
  let owned = 0;
  for (const { apiVersion, kind } of opts.resources ?? CLUSTER_KINDS) {
    if (opts.kinds && !opts.kinds.has(kind)) continue;
    let items: KubernetesObject[];
    try {
      items = await api.listAll(apiVersion, kind, opts.namespace, opts.pageSize ?? 500);
    } catch (e) {
      const status = statusOf(e);
      if (status === 403 || status === 404) {
        notes.push({ level: 'note', file: where, message: `${kind}: ${status === 403 ? 'not allowed to list (RBAC); not checked' : 'not served by this cluster'}` });
        continue;
      }
      if (status === 401) throw new UserError(`${server}: unauthorized (check the kubeconfig's credentials)`, 'cluster');
      throw new UserError(`cannot list ${kind} from ${server}: ${describeError(e)}`, 'cluster');
    }
    for (const item of items) {
      if (!opts.keepOwned && CHECKED_THROUGH_OWNER.has(kind) && item.metadata?.ownerReferences?.some((o) => o.controller)) {
        owned++;
        continue;
      }
      objects.push(liveObject({ ...item, apiVersion, kind }, where));
    }
  }
  if (owned) notes.push({ level: 'note', file: where, message: `${owned} pod(s), replica set(s) or job(s) owned by a controller are checked through that controller` });
  return { objects, notes, cluster };
}

function loadKubeConfig(opts: ClusterSourceOptions): KubeConfig {
  return readKubeConfig({ file: opts.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0], context: opts.context, noClusterHint: 'use --context or --kubeconfig' });
}

/**
 * A kubeconfig (a file, else client-node's default: $KUBECONFIG, ~/.kube/config) or the
 * pod's service account, with its context chosen; every problem a one-line UserError.
 * The CLI's clusters and Central's cluster sources both connect through it.
 */
export function readKubeConfig(opts: { file?: string; context?: string; inCluster?: boolean; noClusterHint?: string }): KubeConfig {
  const kc = new KubeConfig();
  if (opts.inCluster) {
    if (opts.file) throw new UserError('a cluster is either in-cluster or from a kubeconfig, not both', 'usage');
    if (!process.env.KUBERNETES_SERVICE_HOST) throw new UserError('not running inside a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)', 'usage');
    try {
      kc.loadFromCluster();
    } catch (e) {
      throw new UserError(`cannot use the pod's service account: ${describeError(e)}`, 'usage');
    }
    return kc;
  }
  const file = opts.file;
  try {
    if (file) {
      if (!existsSync(file)) throw new UserError(`kubeconfig ${file} does not exist`, 'usage');
      kc.loadFromFile(file);
    } else kc.loadFromDefault();
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read the kubeconfig${file ? ` ${file}` : ''}: ${describeError(e)}`, 'usage');
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) throw new UserError(`context "${opts.context}" is not in the kubeconfig (known: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'})`, 'usage');
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) throw new UserError(`the kubeconfig${file ? ` ${file}` : ''} names no current cluster (${opts.noClusterHint ?? 'give a context'})`, 'usage');
  return kc;
}

class HttpStatusError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * List calls as plain JSON. client-node's generic object API turns answers into its typed
 * models (`from` becomes `_from`, timestamps become Dates), which is not the object a
 * manifest holds; so discovery and lists go through its KubeConfig for authentication
 * (certificates, tokens, exec plugins) and Node's http(s) for the request.
 */
class RawApi {
  private readonly resources = new Map<string, Map<string, { name: string; namespaced: boolean }>>();

  constructor(private readonly kc: KubeConfig, private readonly server: string) {}

  async listAll(apiVersion: string, kind: string, namespace: string | undefined, limit: number): Promise<KubernetesObject[]> {
    const res = (await this.discover(apiVersion)).get(kind);
    if (!res) throw new HttpStatusError(404, `${apiVersion} ${kind} is not served`);
    const base = `${apiVersion.includes('/') ? '/apis' : '/api'}/${apiVersion}${res.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${res.name}`;
    const out: KubernetesObject[] = [];
    let token = '';
    do {
      const page = (await this.get(`${base}?limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ''}`)) as { items?: KubernetesObject[]; metadata?: { continue?: string } };
      out.push(...(page.items ?? []));
      token = page.metadata?.continue ?? '';
    } while (token);
    return out;
  }

  private async discover(apiVersion: string): Promise<Map<string, { name: string; namespaced: boolean }>> {
    let known = this.resources.get(apiVersion);
    if (!known) {
      known = new Map();
      try {
        const list = (await this.get(`${apiVersion.includes('/') ? '/apis' : '/api'}/${apiVersion}`)) as { resources?: { name: string; kind: string; namespaced: boolean }[] };
        for (const r of list.resources ?? []) if (!r.name.includes('/')) known.set(r.kind, { name: r.name, namespaced: r.namespaced });
      } catch (e) {
        if (statusOf(e) !== 404) throw e; // a group/version the cluster does not serve: nothing known
      }
      this.resources.set(apiVersion, known);
    }
    return known;
  }

  private async get(path: string): Promise<unknown> {
    const answer = await kubeRequest(this.kc, 'GET', path, { timeoutMs: 60_000 });
    if (!isSuccess(answer.status)) throw new HttpStatusError(answer.status, statusMessage(answer));
    try {
      return JSON.parse(answer.text);
    } catch (e) {
      throw new Error(`${answer.url.pathname}: the server did not answer JSON (${describeError(e)})`);
    }
  }

}

function statusOf(e: unknown): number | undefined {
  return e instanceof HttpStatusError ? e.code : undefined;
}

/** A live object as the policy engine's input (parsed JSON of our own); it has no file, so positions are empty. */
export function liveObject(item: KubernetesObject & { apiVersion: string; kind: string }, where: string): ManifestObject {
  const raw = item as Record<string, any>;
  if (raw.metadata) delete raw.metadata.managedFields;
  const meta = raw.metadata ?? {};
  const nowhere = { file: '', line: 0, column: 0 };
  return {
    apiVersion: item.apiVersion,
    kind: item.kind,
    name: String(meta.name ?? ''),
    namespace: meta.namespace,
    labels: meta.labels ?? {},
    annotations: meta.annotations ?? {},
    raw,
    source: { file: where, line: 0, column: 0 },
    known: isKnownKind(item.apiVersion, item.kind),
    positionOf: () => nowhere,
  };
}
