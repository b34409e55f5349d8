/**
 * Migration 0015 (SBOM component lists stored once by address): SBOMs written split read back
 * as the text pushed; going down to 0014 puts every list back into its SBOM (the old shape,
 * the same text), and an SBOM stored whole before 0015 is untouched either way. Both dialects.
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
import { readImageSbom, splitSbom, writeImageSbom } from '../../src/central/store/image-sboms.js';
import type { Database } from '../../src/central/store/schema.js';

const sbomOf = (n: number, list: number) => ({
  bomFormat: 'CycloneDX', specVersion: '1.6', serialNumber: `urn:uuid:${n}`, metadata: { timestamp: `2026-12-0${n}T00:00:00Z` },
  components: [{ type: 'library', name: `zlib-${list}`, version: '1.2', purl: `pkg:deb/debian/zlib-${list}@1.2` }, { type: 'library', name: 'openssl', version: '3.0' }],
  dependencies: [{ ref: 'x' }],
});
const digest = (n: number) => `sha256:${String(n).repeat(64)}`;

await storeTest('0015 stores SBOM component lists once and puts them back on the way down', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migration-0015-'));
  const pgdb = dialect === 'postgres' ? await freshDatabase() : undefined;
  const db = new Kysely<any>({
    dialect: pgdb ? new PostgresDialect({ pool: new pg.Pool({ connectionString: pgdb.url, max: 2 }) }) : new SqliteDialect({ database: new BetterSqlite3(join(dir, 'central.db')) }),
  });
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'gatehouse_migration', migrationLockTableName: 'gatehouse_migration_lock' });
  const typed = db as unknown as Kysely<Database>;
  try {
    assert.equal((await migrator.migrateTo('0014-registry-watch-tags')).error, undefined);
    // Stored whole before 0015.
    await db.insertInto('image_sboms').values({ digest: digest(1), sbom: JSON.stringify(sbomOf(1, 0)), packages_hash: '' }).execute();
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    // Three SBOMs over two lists, written split.
    for (const [n, list] of [[2, 0], [3, 1], [4, 0]] as const) await writeImageSbom(typed, digest(n), splitSbom(sbomOf(n, list)));
    assert.equal(Number((await db.selectFrom('sbom_component_lists').select(db.fn.countAll().as('n')).executeTakeFirst())!.n), 2, 'each list once');
    const envelope = (await db.selectFrom('image_sboms').select('sbom').where('digest', '=', digest(2)).executeTakeFirst())!.sbom as string;
    assert.ok(!envelope.includes('zlib'), 'the row holds the envelope only');
    for (const [n, list] of [[1, 0], [2, 0], [3, 1], [4, 0]] as const) assert.equal(await readImageSbom(typed, digest(n)), JSON.stringify(sbomOf(n, list)));

    assert.equal((await migrator.migrateTo('0014-registry-watch-tags')).error, undefined);
    const rows = await db.selectFrom('image_sboms').select(['digest', 'sbom']).orderBy('digest').execute();
    assert.deepEqual(rows.map((r: { sbom: string }) => r.sbom), [[1, 0], [2, 0], [3, 1], [4, 0]].map(([n, list]) => JSON.stringify(sbomOf(n!, list!))));
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    assert.equal(await readImageSbom(typed, digest(3)), JSON.stringify(sbomOf(3, 1)), 'whole rows read the same after going up again');
  } finally {
    await db.destroy();
    await pgdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});
