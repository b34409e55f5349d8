/**
 * The violation lifecycle: active while a policy is violated, resolved when it no longer
 * is, excepted while an unexpired exception covers it. An exception that expires (or is
 * deleted) re-opens its violation. A violation's id is its finding's fingerprint, so the
 * same problem on the same object stays one row across evaluations.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { exceptionMatches, expiryTime } from '../../policy/exceptions.js';
import type { StoredException } from './exceptions.js';
import { chunks, fromJson, toJson } from './json.js';
import type { Database, ViolationState, ViolationsTable } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** The exception covering a violation now, if any. */
export function coveringException(f: Finding, exceptions: readonly StoredException[], now: Date): StoredException | undefined {
  const t = now.getTime();
  return exceptions.find((e) => expiryTime(e) >= t && exceptionMatches(e, f));
}

export interface SubjectViolations {
  subjectKind: string;
  subjectKey: string;
  stage: string;
  /** Every violation found now (before exceptions). */
  findings: Finding[];
}

/** Records one subject's current violations; earlier ones of that subject and stage that are gone become resolved. */
export async function reconcileViolations(db: Db, s: SubjectViolations, exceptions: readonly StoredException[], now: Date): Promise<{ opened: number; resolved: number }> {
  return reconcileManyViolations(db, [s], exceptions, now);
}

/**
 * reconcileViolations for several subjects of one kind and stage in a few statements: their
 * open rows read with one select, rows seen again touched with one update, new ones inserted
 * together. The live evaluator writes 25 deployments a transaction; one at a time that was
 * three round trips a deployment on PostgreSQL (45,000 for a start-up pass at 15,000).
 */
export async function reconcileManyViolations(db: Db, subjects: readonly SubjectViolations[], exceptions: readonly StoredException[], now: Date): Promise<{ opened: number; resolved: number }> {
  if (subjects.length === 0) return { opened: 0, resolved: 0 };
  const { subjectKind, stage } = subjects[0]!;
  if (subjects.some((s) => s.subjectKind !== subjectKind || s.stage !== stage)) throw new Error('reconcileManyViolations: subjects of one kind and stage only');
  if (new Set(subjects.map((s) => s.subjectKey)).size < subjects.length) {
    // A subject twice: the second must see the first's rows, as two calls would.
    const total = { opened: 0, resolved: 0 };
    for (const s of subjects) {
      const r = await reconcileManyViolations(db, [s], exceptions, now);
      total.opened += r.opened;
      total.resolved += r.resolved;
    }
    return total;
  }
  const at = now.toISOString();
  type Existing = Pick<ViolationsTable, 'id' | 'subject_key' | 'state' | 'first_seen' | 'exception_id' | 'severity' | 'title' | 'body'>;
  const existingOf = new Map<string, Map<string, Existing>>();
  for (const part of chunks([...new Set(subjects.map((s) => s.subjectKey))], 500)) {
    const rows = await db.selectFrom('violations').select(['id', 'subject_key', 'state', 'first_seen', 'exception_id', 'severity', 'title', 'body'])
      .where('subject_kind', '=', subjectKind).where('stage', '=', stage).where('subject_key', 'in', part).execute();
    for (const r of rows) {
      let m = existingOf.get(r.subject_key);
      if (!m) existingOf.set(r.subject_key, (m = new Map()));
      m.set(r.id, r);
    }
  }
  let opened = 0;
  const inserts: ViolationsTable[] = [];
  /** Rows that only need their last-seen time moved: one UPDATE for all of them. */
  const unchanged: string[] = [];
  const gone: string[] = [];
  for (const s of subjects) {
    const existing = existingOf.get(s.subjectKey) ?? new Map<string, Existing>();
    const current = new Map<string, Finding>();
    for (const f of s.findings) {
      const withFp = f.fingerprint ? f : withFingerprint(f);
      current.set(withFp.fingerprint!, withFp);
    }
    for (const [id, f] of current) {
      const exception = coveringException(f, exceptions, now);
      const state: ViolationState = exception ? 'excepted' : 'active';
      const old = existing.get(id);
      const row: ViolationsTable = {
        id, policy_id: f.policy?.id ?? f.id, stage: s.stage, subject_kind: s.subjectKind, subject_key: s.subjectKey,
        severity: f.severity, title: f.title, body: toJson(f), state, exception_id: exception?.id ?? null,
        first_seen: old?.first_seen ?? at, last_seen: at, resolved_at: null,
      };
      if (old) {
        if (old.state === row.state && old.exception_id === row.exception_id && old.severity === row.severity && old.title === row.title && old.body === row.body) {
          unchanged.push(id);
          continue;
        }
        const { id: _id, first_seen: _f, ...changes } = row;
        await db.updateTable('violations').set(changes).where('id', '=', id).execute();
        if (old.state === 'resolved') opened++;
      } else {
        inserts.push(row);
        opened++;
      }
    }
    for (const r of existing.values()) if (r.state !== 'resolved' && !current.has(r.id)) gone.push(r.id);
  }
  for (const part of chunks(inserts, 200)) await db.insertInto('violations').values(part).execute();
  for (const part of chunks(unchanged, 500)) await db.updateTable('violations').set({ last_seen: at }).where('id', 'in', part).execute();
  for (const part of chunks(gone, 500)) await db.updateTable('violations').set({ state: 'resolved', resolved_at: at, exception_id: null }).where('id', 'in', part).execute();
  return { opened, resolved: gone.length };
}

/** Marks a subject gone (object deleted): all its open violations resolve. */
export async function resolveSubject(db: Db, subjectKind: string, subjectKey: string, now: Date): Promise<void> {
  await db.updateTable('violations').set({ state: 'resolved', resolved_at: now.toISOString(), exception_id: null })
    .where('subject_kind', '=', subjectKind).where('subject_key', '=', subjectKey).where('state', '!=', 'resolved').execute();
}

/**
 * Re-applies the exceptions to every open violation (after an exception is created,
 * deleted or expires): covered ones become excepted, uncovered ones active again.
 */
export async function refreshExceptionStates(db: Kysely<Database>, exceptions: readonly StoredException[], now: Date): Promise<{ changed: number }> {
  let changed = 0;
  let after = '';
  for (;;) {
    const rows = await db.selectFrom('violations').select(['id', 'body', 'state', 'exception_id']).where('state', '!=', 'resolved').where('id', '>', after).orderBy('id').limit(2000).execute();
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    await db.transaction().execute(async (trx) => {
      for (const r of rows) {
        const e = coveringException(fromJson<Finding>(r.body, null as unknown as Finding), exceptions, now);
        const state: ViolationState = e ? 'excepted' : 'active';
        if (state === r.state && (e?.id ?? null) === r.exception_id) continue;
        await trx.updateTable('violations').set({ state, exception_id: e?.id ?? null }).where('id', '=', r.id).execute();
        changed++;
      }
    });
  }
  return { changed };
}
