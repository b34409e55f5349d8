/**
 * The PostgreSQL test helper against the real server: a fresh database is empty, private
 * to its caller, usable, and gone after drop() even with a connection still open to it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { postgresTestUrl } from '../helpers/components.js';
import { freshDatabase, postgresSkip } from '../helpers/postgres.js';

async function databaseExists(name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: postgresTestUrl() });
  await admin.connect();
  try {
    const res = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return res.rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('freshDatabase', { skip: await postgresSkip() }, () => {
  test('creates a database of its own that can be used, then drops it', async () => {
    const db = await freshDatabase();
    const other = await freshDatabase();
    const client = new pg.Client({ connectionString: db.url });
    try {
      assert.notEqual(db.name, other.name);
      assert.equal(new URL(db.url).pathname, `/${db.name}`);
      await client.connect();
      const version = await client.query<{ server_version_num: string }>('SHOW server_version_num');
      assert.match(version.rows[0]?.server_version_num ?? '', /^15\d{4}$/, 'PostgreSQL 15');
      const current = await client.query<{ db: string }>('SELECT current_database() AS db');
      assert.equal(current.rows[0]?.db, db.name);
      const tables = await client.query("SELECT 1 FROM information_schema.tables WHERE table_schema = 'public'");
      assert.equal(tables.rowCount, 0, 'a fresh database is empty');
      await client.query('CREATE TABLE image (digest text PRIMARY KEY, seen timestamptz NOT NULL DEFAULT now())');
      await client.query('INSERT INTO image (digest) VALUES ($1), ($2)', ['sha256:aa', 'sha256:bb']);
      const rows = await client.query<{ digest: string }>('SELECT digest FROM image ORDER BY digest');
      assert.deepEqual(rows.rows.map((r) => r.digest), ['sha256:aa', 'sha256:bb']);

      // The client above is still connected: drop() must not wait for it or fail.
      client.on('error', () => undefined);
      await db.drop();
      assert.equal(await databaseExists(db.name), false);
      assert.equal(await databaseExists(other.name), true);
      await db.drop(); // twice is harmless

      const late = new pg.Client({ connectionString: db.url });
      await assert.rejects(late.connect(), (e: Error & { code?: string }) => e.code === '3D000');
    } finally {
      await client.end().catch(() => undefined);
      await other.drop();
    }
    assert.equal(await databaseExists(other.name), false);
  });
});
