/**
 * An image's findings become two JSON documents in one row (its vulnerabilities, its other
 * findings) instead of one row per finding. Every reader wants all of an image's
 * findings at once, and a row per finding cost ~120 inserts, a long two-column primary key
 * and ~1 KB of uncompressed JSON each per image — the writes that bounded ingest and re-match
 * (docs/notes/central-bench.md). Existing rows are copied over. The encoding is frozen here
 * (a JSON array sorted by fingerprint) so later changes to the store module cannot change
 * what this migration writes. Not compressed: deflate at level 1 cost ~4× the JSON
 * serialization it would save writing (measured on bench:central's findings).
 */
import type { Kysely } from 'kysely';

const encode = (list: { fingerprint: string }[]) => JSON.stringify([...list].sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0)));

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('image_finding_docs')
    .addColumn('image_digest', 'text', (c) => c.primaryKey())
    .addColumn('vulnerabilities', 'text', (c) => c.notNull())
    .addColumn('others', 'text', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .execute();
  let after = '';
  for (;;) {
    const digests = (await db.selectFrom('image_findings').select('image_digest').distinct().where('image_digest', '>', after).orderBy('image_digest').limit(200).execute()) as { image_digest: string }[];
    if (digests.length === 0) break;
    for (const { image_digest } of digests) {
      const rows = (await db.selectFrom('image_findings').select(['kind', 'body']).where('image_digest', '=', image_digest).execute()) as { kind: string; body: string }[];
      const parsed = rows.map((r) => ({ kind: r.kind, f: JSON.parse(r.body) as { fingerprint: string } }));
      await db.insertInto('image_finding_docs').values({
        image_digest,
        vulnerabilities: encode(parsed.filter((p) => p.kind === 'vulnerability').map((p) => p.f)),
        others: encode(parsed.filter((p) => p.kind !== 'vulnerability').map((p) => p.f)),
        count: parsed.length,
      }).execute();
    }
    after = digests[digests.length - 1]!.image_digest;
  }
  await db.schema.dropTable('image_findings').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('image_findings')
    .addColumn('image_digest', 'text', (c) => c.notNull())
    .addColumn('fingerprint', 'text', (c) => c.notNull())
    .addColumn('finding_id', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('severity', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('image_findings_pk', ['image_digest', 'fingerprint'])
    .execute();
  const docs = (await db.selectFrom('image_finding_docs').selectAll().execute()) as { image_digest: string; vulnerabilities: string; others: string }[];
  for (const d of docs) {
    for (const doc of [d.vulnerabilities, d.others]) {
      const list = JSON.parse(doc) as { fingerprint: string; id: string; kind: string; severity: string }[];
      for (const f of list) await db.insertInto('image_findings').values({ image_digest: d.image_digest, fingerprint: f.fingerprint, finding_id: f.id, kind: f.kind, severity: f.severity, body: JSON.stringify(f) }).execute();
    }
  }
  await db.schema.dropTable('image_finding_docs').execute();
}
