/**
 * `GET /metrics`: Prometheus text format (src/central/metrics.ts). Like every API it needs a
 * token; any reader role will do. Prometheus: `authorization: { type: Bearer, credentials_file: … }`.
 */
import { metricsText } from '../../util/metrics.js';
import { centralMetrics } from '../metrics.js';
import type { ApiModule } from './module.js';

export const metricsApi: ApiModule = (app, ctx) => {
  const metrics = centralMetrics(ctx);
  app.get('/metrics', {
    config: { permission: 'read' },
    schema: { summary: 'Prometheus metrics (text exposition format): requests, latencies, ingest, image workers, process' },
  }, async (_req, reply) => {
    const text = await metricsText(metrics.registry);
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
};
