/**
 * An image worker (worker_threads): runs image-work.ts for the main thread, so matching and
 * policy evaluation use another core while the main thread serves the API and writes the
 * store. It keeps, between requests, the vulnerability DB it was last asked for (and its
 * FleetMatcher) and the compiled policy set of the version it was last sent.
 */
import { parentPort } from 'node:worker_threads';
import { compilePolicySet, type PolicySet } from '../../policy/evaluate.js';
import type { Policy } from '../../policy/types.js';
import { subjects } from '../../subjects/index.js';
import { describeError } from '../../util/errors.js';
import { vulnDbVersion } from './db-version.js';
import { VulnDb } from '../../vuln/db.js';
import { FleetMatcher } from './fleet-matcher.js';
import { computeImageViolations, computeRematch, type EvaluateInput, type RematchInput } from './image-work.js';
import { BadPush, dropPush, preparePush, pushViolations, supplyContent, transferablesOf, type PrepareResult, type Supply } from './push-work.js';
import type { StoredImageRow } from './stored-facts.js';

export type WorkJob =
  | { op: 'rematch'; db: { path: string; version: string }; input: RematchInput }
  | { op: 'evaluate'; input: EvaluateInput }
  | { op: 'prepare-push'; body: Uint8Array }
  | { op: 'supply'; token: number; supply: Supply }
  | { op: 'drop-push'; token: number }
  | { op: 'push-violations'; token: number; row: StoredImageRow; now: string };
/** A job, with the policies when the worker's are not the current version. */
export type WorkRequest = WorkJob & { id: number; policies?: { version: number; list: Policy[] } };
/** `badPush`: the error is the push's fault (a 400), not the worker's. */
export type WorkReply = { id: number; result: unknown } | { id: number; error: string; badPush?: boolean };

let policies: PolicySet | undefined;
let matcherFor: { path: string; version: string; db: VulnDb; matcher: FleetMatcher } | undefined;
const registry = subjects();

function matcher(path: string, version: string): FleetMatcher {
  if (matcherFor?.path === path && matcherFor.version === version) return matcherFor.matcher;
  matcherFor?.db.close();
  matcherFor = undefined;
  const db = VulnDb.open(path, { readonly: true });
  const found = vulnDbVersion(db);
  if (found !== version) {
    db.close();
    throw new Error(`the vulnerability DB at ${path} changed while re-matching (version ${found}, expected ${version})`);
  }
  matcherFor = { path, version, db, matcher: new FleetMatcher(db) };
  return matcherFor.matcher;
}

function run(req: WorkRequest, set: PolicySet): unknown {
  switch (req.op) {
    case 'rematch': return computeRematch(req.input, matcher(req.db.path, req.db.version), set);
    case 'evaluate': return computeImageViolations(req.input, set);
    case 'prepare-push': return preparePush(req.body);
    case 'supply': return supplyContent(req.token, req.supply);
    case 'drop-push': return dropPush(req.token);
    case 'push-violations': return pushViolations(req.token, req.row, req.now, set);
  }
}

parentPort!.on('message', (req: WorkRequest) => {
  try {
    if (req.policies) policies = compilePolicySet(req.policies.list, registry);
    if (!policies) throw new Error('no policies sent to the image worker');
    const result = run(req, policies);
    const transfer = req.op === 'prepare-push' || req.op === 'supply' ? transferablesOf(result as PrepareResult) : [];
    parentPort!.postMessage({ id: req.id, result } satisfies WorkReply, transfer);
  } catch (e) {
    parentPort!.postMessage({ id: req.id, error: describeError(e), ...(e instanceof BadPush ? { badPush: true } : {}) } satisfies WorkReply);
  }
});
