/**
 * The anomaly model: novelty surprisal with back-off (see docs/notes/baseline-anomaly.md).
 *
 * Each feature is a chain of keys, most specific first (src/runtime/baseline/features.ts).
 * Its score is the information (bits) of seeing a *new* item where it was seen:
 *
 *   - the most specific key is in the baseline → 0 (known behaviour never scores);
 *   - else let j be the first level whose key is known (its context): the probability that
 *     this context produces something new is estimated with Witten–Bell escape,
 *         P_new(ctx) = (T(ctx) + 1) / (C(ctx) + T(ctx) + 1)
 *     (C = times the context was seen, T = distinct more specific items seen under it), so a
 *     binary run 5,000 times with one argument shape makes a new shape cost ~12 bits while a
 *     binary with many shapes makes it cheap; score = −log2 P_new(ctx) + 1 bit per further
 *     unknown level below the context;
 *   - if no level is known, the channel root is the context;
 *   - when the feature's class-level key (`priorLevel`: "a shell under this parent", "a mount
 *     by this executable", "a port never listened on", "this kind of secret") is unknown, the
 *     prior of the class is added (its risk: a binary in /tmp, a shell, a mount, a C2 port);
 *   - sequence items are capped below any threshold: supporting evidence, never an alert alone.
 *
 * Replica consensus: a novel item that k replicas of the workload show independently is less
 * suspect than one only a single replica shows (a rollout or a config change reaches every
 * replica; a compromise usually one): the score drops by 2·log2(k).
 */
import type { Baseline } from '../baseline/baseline.js';
import type { Feature } from '../baseline/features.js';

export interface FeatureScore {
  score: number;
  /** Index of the first known key, -1 when none is known (the channel root was used). */
  known: number;
  /** Count and distinct children of the context used. */
  contextCount: number;
  contextDistinct: number;
}

export const LEVEL_BITS = 1;

export function scoreFeature(b: Baseline, f: Feature): FeatureScore {
  const cc = b.channels.get(f.ch)!;
  const keys = f.keys;
  const c0 = cc.c.get(keys[0]!);
  if (c0 !== undefined && c0 > 0) return { score: 0, known: 0, contextCount: c0, contextDistinct: cc.t.get(keys[0]!) ?? 0 };
  const priorLevel = f.priorLevel ?? keys.length - 1;
  let known = -1;
  let c = cc.n;
  let t = cc.t.get('') ?? 0;
  for (let j = 1; j < keys.length; j++) {
    const cj = cc.c.get(keys[j]!);
    if (cj !== undefined && cj > 0) {
      known = j;
      c = cj;
      t = cc.t.get(keys[j]!) ?? 0;
      break;
    }
  }
  const unknownLevels = known === -1 ? keys.length - 1 : known - 1;
  let score = -Math.log2((t + 1) / (c + t + 1)) + unknownLevels * LEVEL_BITS;
  if (known === -1 || known > priorLevel) score += f.prior;
  if (f.cap !== undefined && score > f.cap) score = f.cap;
  return { score, known, contextCount: c, contextDistinct: t };
}

/** Score after replica consensus: k distinct replicas showed the same novel item. */
export function consensusScore(score: number, replicasShowing: number): number {
  return replicasShowing > 1 ? score - 2 * Math.log2(replicasShowing) : score;
}
