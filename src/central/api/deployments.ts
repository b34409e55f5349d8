/**
 * `GET /api/v1/deployments[?sort=risk]` and `/deployments/{id}`: workloads ranked by their
 * explained risk, with images, violations and alerts.
 */
import { sql } from 'kysely';
import { fromJson } from '../store/json.js';
import type { DeploymentsTable } from '../store/schema.js';
import { severityList } from './alerts.js';
import { ApiError, errorSchema } from './errors.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';
import type { ApiModule } from './module.js';
import { violationItem } from './violations.js';

interface DeploymentQuery {
  limit: number; cursor?: string; sort: 'risk' | 'name';
  cluster?: string; namespace?: string; label?: string; severity?: string; policy?: string; includeDeleted?: boolean;
}

function deploymentItem(r: DeploymentsTable & { source_name?: string | null; source_kind?: string | null }) {
  const risk = fromJson<{ score: number; factors: unknown[] }>(r.risk, { score: 1, factors: [] });
  return {
    id: r.id, sourceId: r.source_id, cluster: r.source_kind === 'cluster' ? r.source_name ?? null : null, host: r.source_kind === 'host' ? r.source_name ?? null : null,
    namespace: r.namespace, kind: r.kind, name: r.name, labels: fromJson(r.labels, {}), images: fromJson(r.images, []),
    riskScore: r.risk_score, riskFactors: risk.factors, firstSeen: r.first_seen, lastSeen: r.last_seen, deletedAt: r.deleted_at,
  };
}

export const deploymentsApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: DeploymentQuery }>('/api/v1/deployments', {
    config: { permission: 'read' },
    schema: {
      summary: 'List deployments, by default ranked by risk (highest first)',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...pageQuerySchema,
          sort: { type: 'string', enum: ['risk', 'name'], default: 'risk' },
          cluster: { type: 'string' }, namespace: { type: 'string' },
          label: { type: 'string', pattern: '^[^=]+=[^=]*$', description: 'KEY=VALUE' },
          severity: { type: 'string', description: 'only deployments with an active violation of these severities' },
          policy: { type: 'string', description: 'only deployments with an active violation of this policy' },
          includeDeleted: { type: 'boolean', default: false },
        },
      },
    },
  }, async (req) => {
    const { limit, sort, cluster, namespace, label, severity, policy, includeDeleted } = req.query;
    const cursor = decodeCursor(req.query.cursor);
    let q = ctx.db.selectFrom('deployments').leftJoin('sources', 'sources.id', 'deployments.source_id')
      .selectAll('deployments').select(['sources.name as source_name', 'sources.kind as source_kind']);
    if (!includeDeleted) q = q.where('deployments.deleted_at', 'is', null);
    if (cluster) q = q.where('sources.name', '=', cluster);
    if (namespace) q = q.where('deployments.namespace', '=', namespace);
    if (label) {
      const [k, v] = label.split('=') as [string, string];
      q = q.where('deployments.labels', 'like', `%${JSON.stringify(k).replace(/[%_]/g, (m) => `\\${m}`)}:${JSON.stringify(v).replace(/[%_]/g, (m) => `\\${m}`)}%`);
    }
    if (severity || policy) {
      q = q.where('deployments.id', 'in', (eb) => {
        let sub = eb.selectFrom('violations').select('subject_key').where('subject_kind', '=', 'deployment').where('state', '=', 'active');
        if (severity) sub = sub.where('severity', 'in', severityList(severity));
        if (policy) sub = sub.where('policy_id', '=', policy);
        return sub;
      });
    }
    if (sort === 'risk') {
      if (cursor) q = q.where(sql<boolean>`(deployments.risk_score < ${Number(cursor.k)} or (deployments.risk_score = ${Number(cursor.k)} and deployments.id > ${cursor.id}))`);
      q = q.orderBy('deployments.risk_score', 'desc').orderBy('deployments.id');
    } else {
      if (cursor) q = q.where(sql<boolean>`(deployments.name > ${String(cursor.k)} or (deployments.name = ${String(cursor.k)} and deployments.id > ${cursor.id}))`);
      q = q.orderBy('deployments.name').orderBy('deployments.id');
    }
    const rows = await q.limit(limit + 1).execute();
    const items = rows.slice(0, limit).map(deploymentItem);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ k: sort === 'risk' ? last.riskScore : last.name, id: last.id }) : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/deployments/:id', {
    config: { permission: 'read' },
    schema: { summary: 'One deployment: risk factors, images, violations, alerts', params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] }, response: { 404: errorSchema } },
  }, async (req) => {
    const id = req.params.id;
    // Independent reads, at once: on PostgreSQL each takes its own pooled connection, so under
    // ingest load the answer waits for the slowest of them, not for their sum. Violations and
    // alerts need only the id; the images, the row's image list.
    const violationsRead = ctx.db.selectFrom('violations').selectAll().where('subject_kind', '=', 'deployment').where('subject_key', '=', id).where('state', '!=', 'resolved').orderBy('severity').execute();
    const alertsRead = ctx.db.selectFrom('events').select(['id', 'time', 'rule', 'severity']).where('type', '=', 'alert').where('deployment_id', '=', id)
      .orderBy('time', 'desc').limit(100).execute();
    // A 404 must not leave the other reads' rejections unhandled.
    violationsRead.catch(() => undefined);
    alertsRead.catch(() => undefined);
    const row = await ctx.db.selectFrom('deployments').leftJoin('sources', 'sources.id', 'deployments.source_id')
      .selectAll('deployments').select(['sources.name as source_name', 'sources.kind as source_kind']).where('deployments.id', '=', id).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not-found', `no deployment ${id}`);
    const item = deploymentItem(row);
    const refs = item.images as string[];
    const digests = refs.map((r) => r.split('@')[1]).filter((d): d is string => !!d);
    const [violations, images, alerts] = await Promise.all([
      violationsRead,
      digests.length ? ctx.db.selectFrom('images').select(['digest', 'refs', 'summary', 'signature']).where('digest', 'in', digests).execute() : Promise.resolve([]),
      alertsRead,
    ]);
    return {
      ...item,
      violations: violations.map(violationItem),
      images: refs.map((ref) => {
        const img = images.find((i) => ref.endsWith(`@${i.digest}`));
        return { ref, digest: img?.digest ?? null, summary: img ? fromJson(img.summary, null) : null, signature: img ? fromJson(img.signature, null) : null };
      }),
      alerts,
    };
  });
};
