/**
 * Opens Central's store: embedded SQLite (better-sqlite3, WAL) in the data directory by
 * default, or PostgreSQL for `--database postgres://…`. Same schema and same queries on
 * both (Kysely); migrations run before anything else touches the store.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { UserError, describeError } from '../../util/errors.js';
import { migrationProvider } from './migrations/index.js';
import type { Database } from './schema.js';

export type StoreDialect = 'sqlite' | 'postgres';

export interface Store {
  db: Kysely<Database>;
  dialect: StoreDialect;
  /** Where it lives, without credentials, for messages. */
  location: string;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  /** Directory of the SQLite file (used when no database URL is given). */
  dataDir?: string;
  /** `postgres://…` / `postgresql://…`, or `sqlite:PATH`. */
  database?: string;
  /** PostgreSQL pool size. */
  maxConnections?: number;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const store = options.database && /^postgres(ql)?:\/\//.test(options.database)
    ? openPostgres(options.database, options.maxConnections ?? 10)
    : openSqlite(sqlitePath(options));
  try {
    await migrate(store.db);
  } catch (e) {
    await store.close();
    throw new UserError(`cannot prepare the store at ${store.location}: ${describeError(e)}`, 'store');
  }
  return store;
}

function sqlitePath(options: OpenStoreOptions): string {
  if (options.database) {
    const m = /^sqlite:(.+)$/.exec(options.database);
    if (!m) throw new UserError(`unsupported --database "${redactUrl(options.database)}": use postgres://… or sqlite:PATH`, 'usage');
    return m[1]!;
  }
  if (!options.dataDir) throw new UserError('no data directory for the embedded store', 'usage');
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  return join(options.dataDir, 'central.db');
}

function openSqlite(path: string): Store {
  let sqlite: BetterSqlite3.Database;
  try {
    sqlite = new BetterSqlite3(path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
  } catch (e) {
    throw new UserError(`cannot open the store ${path}: ${describeError(e)}`, 'store');
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, dialect: 'sqlite', location: path, close: () => db.destroy() };
}

/** Prepared statements kept, by SQL text: enough for every query shape Central runs. */
const STATEMENT_CACHE = 500;

/**
 * The database as Kysely's SQLite driver sees it (prepare and close), with prepared
 * statements reused by SQL text: the driver prepares every statement at every execution,
 * 6–8% of the main thread in the ingest and re-match profiles. Bounded, least recently used
 * out first; a statement still iterating (a streamed select) is not handed out twice.
 */
function withStatementCache(sqlite: BetterSqlite3.Database): { prepare(sql: string): BetterSqlite3.Statement; close(): void } {
  const cache = new Map<string, BetterSqlite3.Statement>();
  return {
    prepare(sql) {
      const hit = cache.get(sql);
      if (hit && !hit.busy) {
        cache.delete(sql);
        cache.set(sql, hit);
        return hit;
      }
      const stmt = sqlite.prepare(sql);
      if (!hit) {
        if (cache.size >= STATEMENT_CACHE) cache.delete(cache.keys().next().value!);
        cache.set(sql, stmt);
      }
      return stmt;
    },
    close: () => sqlite.close(),
  };
}

function openPostgres(url: string, max: number): Store {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client's error (server restart) must not crash Central; the next query reconnects.
  pool.on('error', () => undefined);
  // A checked-out client whose connection dies (a PostgreSQL restart) emits 'error' with no pool
  // listener: without this Node crashes; the query in flight still rejects.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', location: redactUrl(url), close: () => db.destroy() };
}

async function migrate(db: Kysely<Database>): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'gatehouse_migration', migrationLockTableName: 'gatehouse_migration_lock' });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`migration ${failed?.migrationName ?? '?'} failed: ${describeError(error)}`);
  }
}

/** A database URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
