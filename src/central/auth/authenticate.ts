/**
 * The one gate in front of every route: a bearer API token whose role grants the route's
 * permission. Routes without `config.permission` need `admin`, so forgetting to declare one
 * fails closed. Only `config.public` routes (health probes) skip it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import { findTokenByValue, touchToken } from '../store/tokens.js';
import { FailureLimiter } from './failure-limiter.js';
import { roleAllows, type Permission } from './roles.js';
import { looksLikeToken } from './token-secret.js';
import { ApiError } from '../api/errors.js';

export interface Principal {
  tokenId: string;
  name: string;
  role: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the caller's role must grant. Default: admin. */
    permission?: Permission;
    /** No token needed (health probes only). */
    public?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const TOUCH_EVERY_MS = 60_000;

export function registerAuthentication(app: FastifyInstance, db: Kysely<Database>, limiter = new FailureLimiter()): void {
  const lastTouched = new Map<string, number>();
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const config = req.routeOptions.config;
    if (config?.public) return;
    const client = req.ip;
    const wait = limiter.blockedFor(client);
    if (wait > 0) throw new ApiError(429, 'rate-limited', `too many failed logins from this address; retry in ${wait} s`);
    const header = req.headers.authorization;
    const value = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    if (!value) {
      limiter.fail(client);
      throw new ApiError(401, 'unauthenticated', 'an API token is required: send "Authorization: Bearer TOKEN"');
    }
    const row = looksLikeToken(value) ? await findTokenByValue(db, value) : undefined;
    const now = new Date();
    const reason = !row ? 'unknown token' : row.revoked_at ? 'token revoked' : row.expires_at && row.expires_at <= now.toISOString() ? 'token expired' : undefined;
    if (!row || reason) {
      limiter.fail(client);
      throw new ApiError(401, 'unauthenticated', `invalid API token (${reason})`);
    }
    const permission = config?.permission ?? 'admin';
    if (!roleAllows(row.role, permission)) {
      throw new ApiError(403, 'forbidden', `role "${row.role}" may not do this (needs ${permission})`);
    }
    req.principal = { tokenId: row.id, name: row.name, role: row.role };
    // last_used_at is informative: written at most once a minute per token, not per request.
    const last = lastTouched.get(row.id) ?? 0;
    if (now.getTime() - last > TOUCH_EVERY_MS) {
      lastTouched.set(row.id, now.getTime());
      await touchToken(db, row.id, now.toISOString());
    }
  });
}
