/**
 * `POST /api/v1/ingest/events`: a batch of alerts, decisions or flows, stored all or nothing,
 * duplicates dropped by id. A flow's data must be an ObservedFlow (closed schema); flows are
 * resolved to endpoints and aggregated into observed edges (store/flows.ts).
 */
import type { EventBatch } from '../client/ingest-types.js';
import type { ObservedFlow } from '../../network/flow.js';
import { networkIndexOf } from '../network/endpoints.js';
import { checkFlow, observedFlowSchema } from '../network/flow-schema.js';
import { storeEventBatch } from '../store/events.js';
import { ApiError, errorSchema } from './errors.js';
import { INGEST_BODY_LIMIT } from './ingest-images.js';
import { findingSchema } from './schemas/finding.js';
import type { ApiModule } from './module.js';

const batchSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['source', 'events'],
  properties: {
    source: {
      type: 'object', additionalProperties: false, required: ['kind'],
      properties: {
        kind: { type: 'string', enum: ['sensor', 'runtime-replay', 'engine-proxy', 'admission'] },
        cluster: { type: 'string', maxLength: 253 }, host: { type: 'string', maxLength: 253 }, node: { type: 'string', maxLength: 253 },
      },
    },
    events: {
      type: 'array', maxItems: 10_000,
      items: {
        type: 'object', additionalProperties: false, required: ['id', 'type', 'time'],
        properties: {
          id: { type: 'string', minLength: 1, maxLength: 200 },
          type: { type: 'string', enum: ['alert', 'decision', 'flow'] },
          time: { type: 'string', format: 'date-time' },
          finding: findingSchema,
          data: { type: 'object' },
        },
        // A flow carries an ObservedFlow as its data, and no finding.
        if: { properties: { type: { const: 'flow' } }, required: ['type'] },
        then: { required: ['data'], properties: { data: observedFlowSchema, finding: false } },
      },
    },
  },
} as const;

export const ingestEventsApi: ApiModule = (app, ctx) => {
  app.post<{ Body: EventBatch }>('/api/v1/ingest/events', {
    bodyLimit: INGEST_BODY_LIMIT,
    config: { permission: 'ingest:events' },
    schema: {
      summary: 'Push a batch of alerts, decisions or flows (idempotent by event id)',
      body: batchSchema,
      response: { 200: { type: 'object', properties: { stored: { type: 'integer' }, duplicates: { type: 'integer' } }, required: ['stored', 'duplicates'] }, 400: errorSchema },
    },
  }, async (req) => {
    req.body.events.forEach((e, i) => {
      const bad = e.type === 'flow' ? checkFlow(e.data as unknown as ObservedFlow) : undefined;
      if (bad) throw new ApiError(400, 'bad-request', `body: /events/${i}/data: ${bad}`);
    });
    const now = ctx.now().toISOString();
    const network = networkIndexOf(ctx);
    const { deployments, ...result } = await ctx.db.transaction().execute((trx) => storeEventBatch(trx, req.body, now, network));
    if (result.stored) ctx.events.emit('events', req.body.source);
    if (deployments.length) ctx.events.emit('alerts', deployments);
    if (result.stored) ctx.events.emit('event-batch', req.body);
    return result;
  });
};
