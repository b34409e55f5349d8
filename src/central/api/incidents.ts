/**
 * Correlated incidents (src/runtime/incidents): the Kubernetes audit webhook receiver
 * `POST /api/v1/ingest/audit` (kube-apiserver's `--audit-webhook-config-file` pointed at
 * Central posts audit.k8s.io/v1 EventLists), `POST /api/v1/ingest/flows` (network flow
 * records), `GET /api/v1/incidents` (paged, filters severity, state, deployment, host, workload
 * and ATT&CK tactic) and
 * `GET /api/v1/incidents/{id}`. Alerts and decisions reach the correlator through
 * ingest/events' `event-batch` notice.
 */
import type { AuditEvent, FlowRecord } from '../../runtime/incidents/types.js';
import { defaultAttackMap } from '../../runtime/incidents/attack.js';
import { incidentService, stopIncidentService } from '../incidents/service.js';
import { basename } from 'node:path';
import { getIncident, listIncidents, workloadPattern } from '../store/incidents.js';
import { alertRefs, listResponseActions } from '../store/response-actions.js';
import { evidencePath } from './evidence.js';
import { severityList } from './alerts.js';
import { ApiError, errorSchema } from './errors.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';
import type { ApiModule } from './module.js';

/** An apiserver batch is at most --audit-webhook-batch-max-size events (400 by default); request bodies make them large. */
export const AUDIT_BODY_LIMIT = 16 * 1024 * 1024;

const str = { type: 'string', maxLength: 4096 } as const;
const time = { type: 'string', format: 'date-time' } as const;

const userInfoSchema = {
  type: 'object', additionalProperties: false,
  properties: {
    username: str, uid: str, groups: { type: 'array', maxItems: 256, items: str },
    extra: { type: 'object', additionalProperties: { type: 'array', items: str } },
  },
} as const;

