/** `GET /api/v1/violations`: policy violations with their lifecycle state, filterable and paged. */
import { sql } from 'kysely';
import { STAGES } from '../../policy/types.js';
import { fromJson } from '../store/json.js';
import type { ViolationsTable } from '../store/schema.js';
import { severityList } from './alerts.js';
import { ApiError, errorSchema } from './errors.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';
import type { ApiModule } from './module.js';

interface ViolationQuery { limit: number; cursor?: string; policy?: string; stage?: string; state?: string; severity?: string; subjectKind?: string; subject?: string }

export function violationItem(r: ViolationsTable) {
  return {
    id: r.id, policyId: r.policy_id, stage: r.stage, subjectKind: r.subject_kind, subject: r.subject_key, severity: r.severity,
    title: r.title, state: r.state, exceptionId: r.exception_id, firstSeen: r.first_seen, lastSeen: r.last_seen, resolvedAt: r.resolved_at,
    finding: fromJson(r.body, null),
  };
}

export const violationsApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: ViolationQuery }>('/api/v1/violations', {
    config: { permission: 'read' },
    schema: {
      summary: 'List violations (newest first)',
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          ...pageQuerySchema,
          policy: { type: 'string' }, stage: { type: 'string', enum: [...STAGES] },
          state: { type: 'string', enum: ['active', 'resolved', 'excepted'] }, severity: { type: 'string' },
          subjectKind: { type: 'string' }, subject: { type: 'string' },
        },
      },
    },
  }, async (req) => {
    const { limit, policy, stage, state, severity, subjectKind, subject } = req.query;
    const cursor = decodeCursor(req.query.cursor);
    let q = ctx.db.selectFrom('violations').selectAll();
    if (policy) q = q.where('policy_id', '=', policy);
    if (stage) q = q.where('stage', '=', stage);
    if (state) q = q.where('state', '=', state as ViolationsTable['state']);
    if (severity) q = q.where('severity', 'in', severityList(severity));
    if (subjectKind) q = q.where('subject_kind', '=', subjectKind);
    if (subject) q = q.where('subject_key', '=', subject);
    if (cursor) q = q.where(sql<boolean>`(last_seen < ${String(cursor.k)} or (last_seen = ${String(cursor.k)} and id < ${cursor.id}))`);
    const rows = await q.orderBy('last_seen', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
    const items = rows.slice(0, limit).map(violationItem);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor({ k: last.lastSeen, id: last.id }) : null };
  });

  app.get<{ Params: { id: string } }>('/api/v1/violations/:id', {
    config: { permission: 'read' },
    schema: { summary: 'One violation', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: { 404: errorSchema } },
  }, async (req) => {
    const row = await ctx.db.selectFrom('violations').selectAll().where('id', '=', req.params.id).executeTakeFirst();
    if (!row) throw new ApiError(404, 'not-found', `no violation ${req.params.id}`);
    return violationItem(row);
  });

  app.patch<{ Params: { id: string }; Body: { state: 'resolved' } }>('/api/v1/violations/:id', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Resolve a violation by hand (a reviewed break-glass use); evaluations re-open it if it still holds',
      params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
      body: { type: 'object', additionalProperties: false, required: ['state'], properties: { state: { type: 'string', enum: ['resolved'] } } },
      response: { 404: errorSchema },
    },
  }, async (req) => {
    const at = ctx.now().toISOString();
    const r = await ctx.db.updateTable('violations').set({ state: 'resolved', resolved_at: at, exception_id: null }).where('id', '=', req.params.id).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ApiError(404, 'not-found', `no violation ${req.params.id}`);
    const row = await ctx.db.selectFrom('violations').selectAll().where('id', '=', req.params.id).executeTakeFirstOrThrow();
    return violationItem(row);
  });
};
