/**
 * A real Central for tests: the fastify app over a real store (SQLite in a temp dir, or a
 * fresh PostgreSQL database), listening on 127.0.0.1 port 0, with an admin token.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildCentral, type BuildCentralOptions } from '../../src/central/server.js';
import { createCentralContext, type CentralContext } from '../../src/central/context.js';
import { openStore, type Store } from '../../src/central/store/open.js';
import { createToken } from '../../src/central/store/tokens.js';
import type { Role } from '../../src/central/auth/roles.js';
import { freshDatabase, postgresSkip } from './postgres.js';

/** Central's tests run on both stores: the embedded SQLite and a real PostgreSQL 15. */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

/** A skip reason for a dialect this machine lacks (never under CI=true: that fails instead). */
export async function dialectSkip(dialect: Dialect): Promise<string | false> {
  return dialect === 'postgres' ? postgresSkip() : false;
}

export interface TestCentral {
  url: string;
  app: FastifyInstance;
  store: Store;
  ctx: CentralContext;
  adminToken: string;
  /** Creates a token of `role` directly in the store. */
  token(role: Role, options?: { expiresAt?: string }): Promise<string>;
  /** fetch with the admin token (or `token`) and JSON. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }>;
  db(): Store['db'];
  close(): Promise<void>;
}

export async function startTestCentral(options: { dialect?: Dialect; database?: string; now?: () => Date; build?: BuildCentralOptions } = {}): Promise<TestCentral> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-central-'));
  const pgdb = options.dialect === 'postgres' ? await freshDatabase() : undefined;
  const store = await openStore({ dataDir: dir, database: pgdb?.url ?? options.database });
  const ctx = await createCentralContext(store, options.now, { dataDir: dir });
  const app = await buildCentral(ctx, { logger: false, ...options.build });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}`;
  const { token: adminToken } = await createToken(store.db, { name: 'test-admin', role: 'admin' });
  const api = async (method: string, path: string, body?: unknown, token = adminToken) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as any };
  };
  return {
    url, app, store, ctx, adminToken, api,
    db: () => store.db,
    token: async (role, o = {}) => (await createToken(store.db, { name: `test-${role}`, role, expiresAt: o.expiresAt })).token,
    close: async () => {
      await app.close();
      await store.close();
      await pgdb?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const SKIPS = new Map<Dialect, string | false>();

/** Registers one test per store dialect: `storeTest(name, async (dialect) => …)`. */
export async function storeTest(name: string, fn: (dialect: Dialect) => Promise<void>): Promise<void> {
  const { test } = await import('node:test');
  for (const d of DIALECTS) {
    if (!SKIPS.has(d)) SKIPS.set(d, await dialectSkip(d));
    test(`${name} [${d}]`, { skip: SKIPS.get(d) }, () => fn(d));
  }
}
