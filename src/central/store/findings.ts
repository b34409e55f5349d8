/** Findings not about one image (k8s check, registry audit…): each report replaces the previous one of its source and target. */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { chunks, toJson } from './json.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Replaces the findings of one source and target (one report), keeping each one's first-seen time. */
export async function replaceFindings(trx: Db, source: string, target: string, list: Finding[], at: string): Promise<Finding[]> {
  const findings = [...new Map(list.map((f) => withFingerprint(f)).map((f) => [f.fingerprint, f])).values()];
  const firstSeen = new Map((await trx.selectFrom('findings').select(['fingerprint', 'first_seen']).where('source', '=', source).where('target', '=', target).execute()).map((r) => [r.fingerprint, r.first_seen]));
  await trx.deleteFrom('findings').where('source', '=', source).where('target', '=', target).execute();
  for (const part of chunks(findings, 300)) {
    await trx.insertInto('findings').values(part.map((f) => ({
      source, target, fingerprint: f.fingerprint!, finding_id: f.id, kind: f.kind, severity: f.severity, body: toJson(f),
      first_seen: firstSeen.get(f.fingerprint!) ?? at, last_seen: at,
    }))).execute();
  }
  return findings;
}
