/**
 * Explainable risk ranking of deployments, after StackRox's risk view: each factor turns
 * what it finds into a multiplier ≥ 1 with the reasons, and the deployment's score is their
 * product. A factor's contribution is its share of the score on a log scale
 * (ln factor / ln score), so the contributions add up to 1 and the list explains the score.
 *
 * For many deployments, prepare each cluster once (prepareCluster) and pass the result as
 * `cluster`; scoreDeployment itself then does no cluster-wide work.
 */
import type { RbacRisk } from '../../kube/rbac/risks.js';
import { UserError } from '../../util/errors.js';
import { NO_CLUSTER, prepareCluster, type ClusterObjects, type PreparedCluster } from './cluster.js';
import { RISK_FACTORS } from './factors.js';
import type { DeploymentRiskInput, FactorContext, RiskFactor, RiskScore, ScoredFactor } from './types.js';
import { normalizeWorkload } from './workload.js';

export { prepareCluster, NO_CLUSTER, type ClusterObjects, type PreparedCluster, type PrepareOptions, type ServiceAccountRight } from './cluster.js';
export { normalizeWorkload, fromKubernetes, fromContainerInspect, type NormalizedWorkload, type NormalizedContainer } from './workload.js';
export { RISK_FACTORS } from './factors.js';
export type * from './types.js';

const isPrepared = (c: PreparedCluster | ClusterObjects): c is PreparedCluster => typeof (c as PreparedCluster).serviceAccountRights === 'function';

function clusterOf(input: DeploymentRiskInput, rbacRisks: readonly RbacRisk[] | undefined): PreparedCluster {
  const c = input.cluster;
  if (!c) return NO_CLUSTER;
  if (isPrepared(c)) return c;
  const hasRbac = [c.roles, c.clusterRoles, c.roleBindings, c.clusterRoleBindings].some((l) => (l?.length ?? 0) > 0);
  if (hasRbac && !rbacRisks) throw new UserError('risk: cluster objects with RBAC need the RBAC risk catalog (rbacRisks: await loadRbacRisks())', 'bad-input');
  return prepareCluster(c, { rbacRisks: rbacRisks ?? [] });
}

export interface ScoreOptions {
  /** The RBAC risk catalog, when `cluster` holds raw objects rather than a prepared cluster. */
  rbacRisks?: readonly RbacRisk[];
  /** Factors to apply (default RISK_FACTORS). */
  factors?: readonly RiskFactor[];
}

export function scoreDeployment(input: DeploymentRiskInput, opts: ScoreOptions = {}): RiskScore {
  const ctx: FactorContext = {
    workload: normalizeWorkload(input.workload),
    images: input.images ?? [],
    cluster: clusterOf(input, opts.rbacRisks),
    runtime: input.runtime ?? {},
    now: input.now ?? new Date(),
  };
  const results = (opts.factors ?? RISK_FACTORS).map((f) => ({ name: f.name, ...f.evaluate(ctx) }));
  const score = results.reduce((p, r) => p * r.score, 1);
  const total = Math.log(score);
  const factors: ScoredFactor[] = results.map((r) => ({
    name: r.name,
    score: r.score,
    contribution: total > 0 ? Math.log(r.score) / total : 0,
    details: r.details,
  }));
  // Highest share first; equal shares keep the registration order (sort is stable).
  factors.sort((a, b) => b.contribution - a.contribution);
  return { score, factors };
}
