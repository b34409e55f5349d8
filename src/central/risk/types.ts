/**
 * Shapes of deployment risk scoring: what a deployment brings (its workload, images,
 * runtime counts), what a factor returns, and the explained score.
 */
import type { PreparedCluster, ClusterObjects } from './cluster.js';
import type { NormalizedWorkload } from './workload.js';

export interface SeverityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
}

export interface ImageVulnCounts extends SeverityCounts {
  /** Vulnerabilities with a fixed version available. */
  fixable: number;
  /**
   * Vulnerabilities known to be exploited in the wild (CISA KEV and the like). The
   * vulnerability DB (src/vuln) does not record this yet; the caller passes what it knows.
   */
  knownExploited: number;
}

export interface ImageRiskInput {
  digest: string;
  /** Reference the workload names it by, for messages (the digest when absent). */
  name?: string;
  /** Image creation time (ISO 8601), from its config. */
  created?: string;
  /** undefined: not verified; false: verified and no valid signature. */
  signed?: boolean;
  /** Secrets found in the image's filesystem. */
  secrets?: number;
  vulns?: Partial<ImageVulnCounts>;
}

export interface RuntimeRiskInput {
  /** Open runtime alerts by severity. */
  alerts?: Partial<SeverityCounts>;
  /** Open incidents the deployment is part of. */
  incidents?: number;
}

export interface DeploymentRiskInput {
  /** A Kubernetes workload object (Deployment, DaemonSet, Pod, …) or a container inspect JSON (Docker/podman). */
  workload: unknown;
  images?: ImageRiskInput[];
  /** The cluster's prepared index (prepareCluster), or its raw objects (prepared on the spot: slow for many deployments). */
  cluster?: PreparedCluster | ClusterObjects;
  runtime?: RuntimeRiskInput;
  /** Clock for image age (tests); default now. */
  now?: Date;
}

/** What a factor sees: the normalized workload and everything around it. */
export interface FactorContext {
  workload: NormalizedWorkload;
  images: readonly ImageRiskInput[];
  cluster: PreparedCluster;
  runtime: RuntimeRiskInput;
  now: Date;
}

/** A factor's raw finding: points (0 = nothing to say) and why. */
export interface FactorResult {
  /** Multiplier ≥ 1 (1 = no added risk). */
  score: number;
  details: string[];
}

export interface RiskFactor {
  name: string;
  evaluate(ctx: FactorContext): FactorResult;
}

export interface ScoredFactor {
  name: string;
  /** The factor's multiplier, ≥ 1. */
  score: number;
  /** Its share of the overall score: ln(score) / ln(overall); the shares sum to 1 (0 when the overall is 1). */
  contribution: number;
  details: string[];
}

export interface RiskScore {
  /** The product of the factors' multipliers, ≥ 1. */
  score: number;
  /** Every factor, highest contribution first. */
  factors: ScoredFactor[];
}
