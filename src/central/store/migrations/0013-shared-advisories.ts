/** Advisory text stored once, shared by image findings (issue 16 ingest/re-match cost). Placeholder. */
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<unknown>): Promise<void> {
  // intentionally empty until the shared-advisory change lands
}
