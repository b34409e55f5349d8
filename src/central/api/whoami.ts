/**
 * `GET /api/v1/whoami`: the calling token's role, name, id and expiry, so a client (the
 * console) shows only the controls its role may use without probing admin routes.
 */
import { ApiError } from './errors.js';
import type { ApiModule } from './module.js';
import { NO_QUERY } from './paging.js';

const whoamiSchema = {
  type: 'object', additionalProperties: false, required: ['role', 'name', 'id'],
  properties: {
    role: { type: 'string' }, name: { type: 'string' }, id: { type: 'string', description: 'the token\'s id (never its value)' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
};

export const whoamiApi: ApiModule = (app, ctx) => {
  app.get('/api/v1/whoami', {
    // every role may ask what it is (a pipeline checking its token's expiry, a sensor its role)
    config: { permission: 'self' },
    schema: { summary: 'The calling API token: role, name, id, expiry', querystring: NO_QUERY, response: { 200: whoamiSchema } },
  }, async (req) => {
    const p = req.principal;
    if (!p) throw new ApiError(401, 'unauthenticated', 'an API token is required: send "Authorization: Bearer TOKEN"');
    const row = await ctx.db.selectFrom('tokens').select('expires_at').where('id', '=', p.tokenId).executeTakeFirst();
    return { role: p.role, name: p.name, id: p.tokenId, ...(row?.expires_at ? { expiresAt: row.expires_at } : {}) };
  });
};
