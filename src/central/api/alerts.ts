/** `GET /api/v1/alerts` (and `/decisions`): what sensors, replay, the proxy and admission reported, newest first. */
import { sql } from 'kysely';
import { SEVERITIES } from '../../findings/finding.js';
import { fromJson } from '../store/json.js';
import type { EventsTable } from '../store/schema.js';
import { ApiError } from './errors.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';
import type { ApiModule } from './module.js';

interface EventQuery { limit: number; cursor?: string; severity?: string; rule?: string; cluster?: string; host?: string; source?: string; since?: string }

const querySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...pageQuerySchema,
    severity: { type: 'string', description: 'comma list of severities' },
    rule: { type: 'string' }, cluster: { type: 'string' }, host: { type: 'string' },
    source: { type: 'string', enum: ['sensor', 'runtime-replay', 'engine-proxy', 'admission'] },
    since: { type: 'string', format: 'date-time' },
  },
} as const;

/** `--severity` semantics: a comma list of exactly those levels; an unknown level is an error. */
export function severityList(text: string): string[] {
  const list = text.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  const bad = list.find((s) => !(SEVERITIES as readonly string[]).includes(s));
  if (bad || list.length === 0) throw new ApiError(400, 'bad-request', `unknown severity "${bad ?? text}" (expected a comma list of ${SEVERITIES.join(', ')})`);
  return list;
}

function eventItem(row: EventsTable) {
  const body = fromJson<{ finding?: unknown; data?: unknown }>(row.body, {});
  return { id: row.id, type: row.type, source: row.source_kind, cluster: row.cluster, host: row.host, time: row.time, rule: row.rule, severity: row.severity, finding: body.finding ?? null, data: body.data ?? null, receivedAt: row.received_at };
}

function listRoute(type: 'alert' | 'decision'): ApiModule {
  return (app, ctx) => {
    app.get<{ Querystring: EventQuery }>(`/api/v1/${type}s`, {
      config: { permission: 'read' },
      schema: { summary: `List ${type}s, newest first`, querystring: querySchema },
    }, async (req) => {
      const { limit, severity, rule, cluster, host, source, since } = req.query;
      const cursor = decodeCursor(req.query.cursor);
      let q = ctx.db.selectFrom('events').selectAll().where('type', '=', type);
      if (severity) q = q.where('severity', 'in', severityList(severity));
      if (rule) q = q.where('rule', '=', rule);
      if (cluster) q = q.where('cluster', '=', cluster);
      if (host) q = q.where('host', '=', host);
      if (source) q = q.where('source_kind', '=', source);
      if (since) q = q.where('time', '>=', new Date(since).toISOString());
      if (cursor) q = q.where(sql<boolean>`(time < ${String(cursor.k)} or (time = ${String(cursor.k)} and id < ${cursor.id}))`);
      const rows = await q.orderBy('time', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
      const items = rows.slice(0, limit).map(eventItem);
      const last = items[items.length - 1];
      return { items, nextCursor: rows.length > limit && last ? encodeCursor({ k: last.time, id: last.id }) : null };
    });
  };
}

export const alertsApi: ApiModule = listRoute('alert');
export const decisionsApi: ApiModule = listRoute('decision');
