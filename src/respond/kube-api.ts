/**
 * The Kubernetes API as the response actions use it: the kubeconfig (and its context) as
 * every `--cluster` command reads it, through @kubernetes/client-node's KubeConfig for the
 * credentials, and plain JSON requests (GET, merge/strategic patches, POST, DELETE) through
 * Node's http(s). Also the KIND/NS/NAME target syntax of `gatehouse respond … --cluster`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { readKubeConfig } from '../kube/cluster.js';
import { isSuccess, kubeRequest, statusMessage, type KubeAnswer } from '../kube/http.js';
import { UserError, describeError } from '../util/errors.js';
import type { KubeTarget } from './types.js';

export interface KubeConnectOptions {
  kubeconfig?: string;
  context?: string;
}

interface KindInfo {
  kind: string;
  apiVersion: string;
  plural: string;
  namespaced: boolean;
}

const KINDS: KindInfo[] = [
  { kind: 'Pod', apiVersion: 'v1', plural: 'pods', namespaced: true },
  { kind: 'Deployment', apiVersion: 'apps/v1', plural: 'deployments', namespaced: true },
  { kind: 'StatefulSet', apiVersion: 'apps/v1', plural: 'statefulsets', namespaced: true },
  { kind: 'ReplicaSet', apiVersion: 'apps/v1', plural: 'replicasets', namespaced: true },
  { kind: 'DaemonSet', apiVersion: 'apps/v1', plural: 'daemonsets', namespaced: true },
  { kind: 'Job', apiVersion: 'batch/v1', plural: 'jobs', namespaced: true },
  { kind: 'Node', apiVersion: 'v1', plural: 'nodes', namespaced: false },
  { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', plural: 'networkpolicies', namespaced: true },
];
const ALIASES: Record<string, string> = {
  pod: 'Pod', pods: 'Pod', po: 'Pod',
  deployment: 'Deployment', deployments: 'Deployment', deploy: 'Deployment',
  statefulset: 'StatefulSet', statefulsets: 'StatefulSet', sts: 'StatefulSet',
  replicaset: 'ReplicaSet', replicasets: 'ReplicaSet', rs: 'ReplicaSet',
  daemonset: 'DaemonSet', daemonsets: 'DaemonSet', ds: 'DaemonSet',
  job: 'Job', jobs: 'Job',
  node: 'Node', nodes: 'Node', no: 'Node',
  networkpolicy: 'NetworkPolicy', networkpolicies: 'NetworkPolicy', netpol: 'NetworkPolicy',
};

export function kindInfo(kind: string): KindInfo {
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) throw new UserError(`unsupported kind ${kind}`, 'usage');
  return info;
}

/** DNS-1123 subdomain: object names. */
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** DNS-1123 label: namespaces. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** `KIND/NS/NAME` (namespaced kinds) or `KIND/NAME` (nodes), kubectl's kind spellings accepted. */
export function parseKubeTarget(text: string, allowed?: readonly string[]): KubeTarget {
  const parts = text.split('/');
  const usage = `expected KIND/NAMESPACE/NAME (e.g. pod/default/web-1, deployment/shop/api) or node/NAME`;
  const kind = ALIASES[(parts[0] ?? '').toLowerCase()];
  if (!kind) throw new UserError(`"${text}": unknown kind "${parts[0]}" (${usage})`, 'usage');
  if (allowed && !allowed.includes(kind)) throw new UserError(`"${text}": this action applies to ${allowed.join(', ')}, not ${kind}`, 'usage');
  const info = kindInfo(kind);
  let namespace: string | undefined;
  let name: string | undefined;
  if (info.namespaced) {
    if (parts.length !== 3) throw new UserError(`"${text}": ${usage}`, 'usage');
    [, namespace, name] = parts;
    if (!NAMESPACE.test(namespace!)) throw new UserError(`"${text}": "${namespace}" is not a valid namespace name`, 'usage');
  } else {
    if (parts.length !== 2) throw new UserError(`"${text}": a ${kind} is cluster-scoped: expected ${kind.toLowerCase()}/NAME`, 'usage');
    name = parts[1];
  }
  if (!NAME.test(name!)) throw new UserError(`"${text}": "${name}" is not a valid object name`, 'usage');
  return { type: 'kube', kind, ...(namespace ? { namespace } : {}), name: name! };
}

