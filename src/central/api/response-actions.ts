/**
 * `GET /api/v1/response-actions`: what Central's response engine did on clusters (src/central/respond),
 * newest first — every action attempted, refused (kill switch, never-touch, rate limit) or
 * dry-run, with its trigger (policies, the alert's ingest event) and result. `?incident=ID`
 * gives the actions its alerts triggered (the incident page's "response actions taken").
 */
import { getIncident } from '../store/incidents.js';
import { alertRefs, listResponseActions } from '../store/response-actions.js';
import { ApiError } from './errors.js';
import type { ApiModule } from './module.js';
import { decodeCursor, encodeCursor, pageQuerySchema } from './paging.js';

const listQuery = {
  type: 'object', additionalProperties: false,
  properties: {
    ...pageQuerySchema,
    incident: { type: 'string', minLength: 1, maxLength: 64 },
    cluster: { type: 'string', minLength: 1, maxLength: 253 },
  },
} as const;

const actionSchema = {
  type: 'object', additionalProperties: true,
  required: ['id', 'time', 'action', 'target', 'trigger', 'dryRun', 'outcome', 'detail'],
  properties: {
    id: { type: 'string' }, time: { type: 'string' }, action: { type: 'string' }, cluster: { type: 'string' },
    target: { type: 'object', additionalProperties: true }, trigger: { type: 'object', additionalProperties: true },
    dryRun: { type: 'boolean' }, outcome: { type: 'string', enum: ['done', 'already', 'dry-run', 'refused', 'failed'] },
    detail: { type: 'string' }, evidence: { type: 'string' }, durationMs: { type: 'number' },
  },
} as const;

export const responseActionsApi: ApiModule = (app, ctx) => {
  app.get<{ Querystring: { limit: number; cursor?: string; incident?: string; cluster?: string } }>('/api/v1/response-actions', {
    config: { permission: 'read' },
    schema: {
      summary: "Response actions Central carried out, refused or dry-ran on clusters, newest first; ?incident= gives those its alerts triggered",
      querystring: listQuery,
      response: { 200: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array', items: actionSchema }, nextCursor: { type: ['string', 'null'] } } } },
    },
  }, async (req) => {
    const { limit, incident, cluster } = req.query;
    if (incident) {
      if (req.query.cursor) throw new ApiError(400, 'bad-request', 'an incident\'s actions come in one page: no cursor with ?incident=');
      const inc = await getIncident(ctx.db, incident);
      if (!inc) throw new ApiError(404, 'not-found', `no incident ${incident}`);
      const eventIds = alertRefs(inc);
      return { items: await listResponseActions(ctx.db, { limit, eventIds, ...(cluster ? { cluster } : {}) }), nextCursor: null };
    }
    const c = decodeCursor(req.query.cursor);
    const items = await listResponseActions(ctx.db, { limit: limit + 1, ...(cluster ? { cluster } : {}), ...(c ? { cursor: { time: String(c.k), id: c.id } } : {}) });
    const more = items.length > limit;
    const page = items.slice(0, limit);
    const last = page[page.length - 1];
    return { items: page, nextCursor: more && last ? encodeCursor({ k: last.time, id: last.id }) : null };
  });
};
