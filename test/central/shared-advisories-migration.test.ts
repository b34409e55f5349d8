/**
 * Migration 0013: a store written by 0012 (every image's vulnerabilities as full findings)
 * upgrades with its findings preserved — read back equal through the store module — while
 * the text the images share is stored once; down restores the full documents. Both dialects.
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
import type { Database } from '../../src/central/store/schema.js';

const digests = [`sha256:${'a'.repeat(64)}`, `sha256:${'b'.repeat(64)}`];
/** A vulnerability finding as the matcher writes it (src/vuln/match.ts toFinding). */
const vuln = (digest: string, fingerprint: string, advisory: string, pkg: string, modified: string) => ({
  id: advisory, kind: 'vulnerability', severity: 'HIGH', title: `${advisory}: ${pkg} 1.0 — remote code execution`,
  resource: { image: { path: '/var/lib/dpkg/status', layer: 0, layerDigest: `sha256:${'1'.repeat(64)}`, digest } },
  remediation: `upgrade ${pkg} to 1.1`, references: [`https://security-tracker.debian.org/tracker/${advisory}`, 'https://example.org/advisory'],
  data: { package: pkg, ecosystem: 'Debian', purl: `pkg:deb/debian/${pkg}@1.0`, installedVersion: '1.0', matchedName: pkg, matchedVersion: '1.0', matchedEcosystem: 'Debian:bookworm', fixedVersion: '1.1', status: 'fixed', aliases: ['GHSA-xxxx-yyyy-zzzz'], cve: advisory, severitySource: 'debian', cvss: [{ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8 }], feed: 'debian-tracker', published: '2024-01-01T00:00:00Z', modified },
  detail: `A long description of ${advisory}, the same for every package it affects.`,
  fingerprint,
});
/** A finding that carries no advisory text (a hand-made push). */
const bare = (digest: string) => ({ id: 'CVE-2020-1', kind: 'vulnerability', severity: 'LOW', title: 'CVE-2020-1: zlib 1.2', resource: { image: { digest } }, fingerprint: 'f0' });
const secret = (digest: string) => ({ id: 'GH-SECRET-private-key', kind: 'secret', severity: 'HIGH', title: 'private key', resource: { image: { digest, path: '/key' } }, fingerprint: 's1' });

// Two images with the same findings (a fleet), the second with another modified time on one, and a finding of its own.
const stored = [
  [vuln(digests[0]!, 'f1', 'CVE-2024-1', 'apt', 'm1'), vuln(digests[0]!, 'f2', 'CVE-2024-1', 'bash', 'm1'), vuln(digests[0]!, 'f3', 'CVE-2024-2', 'apt', 'm1')],
  [bare(digests[1]!), vuln(digests[1]!, 'g1', 'CVE-2024-1', 'apt', 'm2'), vuln(digests[1]!, 'g2', 'CVE-2024-1', 'bash', 'm1'), vuln(digests[1]!, 'g3', 'CVE-2024-2', 'apt', 'm1')],
];

