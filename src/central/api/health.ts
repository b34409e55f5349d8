/** Liveness and readiness probes: the only routes without a token. */
import { sql } from 'kysely';
import type { ApiModule } from './module.js';
import { errorSchema } from './errors.js';

const statusSchema = { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } as const;

export const healthApi: ApiModule = (app, ctx) => {
  app.get('/healthz', { config: { public: true }, schema: { hide: true, response: { 200: statusSchema } } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { config: { public: true }, schema: { hide: true, response: { 200: statusSchema, 503: errorSchema } } }, async (_req, reply) => {
    try {
      await sql`select 1`.execute(ctx.db);
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ error: 'not-ready', message: 'the store does not answer' });
    }
  });
};
