/**
 * The risk-ranked list orders by risk_score DESC, id ASC. The (risk_score, id) index walked
 * backwards gives id DESC within a score, so every page sorted each run of equal scores
 * (scores repeat a lot: thousands of deployments share one) in a temporary B-tree; a deep
 * page of 15,000 deployments cost ~20 ms on SQLite instead of ~1 ms (bench:central,
 * docs/notes/central-bench.md). An index in the list's own order replaces it. Portable DDL.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('deployments_by_risk_desc').on('deployments').expression(sql`risk_score desc, id`).execute();
  await db.schema.dropIndex('deployments_by_risk').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.createIndex('deployments_by_risk').on('deployments').columns(['risk_score', 'id']).execute();
  await db.schema.dropIndex('deployments_by_risk_desc').execute();
}
