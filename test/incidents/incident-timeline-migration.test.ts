/**
 * Migration 0016 splits stored incidents into heads and timeline rows: incidents stored whole
 * before it (the correlator's, from generated inputs, some with empty-looking fields) read back
 * the same after it, list and by id, key order included; going down puts every body back as it
 * was. Both dialects.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { getIncident, listIncidents } from '../../src/central/store/incidents.js';
import { migrationProvider } from '../../src/central/store/migrations/index.js';
import type { Database } from '../../src/central/store/schema.js';
import { IncidentCorrelator, type Incident } from '../../src/runtime/incidents/index.js';
import { storeTest } from '../helpers/central.js';
import { freshDatabase } from '../helpers/postgres.js';
import { T0, inputs } from './generated-inputs.js';

await storeTest('0016 splits incidents into heads and timeline rows and puts them back on the way down', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migration-0016-'));
  const pgdb = dialect === 'postgres' ? await freshDatabase() : undefined;
  const db = new Kysely<any>({
    dialect: pgdb ? new PostgresDialect({ pool: new pg.Pool({ connectionString: pgdb.url, max: 2 }) }) : new SqliteDialect({ database: new BetterSqlite3(join(dir, 'central.db')) }),
  });
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'gatehouse_migration', migrationLockTableName: 'gatehouse_migration_lock' });
  const typed = db as unknown as Kysely<Database>;
  try {
    const eng = new IncidentCorrelator({ maxTimeline: 40, now: () => new Date(T0 + 3_600_000) });
    // Each incident's last state, open or closed (merged ones dropped), as the store would hold them.
    const last = new Map<string, Incident>();
    for (const i of inputs(3, 1500, 60, 12)) {
      const c = eng.ingest(i);
      for (const id of c.removed) last.delete(id);
      for (const u of c.updated) last.set(u.id, u);
    }
    const incidents = [...last.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    assert.ok(incidents.length > 20 && incidents.some((i) => i.state === 'closed'), `incidents: ${incidents.length}`);
    assert.equal((await migrator.migrateTo('0015-sbom-component-lists')).error, undefined);
    // Stored whole, as before 0016.
    for (const i of incidents) {
      await db.insertInto('incidents').values({
        id: i.id, state: i.state, severity: i.severity, stage: i.stage, title: i.title.slice(0, 1000), first_seen: i.firstSeen, last_seen: i.lastSeen,
        closed_at: i.closedAt ?? null, signals: i.signals, body: JSON.stringify(i), updated_at: '2026-12-08T00:00:00.000Z',
      }).execute();
    }
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const head = (await db.selectFrom('incidents').select('body').where('id', '=', incidents[0]!.id).executeTakeFirst())!.body as string;
    assert.ok(head.includes('"timeline":[]'), 'the row holds the head');
    for (const i of incidents) assert.equal(JSON.stringify(await getIncident(typed, i.id)), JSON.stringify(i));
    const all = await listIncidents(typed, { limit: 10_000, dialect });
    assert.equal(JSON.stringify([...all.items].sort((a, b) => (a.id < b.id ? -1 : 1))), JSON.stringify(incidents));

    assert.equal((await migrator.migrateTo('0015-sbom-component-lists')).error, undefined);
    const rows = await db.selectFrom('incidents').select(['id', 'body']).orderBy('id').execute();
    assert.deepEqual(rows.map((r: { body: string }) => r.body), incidents.map((i) => JSON.stringify(i)));
  } finally {
    await db.destroy();
    await pgdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
