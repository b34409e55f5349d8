/** Behavioural baselines kept by Central (issue 19). Placeholder: filled in by the baselines work. */
import type { Kysely } from 'kysely';

export async function up(_db: Kysely<unknown>): Promise<void> {
  // intentionally empty until the baselines table lands
}
