/**
 * Migrations move stored data, not only tables: a store written before 0005/0006 (a row per
 * image finding, the SBOM in the images row) reads the same after them, and going down
 * restores the old shape with the same data. Both dialects.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { storeTest } from '../helpers/central.js';
import { freshDatabase } from '../helpers/postgres.js';
import { migrationProvider } from '../../src/central/store/migrations/index.js';
import { readImageFindings } from '../../src/central/store/image-findings.js';
import { readImageSbom } from '../../src/central/store/image-sboms.js';
import type { Database } from '../../src/central/store/schema.js';

const digest = `sha256:${'a'.repeat(64)}`;
const bare = `sha256:${'b'.repeat(64)}`;
const sbom = JSON.stringify({ bomFormat: 'CycloneDX', components: [{ type: 'library', name: 'zlib', version: '1.2' }] });
const finding = (fingerprint: string, kind: string) => ({ id: `ID-${fingerprint}`, fingerprint, kind, severity: 'HIGH', title: `t ${fingerprint}`, resource: { image: { digest } } });
const stored = [finding('f3', 'vulnerability'), finding('f1', 'vulnerability'), finding('f2', 'secret')];

await storeTest('0005 and 0006 move findings and SBOMs into their own documents, and back down', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migrations-'));
  const pgdb = dialect === 'postgres' ? await freshDatabase() : undefined;
  const db = new Kysely<any>({
    dialect: pgdb ? new PostgresDialect({ pool: new pg.Pool({ connectionString: pgdb.url, max: 2 }) }) : new SqliteDialect({ database: new BetterSqlite3(join(dir, 'central.db')) }),
  });
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'gatehouse_migration', migrationLockTableName: 'gatehouse_migration_lock' });
  try {
    assert.equal((await migrator.migrateTo('0004-deployments-by-risk-desc')).error, undefined);
    const image = (d: string, s: string | null) => ({ digest: d, refs: '[]', os: null, created: null, layers: '[]', sbom: s, signature: null, summary: '{}', db_version: null, scanned_at: null, first_seen: 't', last_seen: 't' });
    await db.insertInto('images').values([image(digest, sbom), image(bare, null)]).execute();
    await db.insertInto('image_findings').values(stored.map((f) => ({ image_digest: digest, fingerprint: f.fingerprint, finding_id: f.id, kind: f.kind, severity: f.severity, body: JSON.stringify(f) }))).execute();

    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const typed = db as unknown as Kysely<Database>;
    const docs = await readImageFindings(typed, digest);
    assert.deepEqual(docs.vulnerabilities, [stored[1], stored[0]], 'vulnerabilities, ordered by fingerprint');
    assert.deepEqual(docs.others, [stored[2]]);
    assert.deepEqual(await readImageFindings(typed, bare), { vulnerabilities: [], others: [] });
    assert.equal(await readImageSbom(typed, digest), sbom);
    assert.equal(await readImageSbom(typed, bare), undefined);
    const flags = await typed.selectFrom('images').select(['digest', 'has_sbom']).orderBy('digest').execute();
    assert.deepEqual(flags.map((r) => Number(r.has_sbom)), [1, 0]);

    assert.equal((await migrator.migrateTo('0004-deployments-by-risk-desc')).error, undefined);
    const rows = await db.selectFrom('image_findings').select(['fingerprint', 'kind', 'body']).orderBy('fingerprint').execute();
    assert.deepEqual(rows.map((r: { body: string }) => JSON.parse(r.body)), [stored[1], stored[2], stored[0]]);
    const images = await db.selectFrom('images').select(['digest', 'sbom']).orderBy('digest').execute();
    assert.deepEqual(images.map((r: { sbom: string | null }) => r.sbom), [sbom, null]);
  } finally {
    await db.destroy();
    await pgdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