await storeTest('0013 stores the findings\' shared text once; a store written by 0012 reads the same after it, and back down', async (dialect) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-migration-0013-'));
  const pgdb = dialect === 'postgres' ? await freshDatabase() : undefined;
  const db = new Kysely<any>({
    dialect: pgdb ? new PostgresDialect({ pool: new pg.Pool({ connectionString: pgdb.url, max: 2 }) }) : new SqliteDialect({ database: new BetterSqlite3(join(dir, 'central.db')) }),
  });
  const migrator = new Migrator({ db, provider: migrationProvider, migrationTableName: 'gatehouse_migration', migrationLockTableName: 'gatehouse_migration_lock' });
  try {
    assert.equal((await migrator.migrateTo('0012-baselines')).error, undefined);
    for (const [i, digest] of digests.entries()) {
      await db.insertInto('images').values({ digest, refs: '[]', os: null, created: null, layers: '[]', has_sbom: 1, signature: null, summary: '{}', db_version: 'v1', scanned_at: null, first_seen: 't', last_seen: 't' }).execute();
      await db.insertInto('image_sboms').values({ digest, sbom: '{"bomFormat":"CycloneDX"}' }).execute();
      // As 0005 left them: sorted by fingerprint, full findings.
      await db.insertInto('image_finding_docs').values({ image_digest: digest, vulnerabilities: JSON.stringify(stored[i]), others: JSON.stringify([secret(digest)]), count: stored[i]!.length + 1 }).execute();
    }

    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const typed = db as unknown as Kysely<Database>;
    for (const [i, digest] of digests.entries()) {
      const read = await readImageFindings(typed, digest);
      assert.deepEqual(read.vulnerabilities, stored[i], `image ${i}: every finding as it was, in fingerprint order`);
      assert.deepEqual(read.others, [secret(digest)]);
    }
    // Shared once: CVE-2024-1 for apt is one body for both images (its modified time is the image's own), and one advisory text for both packages.
    const count = async (table: string) => Number(((await db.selectFrom(table).select((eb: any) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()) as { n: number | string }).n);
    assert.equal(await count('finding_texts'), 4, 'apt/CVE-2024-1, bash/CVE-2024-1, apt/CVE-2024-2 and the bare finding');
    assert.equal(await count('advisory_texts'), 2, 'CVE-2024-1 and CVE-2024-2');
    const doc = (await typed.selectFrom('image_finding_docs').select('vulnerabilities').where('image_digest', '=', digests[0]!).executeTakeFirstOrThrow()).vulnerabilities;
    assert.ok(!doc.includes('long description') && !doc.includes(digests[0]!), 'the image\'s own document holds neither the advisory text nor its digest');
    const hashes = await typed.selectFrom('image_sboms').select('packages_hash').execute();
    assert.deepEqual(hashes.map((r) => r.packages_hash), ['', ''], 'package list addresses are left for re-match to compute');

    assert.equal((await migrator.migrateTo('0012-baselines')).error, undefined);
    for (const [i, digest] of digests.entries()) {
      const row = (await db.selectFrom('image_finding_docs').select('vulnerabilities').where('image_digest', '=', digest).executeTakeFirstOrThrow()) as { vulnerabilities: string };
      assert.deepEqual(JSON.parse(row.vulnerabilities), stored[i], `image ${i}: full findings again after down`);
    }
    const tables = dialect === 'postgres'
      ? (await db.selectFrom('information_schema.tables' as any).select('table_name as name').where('table_name', 'in', ['finding_texts', 'advisory_texts']).execute())
      : (await db.selectFrom('sqlite_master' as any).select('name').where('name', 'in', ['finding_texts', 'advisory_texts']).execute());
    assert.deepEqual(tables, [], 'the shared-text tables are gone');
  } finally {
    await db.destroy();
    await pgdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
});

await storeTest('shared texts known stored in one store are still written to another store of the same process', async (dialect) => {
  // Addresses seen committed are remembered per store: a process with two stores (tests, the bench) must not skip a write to the second.
  const { openStore } = await import('../../src/central/store/open.js');
  const { markTextsStored, writeSharedTexts } = await import('../../src/central/store/shared-texts.js');
  const dirs = [mkdtempSync(join(tmpdir(), 'gatehouse-texts-a-')), mkdtempSync(join(tmpdir(), 'gatehouse-texts-b-'))];
  const pgdbs = dialect === 'postgres' ? [await freshDatabase(), await freshDatabase()] : [];
  const stores = await Promise.all(dirs.map((dataDir, i) => openStore({ dataDir, database: pgdbs[i]?.url })));
  try {
    const texts = { findings: { [`addr-${dialect}-1`]: '{"id":"a"}' }, advisories: { [`addr-${dialect}-2`]: '{"detail":"d"}' } };
    for (const store of stores) {
      await store.db.transaction().execute((trx) => writeSharedTexts(trx, texts));
      markTextsStored(store.db, texts);
    }
    for (const store of stores) {
      assert.deepEqual((await store.db.selectFrom('finding_texts').select('body').execute()).map((r) => r.body), ['{"id":"a"}']);
      assert.deepEqual((await store.db.selectFrom('advisory_texts').select('body').execute()).map((r) => r.body), ['{"detail":"d"}']);
    }
  } finally {
    for (const store of stores) await store.close();
    for (const p of pgdbs) await p.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});
