/**
 * The network graph (issue 23): `GET /api/v1/network/graph` (workloads, the peers they talk
 * to, allowed and observed edges, flags, mTLS and learning marks; src/central/network/
 * graph-service.ts) and `GET /api/v1/network/flows` (the observed edges with their resolved
 * ends, paged). Analyst role and up (permission `read`).
 */
import { buildNetworkGraph, sinceTime } from '../network/graph-service.js';
import { observedEdgePage, type StoredEdge } from '../store/flows.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { decodeCursor, encodeCursor, pageQuerySchema, pageSchema } from './paging.js';

const sinceSchema = { type: 'string', maxLength: 40, description: 'a duration back from now (30m, 24h, 7d) or an RFC 3339 time; default 24h' } as const;
const nameSchema = { type: 'string', minLength: 1, maxLength: 253 } as const;
const protocolSchema = { type: 'string', enum: ['TCP', 'UDP', 'SCTP'] } as const;
const kindSchema = { type: 'string', enum: ['deployment', 'service', 'namespace', 'external'] } as const;
const observedSchema = {
  type: 'object', additionalProperties: false, required: ['firstSeen', 'lastSeen', 'connections'],
  properties: { firstSeen: { type: 'string' }, lastSeen: { type: 'string' }, connections: { type: 'integer' }, bytes: { type: 'integer' } },
} as const;

export const graphNodeSchema = {
  type: 'object', additionalProperties: false, required: ['id', 'kind', 'label'],
  properties: {
    id: { type: 'string' }, kind: kindSchema, label: { type: 'string' }, cluster: { type: 'string' }, host: { type: 'string' },
    namespace: { type: 'string' }, name: { type: 'string' }, workloadKind: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } }, learning: { type: 'boolean' }, dns: { type: 'string' },
    isolated: { type: 'object', additionalProperties: false, required: ['ingress', 'egress'], properties: { ingress: { type: 'boolean' }, egress: { type: 'boolean' } } },
  },
} as const;

export const graphEdgeSchema = {
  type: 'object', additionalProperties: false, required: ['id', 'source', 'target', 'protocol', 'allowed'],
  properties: {
    id: { type: 'string' }, source: { type: 'string' }, target: { type: 'string' }, protocol: protocolSchema,
    port: { type: 'integer' }, portEnd: { type: 'integer' }, allowed: { type: 'boolean' },
    observed: observedSchema,
    flag: { type: 'string', enum: ['observed-not-allowed', 'allowed-not-observed'] },
    mtls: { type: 'string', enum: ['mtls', 'plaintext', 'unknown'] },
  },
} as const;

export const networkGraphSchema = {
  type: 'object', additionalProperties: false, required: ['generatedAt', 'nodes', 'edges', 'counts'],
  properties: {
    generatedAt: { type: 'string' },
    nodes: { type: 'array', items: graphNodeSchema },
    edges: { type: 'array', items: graphEdgeSchema },
    counts: {
      type: 'object', additionalProperties: false, required: ['nodes', 'edges', 'observedNotAllowed', 'allowedNotObserved'],
      properties: { nodes: { type: 'integer' }, edges: { type: 'integer' }, observedNotAllowed: { type: 'integer' }, allowedNotObserved: { type: 'integer' } },
    },
  },
} as const;

const endSchema = {
  type: 'object', additionalProperties: false, required: ['id', 'kind', 'label'],
  properties: {
    id: { type: 'string' }, kind: kindSchema, label: { type: 'string' }, cluster: { type: 'string' }, host: { type: 'string' },
    namespace: { type: 'string' }, name: { type: 'string' }, workloadKind: { type: 'string' }, cidr: { type: 'string' }, dns: { type: 'string' },
  },
} as const;

const flowItemSchema = {
  type: 'object', additionalProperties: false, required: ['id', 'source', 'destination', 'protocol', 'port', 'firstSeen', 'lastSeen', 'connections'],
  properties: {
    id: { type: 'string' }, cluster: { type: 'string' }, host: { type: 'string' },
    source: endSchema, destination: endSchema, protocol: protocolSchema, port: { type: 'integer' },
    firstSeen: { type: 'string' }, lastSeen: { type: 'string' }, connections: { type: 'integer' }, bytes: { type: 'integer' },
    meshFlows: { type: 'integer', description: 'flows of this edge seen through a mesh proxy (mTLS evidence)' },
  },
} as const;

interface GraphQuery { cluster?: string; namespace?: string; deployment?: string; since?: string }
interface FlowsQuery { cluster?: string; namespace?: string; since?: string; limit: number; cursor?: string }

function flowItem(e: StoredEdge) {
  return {
    id: e.key, ...(e.cluster ? { cluster: e.cluster } : {}), ...(e.host ? { host: e.host } : {}),
    source: e.src, destination: e.dst, protocol: e.protocol, port: e.port,
    firstSeen: e.firstSeen, lastSeen: e.lastSeen, connections: e.connections, ...(e.bytes !== undefined ? { bytes: e.bytes } : {}), meshFlows: e.meshFlows,
  };
}

export const networkApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: GraphQuery }>('/api/v1/network/graph', {
    config: { permission: 'read' },
    schema: {
      summary: 'The network graph: workloads and peers, edges NetworkPolicies allow and edges the sensors observed, flagged where they differ, with mTLS and learning marks',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          cluster: { ...nameSchema, description: 'a cluster or plain host source, by name or id' },
          namespace: { ...nameSchema, description: "only this namespace's workloads and their peers" },
          deployment: { type: 'string', minLength: 1, maxLength: 100, description: 'only this deployment (id) and its peers' },
          since: sinceSchema,
        },
      },
      response: { 200: networkGraphSchema, 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => buildNetworkGraph(ctx, req.query));

  app.get<{ Querystring: FlowsQuery }>('/api/v1/network/flows', {
    config: { permission: 'read' },
    schema: {
      summary: 'Observed edges (flows aggregated per source, destination, protocol and port) with their resolved ends, paged',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { ...pageQuerySchema, cluster: nameSchema, namespace: nameSchema, since: sinceSchema },
      },
      response: { 200: pageSchema(flowItemSchema), 400: errorSchema, 404: errorSchema },
    },
  }, async (req) => {
    const { cluster, namespace, limit } = req.query;
    const since = sinceTime(req.query.since, ctx.now());
    const cursor = decodeCursor(req.query.cursor);
    let scope = {};
    if (cluster !== undefined) {
      const src = await ctx.db.selectFrom('sources').select(['kind', 'name']).where((eb) => eb.or([eb('name', '=', cluster), eb('id', '=', cluster)])).execute();
      if (!src.length) throw new ApiError(404, 'not-found', `no cluster or host ${cluster} (GET /api/v1/clusters and /api/v1/hosts list them)`);
      scope = { clusters: src.filter((s) => s.kind === 'cluster').map((s) => s.name), hosts: src.filter((s) => s.kind === 'host').map((s) => s.name) };
    }
    const page = await observedEdgePage(ctx.db, { since, namespace, ...scope }, limit, cursor?.id);
    const items = page.items.map(flowItem);
    const last = items[items.length - 1];
    return { items, nextCursor: page.more && last ? encodeCursor({ k: null, id: last.id }) : null };
  });
};