/** audit.k8s.io/v1 Event, every field of the type and nothing else. */
const auditEventSchema = {
  type: 'object', additionalProperties: false, required: ['auditID', 'stage', 'verb', 'requestURI', 'level'],
  properties: {
    kind: { type: 'string', const: 'Event' }, apiVersion: { type: 'string', const: 'audit.k8s.io/v1' },
    level: { type: 'string', enum: ['None', 'Metadata', 'Request', 'RequestResponse'] },
    auditID: { type: 'string', minLength: 1, maxLength: 128 },
    stage: { type: 'string', enum: ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] },
    requestURI: { type: 'string', maxLength: 16_384 }, verb: { type: 'string', maxLength: 64 },
    user: userInfoSchema, impersonatedUser: userInfoSchema,
    sourceIPs: { type: 'array', maxItems: 64, items: { type: 'string', maxLength: 64 } },
    userAgent: { type: 'string', maxLength: 4096 },
    objectRef: {
      type: 'object', additionalProperties: false,
      properties: { resource: str, namespace: str, name: str, uid: str, apiGroup: str, apiVersion: str, resourceVersion: str, subresource: str },
    },
    responseStatus: { type: 'object' }, requestObject: { type: 'object' }, responseObject: { type: 'object' },
    requestReceivedTimestamp: time, stageTimestamp: time,
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;


const eventListSchema = {
  type: 'object', additionalProperties: false, required: ['kind', 'apiVersion', 'items'],
  properties: {
    kind: { type: 'string', const: 'EventList' }, apiVersion: { type: 'string', const: 'audit.k8s.io/v1' },
    metadata: { type: 'object' },
    items: { type: 'array', maxItems: 10_000, items: auditEventSchema },
  },
} as const;

const flowEnd = {
  type: 'object', additionalProperties: false,
  properties: { workload: { type: 'string', maxLength: 1024 }, ip: { type: 'string', maxLength: 64 }, port: { type: 'integer', minimum: 0, maximum: 65535 }, host: { type: 'string', maxLength: 253 } },
} as const;

const flowBatchSchema = {
  type: 'object', additionalProperties: false, required: ['flows'],
  properties: {
    cluster: { type: 'string', maxLength: 253 },
    flows: {
      type: 'array', maxItems: 10_000,
      items: {
        type: 'object', additionalProperties: false, required: ['id', 'time', 'src', 'dst'],
        properties: { id: { type: 'string', minLength: 1, maxLength: 200 }, time, protocol: { type: 'string', enum: ['tcp', 'udp'] }, src: flowEnd, dst: flowEnd },
      },
    },
  },
} as const;

const listQuery = {
  type: 'object', additionalProperties: false,
  properties: { ...pageQuerySchema, severity: { type: 'string', description: 'comma list of severities' }, state: { type: 'string', enum: ['open', 'closed'] }, deployment: { type: 'string', minLength: 1, maxLength: 600, description: 'only incidents that involve this deployment (its id)' },
    host: { type: 'string', minLength: 1, maxLength: 253, description: 'only incidents with this host among their hosts' },
    workload: { type: 'string', minLength: 1, maxLength: 1024, description: 'only incidents involving this workload identity (k8s:CLUSTER/NS/KIND/NAME[/CONTAINER] or host:HOST/IMAGE/CONTAINER); without the container, any of its containers' },
    tactic: { type: 'string', minLength: 1, maxLength: 64, description: 'only incidents that reached this ATT&CK tactic: its id (TA0002), name (Execution) or tag (mitre_execution)' } },
} as const;

/** An ATT&CK tactic named by id, name or tag (any case), as the correlator's mapping knows it; else a 400 naming the known ones. */
export function tacticIdOf(value: string): string {
  const v = value.trim().toLowerCase();
  const t = defaultAttackMap().tactics.find((x) => x.id.toLowerCase() === v || x.name.toLowerCase() === v || x.tag.toLowerCase() === v);
  if (!t) throw new ApiError(400, 'bad-request', `unknown ATT&CK tactic "${value}" (known: ${defaultAttackMap().tactics.map((x) => `${x.id} ${x.name}`).join(', ')})`);
  return t.id;
}

export const incidentsApi: ApiModule = (app, ctx) => {
  const service = () => incidentService(ctx, { onError: (e) => app.log.error({ err: e }, 'incident correlation: store write failed') });
  // Started with the server, so the correlator sees every batch from the first.
  app.addHook('onReady', async () => void service());
  app.addHook('onClose', () => stopIncidentService(ctx));

  // The apiserver's webhook client replaces the configured URL's query with ?timeout=30s, so the
  // cluster is also taken from the path (/ingest/audit/NAME); ?cluster= stays for other senders.
  const feedAudit = async (items: AuditEvent[], cluster: string | undefined) => {
    await service().feed(items.map((event) => ({ kind: 'audit' as const, event, ...(cluster ? { cluster } : {}) })));
    return { received: items.length };
  };
  const auditQuery = { type: 'object', additionalProperties: false, properties: { cluster: { type: 'string', minLength: 1, maxLength: 253 }, timeout: { type: 'string', pattern: '^[0-9]+(ms|s|m)$' } } } as const;
  const auditResponse = { 200: { type: 'object', properties: { received: { type: 'integer' } }, required: ['received'] }, 400: errorSchema } as const;
  app.post<{ Body: { kind: 'EventList'; items: AuditEvent[] }; Querystring: { cluster?: string; timeout?: string } }>('/api/v1/ingest/audit', {
    bodyLimit: AUDIT_BODY_LIMIT,
    config: { permission: 'ingest:events' },
    schema: {
      summary: 'Kubernetes audit webhook: an audit.k8s.io/v1 EventList (kube-apiserver --audit-webhook-config-file); the cluster is `default` or ?cluster=',
      querystring: auditQuery,
      body: eventListSchema,
      response: auditResponse,
    },
  }, async (req) => feedAudit(req.body.items, req.query.cluster));
  app.post<{ Body: { kind: 'EventList'; items: AuditEvent[] }; Params: { cluster: string }; Querystring: { timeout?: string } }>('/api/v1/ingest/audit/:cluster', {
    bodyLimit: AUDIT_BODY_LIMIT,
    config: { permission: 'ingest:events' },
    schema: {
      summary: "Kubernetes audit webhook for the cluster named in the path (the apiserver's webhook client drops a configured query)",
      params: { type: 'object', additionalProperties: false, properties: { cluster: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' } }, required: ['cluster'] },
      querystring: { type: 'object', additionalProperties: false, properties: { timeout: auditQuery.properties.timeout } },
      body: eventListSchema,
      response: auditResponse,
    },
  }, async (req) => feedAudit(req.body.items, req.params.cluster));

  app.post<{ Body: { cluster?: string; flows: Array<FlowRecord & { id: string }> } }>('/api/v1/ingest/flows', {
    bodyLimit: AUDIT_BODY_LIMIT,
    config: { permission: 'ingest:events' },
    schema: {
      summary: 'Network flow records (source and destination workload, address and port)',
      body: flowBatchSchema,
      response: { 200: { type: 'object', properties: { received: { type: 'integer' } }, required: ['received'] }, 400: errorSchema },
    },
  }, async (req) => {
    const { cluster, flows } = req.body;
    await service().feed(flows.map(({ id, ...flow }) => ({ kind: 'flow' as const, id, flow, ...(cluster ? { cluster } : {}) })));
    return { received: flows.length };
  });

  type ListQuery = { limit: number; cursor?: string; severity?: string; state?: 'open' | 'closed'; deployment?: string; host?: string; workload?: string; tactic?: string };
  app.get<{ Querystring: ListQuery }>('/api/v1/incidents', {
    config: { permission: 'read' },
    schema: { summary: 'Correlated incidents, most recently active first', querystring: listQuery },
  }, async (req) => {
    const { limit, severity, state, deployment, host, workload, tactic } = req.query;
    const tacticId = tactic === undefined ? undefined : tacticIdOf(tactic);
    const c = decodeCursor(req.query.cursor);
    let workloadLike: string | undefined;
    if (deployment) {
      const d = await ctx.db.selectFrom('deployments').innerJoin('sources', 'sources.id', 'deployments.source_id')
        .select(['deployments.kind', 'deployments.namespace', 'deployments.name', 'sources.kind as source_kind', 'sources.name as source_name'])
        .where('deployments.id', '=', deployment).executeTakeFirst();
      if (!d) throw new ApiError(404, 'not-found', `no deployment ${deployment}`);
      workloadLike = workloadPattern({ sourceKind: d.source_kind, sourceName: d.source_name, kind: d.kind, namespace: d.namespace, name: d.name });
    }
    await service().idle();
    const { items, more } = await listIncidents(ctx.db, {
      limit, ...(state ? { state } : {}), ...(severity ? { severities: severityList(severity) } : {}), ...(c ? { cursor: { k: String(c.k), id: c.id } } : {}),
      ...(workloadLike ? { workloadLike } : {}), ...(host ? { host } : {}), ...(workload ? { workload } : {}), ...(tacticId ? { tacticId } : {}),
      dialect: ctx.store.dialect,
    });
    const last = items[items.length - 1];
    return { items, nextCursor: more && last ? encodeCursor({ k: last.lastSeen, id: last.id }) : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/incidents/:id', {
    config: { permission: 'read' },
    schema: { summary: 'One incident with its timeline', params: { type: 'object', properties: { id: { type: 'string', maxLength: 64 } }, required: ['id'] } },
  }, async (req) => {
    await service().idle();
    const inc = await getIncident(ctx.db, req.params.id);
    if (!inc) throw new ApiError(404, 'not-found', `no incident ${req.params.id}`);
    // Evidence Central captured before the response actions its alerts triggered (GET /api/v1/evidence/{id}).
    const actions = await listResponseActions(ctx.db, { limit: 1000, eventIds: alertRefs(inc) });
    const evidence = actions.filter((a) => a.evidence).map((a) => ({
      id: basename(a.evidence!), path: evidencePath(basename(a.evidence!)), createdAt: a.time,
      ...(a.target.type === 'kube' ? { container: `${a.target.namespace ?? ''}/${a.target.name}` } : { container: a.target.container }),
    }));
    return { ...inc, evidence };
  });
};
