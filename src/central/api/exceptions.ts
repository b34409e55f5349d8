/**
 * `/api/v1/exceptions`: exceptions agreed between development and security. Each needs an
 * owner, a reason and an expiry; creating or deleting one re-applies exceptions to every
 * open violation at once.
 */
import { expiryTime } from '../../policy/exceptions.js';
import type { PolicyException } from '../../policy/types.js';
import { createException, deleteException } from '../store/exceptions.js';
import { refreshExceptionStates } from '../store/violations.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

const globField = { type: 'string', minLength: 1, maxLength: 500 } as const;

export const exceptionBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['policy', 'owner', 'reason', 'expires'],
  properties: {
    policy: globField, namespace: globField, workload: globField, image: globField, container: globField, package: globField, path: globField,
    purls: { type: 'array', items: { type: 'string', maxLength: 500 }, maxItems: 100 },
    owner: { type: 'string', minLength: 1, maxLength: 200 },
    reason: { type: 'string', minLength: 1, maxLength: 5000 },
    expires: { type: 'string', anyOf: [{ format: 'date' }, { format: 'date-time' }], description: 'a date (through its end, UTC) or an RFC 3339 time' },
  },
} as const;

export const exceptionsApi: ApiModule = (app, ctx) => {
  app.get('/api/v1/exceptions', {
    config: { permission: 'read' },
    schema: { querystring: NO_QUERY, summary: 'List exceptions (expired ones included, marked)' },
  }, async () => {
    const now = ctx.now().toISOString();
    const rows = await ctx.db.selectFrom('exceptions').select(['id', 'expires_at']).execute();
    const expired = new Set(rows.filter((r) => r.expires_at && r.expires_at < now).map((r) => r.id));
    return { items: ctx.policies.exceptions.map((e) => ({ ...e, expired: expired.has(e.id) })) };
  });

  app.post<{ Body: PolicyException & { expires: string } }>('/api/v1/exceptions', {
    config: { permission: 'admin' },
    schema: { summary: 'Create an exception (owner, reason and expiry required)', body: exceptionBodySchema, response: { 400: errorSchema } },
  }, async (req, reply) => {
    const now = ctx.now();
    if (expiryTime(req.body) < now.getTime()) throw new ApiError(400, 'bad-request', `expiry ${req.body.expires} is in the past`);
    const created = await createException(ctx.db, req.body, req.principal?.name ?? null, now.toISOString());
    await ctx.policies.reload();
    await refreshExceptionStates(ctx.db, ctx.policies.exceptions, now);
    ctx.events.emit('exceptions');
    return reply.code(201).send(created);
  });

  app.delete<{ Params: { id: string } }>('/api/v1/exceptions/:id', {
    config: { permission: 'admin' },
    schema: { summary: 'Delete an exception (its violations re-open)', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, response: { 204: { type: 'null' }, 404: errorSchema } },
  }, async (req, reply) => {
    if (!(await deleteException(ctx.db, req.params.id))) throw new ApiError(404, 'not-found', `no exception ${req.params.id}`);
    await ctx.policies.reload();
    await refreshExceptionStates(ctx.db, ctx.policies.exceptions, ctx.now());
    ctx.events.emit('exceptions');
    return reply.code(204).send();
  });
};
