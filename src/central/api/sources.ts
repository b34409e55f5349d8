/**
 * `/api/v1/clusters` and `/api/v1/hosts`: what Central watches. A cluster is given by a
 * kubeconfig (its content; one context) or in-cluster; a host by its engine endpoint
 * (`unix:///run/podman/podman.sock`, `tcp://host:2376` with TLS material). Credentials are
 * sealed in the store and never returned.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../../util/errors.js';
import { createSource, deleteSource, listSources, sourceInfo, type SourceKind } from '../store/sources.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

export interface ClusterConfig {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
}

export interface HostConfig {
  endpoint: string;
  tls?: { ca?: string; cert?: string; key?: string };
}

const nameSchema = { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$' } as const;
const pem = { type: 'string', maxLength: 100_000 } as const;

const clusterBody = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: { name: nameSchema, kubeconfig: { type: 'string', maxLength: 1_000_000 }, context: { type: 'string', maxLength: 253 }, inCluster: { type: 'boolean' } },
} as const;

const hostBody = {
  type: 'object', additionalProperties: false, required: ['name', 'endpoint'],
  properties: {
    name: nameSchema,
    endpoint: { type: 'string', pattern: '^(unix:///.+|tcp://[^/]+:\\d+/?)$', maxLength: 1000 },
    tls: { type: 'object', additionalProperties: false, properties: { ca: pem, cert: pem, key: pem } },
  },
} as const;

/** Checks a kubeconfig the way the watcher will use it; one line on failure. */
export function kubeConfigOf(c: ClusterConfig): KubeConfig {
  const kc = new KubeConfig();
  if (c.inCluster) {
    kc.loadFromCluster();
    return kc;
  }
  try {
    kc.loadFromString(c.kubeconfig ?? '');
  } catch (e) {
    throw new ApiError(400, 'bad-request', `kubeconfig: ${describeError(e)}`);
  }
  if (c.context) {
    if (!kc.getContextObject(c.context)) throw new ApiError(400, 'bad-request', `kubeconfig has no context "${c.context}" (it has: ${kc.getContexts().map((x) => x.name).join(', ') || 'none'})`);
    kc.setCurrentContext(c.context);
  }
  if (!kc.getCurrentCluster()?.server) throw new ApiError(400, 'bad-request', 'kubeconfig: the current context names no cluster with a server URL');
  return kc;
}

function sourceRoutes(kind: SourceKind, plural: 'clusters' | 'hosts'): ApiModule {
  return (app, ctx) => {
    app.get(`/api/v1/${plural}`, {
      config: { permission: 'read' },
      schema: { querystring: NO_QUERY, summary: `List ${plural} Central watches` },
    }, async () => {
      const rows = await listSources(ctx.db, kind);
      const counts = new Map((await ctx.db.selectFrom('deployments').select(['source_id', (eb) => eb.fn.countAll<number>().as('n')]).where('deleted_at', 'is', null).groupBy('source_id').execute()).map((r) => [r.source_id, Number(r.n)]));
      return { items: rows.map((r) => ({ ...sourceInfo(r), deployments: counts.get(r.id) ?? 0 })) };
    });

    app.post<{ Body: ClusterConfig & HostConfig & { name: string } }>(`/api/v1/${plural}`, {
      config: { permission: 'admin' },
      schema: { summary: `Add a ${kind} to watch`, body: kind === 'cluster' ? clusterBody : hostBody, response: { 400: errorSchema, 409: errorSchema } },
    }, async (req, reply) => {
      const { name, ...rest } = req.body;
      let config: ClusterConfig | HostConfig;
      if (kind === 'cluster') {
        const c = rest as ClusterConfig;
        if (!c.inCluster && !c.kubeconfig) throw new ApiError(400, 'bad-request', 'give a kubeconfig, or inCluster: true');
        if (c.inCluster && c.kubeconfig) throw new ApiError(400, 'bad-request', 'a cluster is either in-cluster or from a kubeconfig, not both');
        if (!c.inCluster) kubeConfigOf(c);
        config = c;
      } else {
        config = rest as HostConfig;
      }
      const created = await createSource(ctx.db, { kind, name, sealedConfig: ctx.secrets.seal(JSON.stringify(config)) }, ctx.now().toISOString());
      if (!created) throw new ApiError(409, 'conflict', `a ${kind} named "${name}" already exists`);
      ctx.events.emit('sources');
      return reply.code(201).send(created);
    });

    app.delete<{ Params: { id: string } }>(`/api/v1/${plural}/:id`, {
      config: { permission: 'admin' },
      schema: { summary: `Stop watching a ${kind} and forget what was seen on it`, params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: { 204: { type: 'null' }, 404: errorSchema } },
    }, async (req, reply) => {
      if (!(await deleteSource(ctx.db, kind, req.params.id, ctx.now().toISOString()))) throw new ApiError(404, 'not-found', `no ${kind} ${req.params.id}`);
      ctx.events.emit('sources');
      return reply.code(204).send();
    });
  };
}

export const clustersApi = sourceRoutes('cluster', 'clusters');
export const hostsApi = sourceRoutes('host', 'hosts');
