/** Placeholder registered ahead of its owner's work (session 4); replaced by the real migration. */
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<unknown>): Promise<void> {}
