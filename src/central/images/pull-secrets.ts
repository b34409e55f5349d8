/**
 * A cluster's credentials for pulling a workload's image, as the kubelet finds them: the
 * pod spec's imagePullSecrets, then its service account's. Central does not watch Secrets,
 * so the named ones are read on demand through the cluster's own (sealed) kubeconfig, and
 * never stored or logged. Both Secret types the kubelet reads are understood
 * (kubernetes.io/dockerconfigjson and the older kubernetes.io/dockercfg).
 */
import { CoreV1Api } from '@kubernetes/client-node';
import type { Credentials } from '../../image/registry/credentials.js';
import { DOCKER_HUB } from '../../image/reference.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import { kubeConfigOf, type ClusterConfig } from '../api/sources.js';
import type { CentralContext } from '../context.js';
import { fromJson } from '../store/json.js';

interface AuthEntry { auth?: string; username?: string; password?: string }

/** The keys a docker config may name a registry by (as docker and the kubelet accept them). */
function keysFor(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === DOCKER_HUB) keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

function decode(entry: AuthEntry | undefined): Credentials | undefined {
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const text = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon > 0 ? { username: text.slice(0, colon), password: text.slice(colon + 1) } : undefined;
}

/** Credentials for `registry` in one pull secret's data, if it names it. */
export function credentialsInSecret(data: Record<string, string> | undefined, registry: string): Credentials | undefined {
  const read = (key: string) => (data?.[key] ? fromJson<Record<string, unknown>>(Buffer.from(data[key]!, 'base64').toString('utf8'), {}) : undefined);
  const auths = (read('.dockerconfigjson')?.auths as Record<string, AuthEntry> | undefined) ?? (read('.dockercfg') as Record<string, AuthEntry> | undefined);
  if (!auths) return undefined;
  for (const key of keysFor(registry)) {
    const c = decode(auths[key]);
    if (c) return c;
  }
  return undefined;
}

/** The pull-secret names of a workload: its pod spec's, then its service account's. */
async function pullSecretNames(ctx: CentralContext, sourceId: string, kind: string, namespace: string, name: string): Promise<string[]> {
  const live = (k: string, n: string) => ctx.db.selectFrom('objects').select('body').where('source_id', '=', sourceId).where('kind', '=', k)
    .where('namespace', '=', namespace).where('name', '=', n).where('deleted_at', 'is', null).executeTakeFirst();
  const row = await live(kind, name);
  if (!row) return [];
  let spec: any = fromJson<Record<string, unknown>>(row.body, {});
  for (const k of workloadKindOf(kind)?.template ?? []) spec = spec?.[k];
  spec = spec?.spec ?? {};
  const names = ((spec.imagePullSecrets ?? []) as { name?: string }[]).map((s) => s.name);
  const sa = await live('ServiceAccount', String(spec.serviceAccountName ?? spec.serviceAccount ?? 'default'));
  names.push(...((fromJson<{ imagePullSecrets?: { name?: string }[] }>(sa?.body, {}).imagePullSecrets ?? []).map((s) => s.name)));
  return [...new Set(names.filter((n): n is string => typeof n === 'string' && n !== ''))];
}

/**
 * The first pull secret of the workload that has credentials for `registry`, read through
 * the cluster's kubeconfig; undefined when none does (the pull is then anonymous or uses
 * Central's own credentials).
 */
export async function clusterPullCredentials(
  ctx: CentralContext, workload: { sourceId: string; kind: string; namespace: string; name: string }, registry: string,
): Promise<Credentials | undefined> {
  const names = await pullSecretNames(ctx, workload.sourceId, workload.kind, workload.namespace, workload.name);
  if (names.length === 0) return undefined;
  const source = await ctx.db.selectFrom('sources').select('config').where('id', '=', workload.sourceId).executeTakeFirst();
  if (!source) return undefined;
  const api = kubeConfigOf(JSON.parse(ctx.secrets.open(source.config)) as ClusterConfig).makeApiClient(CoreV1Api);
  for (const name of names) {
    let data: Record<string, string> | undefined;
    try {
      data = (await api.readNamespacedSecret({ name, namespace: workload.namespace })).data;
    } catch {
      continue; // missing, or Central may not read it: as the kubelet, try the next one
    }
    const creds = credentialsInSecret(data, registry);
    if (creds) return creds;
  }
  return undefined;
}
