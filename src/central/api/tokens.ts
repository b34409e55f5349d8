/** `/api/v1/tokens`: create (value shown once), list (never values) and revoke API tokens. */
import { ROLES, type Role } from '../auth/roles.js';
import { createToken, listTokens, revokeToken } from '../store/tokens.js';
import { ApiError, errorSchema } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

export const tokenInfoSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' },
    createdAt: { type: 'string' }, createdBy: { type: ['string', 'null'] },
    expiresAt: { type: ['string', 'null'] }, revokedAt: { type: ['string', 'null'] }, lastUsedAt: { type: ['string', 'null'] },
  },
  required: ['id', 'name', 'role', 'createdAt'],
} as const;

export const tokensApi: ApiModule = (app, ctx) => {
  app.post<{ Body: { name: string; role: Role; expires?: string } }>('/api/v1/tokens', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Create an API token; its value is returned once',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'role'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          role: { type: 'string', enum: [...ROLES] },
          expires: { type: 'string', format: 'date-time', description: 'RFC 3339 expiry' },
        },
      },
      response: {
        201: { type: 'object', properties: { token: { type: 'string' }, id: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' }, expiresAt: { type: ['string', 'null'] } }, required: ['token', 'id', 'role'] },
        400: errorSchema,
      },
    },
  }, async (req, reply) => {
    const expiresAt = req.body.expires ? new Date(req.body.expires).toISOString() : null;
    if (expiresAt && expiresAt <= ctx.now().toISOString()) throw new ApiError(400, 'bad-request', `expiry ${req.body.expires} is in the past`);
    const { token, info } = await createToken(ctx.db, { name: req.body.name, role: req.body.role, expiresAt, createdBy: req.principal?.name ?? null });
    return reply.code(201).send({ token, id: info.id, role: info.role, name: info.name, expiresAt: info.expiresAt });
  });

  app.get('/api/v1/tokens', {
    config: { permission: 'admin' },
    schema: { querystring: NO_QUERY, summary: 'List API tokens (never their values)', response: { 200: { type: 'object', properties: { items: { type: 'array', items: tokenInfoSchema } }, required: ['items'] } } },
  }, async () => ({ items: await listTokens(ctx.db) }));

  app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', {
    config: { permission: 'admin' },
    schema: {
      summary: 'Revoke an API token',
      params: { type: 'object', properties: { id: { type: 'string', maxLength: 100 } }, required: ['id'] },
      response: { 204: { type: 'null' }, 404: errorSchema },
    },
  }, async (req, reply) => {
    if (!(await revokeToken(ctx.db, req.params.id))) throw new ApiError(404, 'not-found', `no token with id ${req.params.id}`);
    return reply.code(204).send();
  });
};
