/**
 * Build-stage image policies in Central: each stored image is evaluated by the one policy
 * engine (the `image` subject, from its stored facts) and its violations go through their
 * lifecycle (subject kind 'image', keyed by digest, stage 'build'). Runs after every image
 * push (by the pusher itself, or by the job below), after every re-match, and over every
 * image when the policies change.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import type { Package } from '../../inventory/package.js';
import { findViolations } from '../../policy/evaluate.js';
import { describeError } from '../../util/errors.js';
import type { CentralContext } from '../context.js';
import type { CentralJobTools } from '../jobs.js';
import type { CentralPolicies } from '../policies.js';
import { readAllImageFindings } from '../store/image-findings.js';
import { readImageSbom } from '../store/image-sboms.js';
import { fromJson } from '../store/json.js';
import type { Database } from '../store/schema.js';
import type { UpsertedImage } from '../store/images.js';
import { reconcileViolations } from '../store/violations.js';
import { packagesFromCycloneDx } from './sbom-packages.js';
import { storedImageFacts, type StoredImageRow } from './stored-facts.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Evaluates the image's build-stage policies from its facts and records the violations. */
export async function reconcileImagePolicies(
  db: Db, policies: Pick<CentralPolicies, 'set' | 'exceptions'>, row: StoredImageRow, packages: readonly Package[], findings: readonly Finding[], now: Date,
): Promise<{ violations: number; opened: number; resolved: number }> {
  const facts = storedImageFacts(row, packages, findings, now);
  const violations = findViolations({ kind: 'image', value: facts }, policies.set, 'build');
  const r = await reconcileViolations(db, { subjectKind: 'image', subjectKey: row.digest, stage: 'build', findings: violations }, policies.exceptions, now);
  return { violations: violations.length, ...r };
}

/** Evaluates one stored image (after a push), in one transaction. False when there is no such image. */
export async function evaluateStoredImage(ctx: Pick<CentralContext, 'db' | 'policies' | 'now'>, digest: string): Promise<boolean> {
  return ctx.db.transaction().execute((trx) => evaluateStoredImageIn(trx, ctx.policies, digest, ctx.now()));
}

/** evaluateStoredImage inside the caller's transaction. */
export async function evaluateStoredImageIn(db: Db, policies: Pick<CentralPolicies, 'set' | 'exceptions'>, digest: string, now: Date): Promise<boolean> {
  const row = await db.selectFrom('images').select(['digest', 'refs', 'os', 'created', 'layers', 'signature']).where('digest', '=', digest).executeTakeFirst();
  if (!row) return false;
  const findings = await readAllImageFindings(db, digest);
  const { packages } = packagesFromCycloneDx(fromJson(await readImageSbom(db, digest), null));
  await reconcileImagePolicies(db, policies, row, packages, findings, now);
  return true;
}

/**
 * Evaluates an image just stored by upsertImageReport from what the push carried (its
 * parsed SBOM and findings), so a push is not read back and parsed again; what the push
 * left out (an SBOM or findings from an earlier push) is read from the store.
 */
export async function evaluateUpsertedImage(
  db: Db, policies: Pick<CentralPolicies, 'set' | 'exceptions'>, sbom: unknown, upserted: UpsertedImage, now: Date,
): Promise<void> {
  const { row } = upserted;
  const findings = upserted.findings
    ?? await readAllImageFindings(db, row.digest);
  const { packages } = packagesFromCycloneDx(sbom ?? fromJson(await readImageSbom(db, row.digest), null));
  await reconcileImagePolicies(db, policies, row, packages, findings, now);
}

/** The second argument of ctx.events 'image' when the pusher already evaluated the image's policies. */
export const POLICIES_EVALUATED = Object.freeze({ policiesEvaluated: true as const });

/** Every stored image, page by page (bounded memory), one transaction each. */
export async function evaluateAllImages(ctx: Pick<CentralContext, 'db' | 'policies' | 'now'>, signal?: AbortSignal): Promise<number> {
  let after = '';
  let n = 0;
  for (;;) {
    const page = await ctx.db.selectFrom('images').select('digest').where('digest', '>', after).orderBy('digest').limit(500).execute();
    if (page.length === 0) return n;
    for (const { digest } of page) {
      if (signal?.aborted) return n;
      if (await evaluateStoredImage(ctx, digest)) n++;
    }
    after = page[page.length - 1]!.digest;
  }
}

/**
 * The job: evaluates an image after each push (ctx.events 'image', with its digest) and
 * every image after a policy change ('policies'). Work is serialized: one pass at a time.
 */
export const imagePolicyJob = async (ctx: CentralContext, signal: AbortSignal, tools: CentralJobTools): Promise<void> => {
  const pending = new Set<string>();
  let all = false;
  let wake: (() => void) | undefined;
  const kick = () => wake?.();
  const onImage = (digest: unknown, info?: unknown) => {
    if (info === POLICIES_EVALUATED) return;
    if (typeof digest === 'string') pending.add(digest);
    kick();
  };
  const onPolicies = () => {
    all = true;
    kick();
  };
  ctx.events.on('image', onImage);
  ctx.events.on('policies', onPolicies);
  signal.addEventListener('abort', kick, { once: true });
  try {
    while (!signal.aborted) {
      if (!all && pending.size === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      if (signal.aborted) break;
      try {
        if (all) {
          all = false;
          pending.clear();
          const n = await evaluateAllImages(ctx, signal);
          tools.log.info({ images: n }, 'image policies evaluated again after a policy change');
        } else {
          const digests = [...pending];
          pending.clear();
          for (const d of digests) await evaluateStoredImage(ctx, d);
        }
      } catch (e) {
        tools.log.warn({ err: describeError(e) }, 'image policy evaluation failed');
      }
    }
  } finally {
    ctx.events.off('image', onImage);
    ctx.events.off('policies', onPolicies);
  }
};
