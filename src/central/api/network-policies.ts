/**
 * `POST /api/v1/network/policies/generate` (issue 23 part 3): least-privilege NetworkPolicies
 * from what the sensors observed on a cluster, merged with the intent its stored manifests
 * carry (service references in env values; an intent list may be posted), with the
 * simulation of what they would cut off — nothing is applied or stored.
 *
 * The observed edges and learning marks come from the network graph (buildNetworkGraph over
 * the window `since`); the connectivity model from the cluster's stored objects (Namespaces,
 * top-level workloads, NetworkPolicies, Services). Analyst role and up (permission `read`).
 */
import type { NetpolObject } from '../../kube/netpol/model.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import type { CentralContext } from '../context.js';
import { isDeployment } from '../live/deployments.js';
import { GeneratePool } from '../network/generate-pool.js';
import type { GenerateOptions } from '../network/generate-work.js';
import { buildNetworkGraph } from '../network/graph-service.js';
import { fromJson } from '../store/json.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';

/** The generator's options (generate-work.ts), plus what picks the graph and the cluster. */
interface GenerateBody extends GenerateOptions {
  since?: string;
  cluster?: string;
}

const MODEL_KINDS = ['Namespace', 'NetworkPolicy', 'Service', ...['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'DeploymentConfig', 'VirtualMachine']];
const PAGE = 2000;

const changedPair = {
  type: 'object', additionalProperties: false, required: ['src', 'dst', 'connections'],
  properties: { src: { type: 'string' }, dst: { type: 'string' }, connections: { type: 'string' } },
} as const;

const responseSchema = {
  type: 'object', additionalProperties: false, required: ['cluster', 'yaml', 'policies', 'simulation', 'learning'],
  properties: {
    cluster: { type: 'string' },
    yaml: { type: 'string', description: 'the policies as YAML documents, learning workloads marked with comments' },
    policies: { type: 'array', items: { type: 'object', additionalProperties: true } },
    simulation: {
      type: 'object', additionalProperties: false,
      properties: {
        mode: { type: 'string', enum: ['replace', 'add'] },
        cutObserved: {
          type: 'array',
          items: { type: 'object', additionalProperties: false, properties: { ...changedPair.properties, reason: { type: 'string', enum: ['excluded', 'denied'] } } },
        },
        removed: { type: 'array', items: changedPair },
        added: { type: 'array', items: changedPair },
        counts: {
          type: 'object', additionalProperties: false,
          properties: { cutObserved: { type: 'integer' }, removed: { type: 'integer' }, added: { type: 'integer' }, allowedBefore: { type: 'integer' }, allowedAfter: { type: 'integer' } },
        },
        truncated: { type: 'boolean' },
      },
    },
    learning: {
      type: 'array',
      items: { type: 'object', additionalProperties: false, required: ['workload'], properties: { workload: { type: 'string' }, openPolicy: { type: 'string' } } },
    },
    unobserved: { type: 'array', items: { type: 'string' } },
    intents: { type: 'array', items: { type: 'object', additionalProperties: false, properties: { src: { type: 'string' }, dst: { type: 'string' }, connections: { type: 'string' }, origin: { type: 'string' } } } },
    notes: { type: 'array', items: { type: 'string' } },
    assumptions: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The cluster source a request means: by name or id, or the only one. */
async function clusterSource(ctx: Pick<CentralContext, 'db'>, cluster: string | undefined): Promise<{ id: string; name: string }> {
  const all = await ctx.db.selectFrom('sources').select(['id', 'name']).where('kind', '=', 'cluster').orderBy('name').execute();
  if (cluster !== undefined) {
    const found = all.find((s) => s.name === cluster || s.id === cluster);
    if (!found) throw new ApiError(404, 'not-found', `no cluster ${cluster} (GET /api/v1/clusters lists them)`);
    return found;
  }
  if (all.length === 1) return all[0]!;
  if (all.length === 0) throw new ApiError(404, 'not-found', 'Central watches no cluster: NetworkPolicies are generated for a cluster');
  throw new ApiError(400, 'bad-request', `Central watches ${all.length} clusters (${all.slice(0, 5).map((s) => s.name).join(', ')}): give "cluster"`);
}

/** The cluster's stored objects that connectivity depends on (owned ReplicaSets, Jobs and Pods left out, as deployments are). */
export async function storedClusterObjects(ctx: Pick<CentralContext, 'db'>, source: { id: string; name: string }): Promise<NetpolObject[]> {
  const objects: NetpolObject[] = [];
  let after = { kind: '', namespace: '', name: '' };
  for (;;) {
    const rows = await ctx.db.selectFrom('objects').select(['kind', 'namespace', 'name', 'body']).where('source_id', '=', source.id).where('deleted_at', 'is', null)
      .where('kind', 'in', MODEL_KINDS)
      .where((eb) => eb.or([
        eb('kind', '>', after.kind),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '>', after.namespace)]),
        eb.and([eb('kind', '=', after.kind), eb('namespace', '=', after.namespace), eb('name', '>', after.name)]),
      ]))
      .orderBy('kind').orderBy('namespace').orderBy('name').limit(PAGE).execute();
    for (const r of rows) {
      const raw = fromJson<Record<string, any>>(r.body, {});
      if (workloadKindOf(r.kind)?.runsPods && !isDeployment({ kind: r.kind, namespace: r.namespace, name: r.name, body: raw })) continue;
      objects.push({ kind: r.kind, name: r.name, namespace: r.namespace || undefined, labels: (raw.metadata?.labels ?? {}) as Record<string, string>, raw, source: { file: `cluster ${source.name}`, line: 0 } });
    }
    if (rows.length < PAGE) break;
    const last = rows[rows.length - 1]!;
    after = { kind: last.kind, namespace: last.namespace, name: last.name };
  }
  // Bare Pods (no controller) are deployments of their own: only those are read.
  const bare = await ctx.db.selectFrom('deployments').select(['namespace', 'name']).where('source_id', '=', source.id).where('kind', '=', 'Pod').where('deleted_at', 'is', null).execute();
  for (const b of bare) {
    const r = await ctx.db.selectFrom('objects').select(['body']).where('source_id', '=', source.id).where('kind', '=', 'Pod').where('namespace', '=', b.namespace).where('name', '=', b.name).where('deleted_at', 'is', null).executeTakeFirst();
    if (!r) continue;
    const raw = fromJson<Record<string, any>>(r.body, {});
    objects.push({ kind: 'Pod', name: b.name, namespace: b.namespace || undefined, labels: (raw.metadata?.labels ?? {}) as Record<string, string>, raw, source: { file: `cluster ${source.name}`, line: 0 } });
  }
  return objects;
}

export const networkPoliciesApi: ApiModule = (app, ctx) => {
  // Generation is seconds of CPU at thousands of workloads: off the event loop (generate-work.ts).
  const pool = new GeneratePool();
  app.addHook('onClose', async () => pool.close());
  app.post<{ Body: GenerateBody }>('/api/v1/network/policies/generate', {
    config: { permission: 'read' },
    schema: {
      summary: "Least-privilege NetworkPolicies from the flows observed on a cluster, merged with its manifests' intent, and the simulation of what they would cut off (nothing is applied)",
      body: {
        type: 'object', additionalProperties: false,
        properties: {
          since: { type: 'string', maxLength: 40, description: 'observed since: a duration back from now (30m, 24h, 7d) or an RFC 3339 time; default 24h' },
          cluster: { type: 'string', minLength: 1, maxLength: 253, description: 'the cluster source, by name or id (default: the only one)' },
          namespace: { type: 'string', minLength: 1, maxLength: 253, description: 'policies for this namespace only' },
          learning: { type: 'string', enum: ['open', 'enforce'], description: 'workloads in their baseline window: kept open by a marked allow-all policy (default) or enforced' },
          exclude: { type: 'array', maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 300 }, description: 'leave out observed connections of these (ns/name, ns/name[Kind], address or CIDR)' },
          keepExisting: { type: 'boolean', description: 'simulate adding to the existing NetworkPolicies instead of replacing those of the same namespaces' },
          intent: { type: 'string', maxLength: 1_000_000, description: 'an intent list (YAML `connections: [{from, to, ports}]`) merged with the observation' },
          env: { type: 'boolean', description: 'infer intent from service references in env (default true)' },
          limit: { type: 'integer', minimum: 0, maximum: 100_000, description: 'rows per simulation list (default 1000; counts stay whole)' },
        },
      },
      response: { 200: responseSchema, 400: errorSchema, 404: errorSchema, 422: errorSchema },
    },
  }, async (req) => {
    const body = req.body ?? {};
    const source = await clusterSource(ctx, body.cluster);
    const graph = await buildNetworkGraph(ctx, { cluster: source.id, since: body.since, namespace: body.namespace });
    const objects = await storedClusterObjects(ctx, source);
    const { since: _since, cluster: _cluster, ...options } = body;
    const outcome = await pool.run({ clusterName: source.name, objects, graph, options });
    if ('refused' in outcome) throw new ApiError(outcome.refused.status, outcome.refused.code, outcome.refused.message);
    return outcome.result;
  });
};