export class KubeHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'KubeHttpError';
  }
}

export type PatchType = 'merge' | 'strategic' | 'json';
const PATCH_CONTENT: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export class KubeApi {
  readonly cluster: string;
  private readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    const c = kc.getCurrentCluster();
    if (!c) throw new UserError('the kubeconfig names no current cluster (use --context or --kubeconfig)', 'usage');
    this.cluster = c.name;
    this.server = c.server;
  }

  static connect(opts: KubeConnectOptions = {}): KubeApi {
    return new KubeApi(readKubeConfig({ file: opts.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0], context: opts.context, noClusterHint: 'use --context or --kubeconfig' }));
  }


  /** The object's URL path (collection path when name is undefined). */
  path(kind: string, namespace: string | undefined, name?: string, sub?: string): string {
    const info = kindInfo(kind);
    const base = `${info.apiVersion.includes('/') ? '/apis' : '/api'}/${info.apiVersion}`;
    const ns = info.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : '';
    return `${base}${ns}/${info.plural}${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${sub ? `/${sub}` : ''}`;
  }

  /** GET an object; undefined when it does not exist. */
  async get<T = any>(path: string): Promise<T | undefined> {
    try {
      return (await this.send('GET', path)) as T;
    } catch (e) {
      if (e instanceof KubeHttpError && e.status === 404) return undefined;
      throw e;
    }
  }

  patch<T = any>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.send('PATCH', path, body, PATCH_CONTENT[type]) as Promise<T>;
  }

  /** A text answer (pod logs): undefined on 404, at most `maxBytes` kept (the tail). */
  async getText(path: string, maxBytes: number): Promise<string | undefined> {
    const answer = await kubeRequest(this.kc, 'GET', path, { timeoutMs: 30_000 });
    if (answer.status === 404) return undefined;
    if (!isSuccess(answer.status)) throw new KubeHttpError(answer.status, `GET ${answer.url.pathname}: ${statusMessage(answer)}`);
    const bytes = Buffer.from(answer.text, 'utf8');
    return bytes.length > maxBytes ? bytes.subarray(bytes.length - maxBytes).toString('utf8') : answer.text;
  }

  post<T = any>(path: string, body: unknown): Promise<T> {
    return this.send('POST', path, body, 'application/json') as Promise<T>;
  }

  delete<T = any>(path: string, body?: unknown): Promise<T> {
    return this.send('DELETE', path, body, body === undefined ? undefined : 'application/json') as Promise<T>;
  }

  async send(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    let answer: KubeAnswer;
    try {
      answer = await kubeRequest(this.kc, method, path, { ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)), contentType }), timeoutMs: 30_000 });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw code === 'ECONNREFUSED' || code === 'ENOTFOUND' ? new UserError(`cannot reach the cluster at ${this.server} (${code})`, 'cluster') : e;
    }
    if (!isSuccess(answer.status)) {
      if (answer.status === 401) throw new UserError(`${this.server}: unauthorized (check the kubeconfig's credentials)`, 'cluster');
      throw new KubeHttpError(answer.status, `${method} ${answer.url.pathname}: ${statusMessage(answer)}`);
    }
    try {
      return answer.text ? JSON.parse(answer.text) : undefined;
    } catch (e) {
      throw new Error(`${answer.url.pathname}: the server did not answer JSON (${describeError(e)})`);
    }
  }

}

/** The object or a one-line error naming it. */
export async function mustGet<T = any>(api: KubeApi, t: KubeTarget): Promise<T> {
  const obj = await api.get<T>(api.path(t.kind, t.namespace, t.name));
  if (!obj) throw new UserError(`no ${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name} in cluster ${api.cluster}`, 'not-found');
  return obj;
}
