/**
 * A service identity: what a workload is, beyond its name. Built from Central's inventory
 * (or a manifest and image reads) and used three ways: listed (`GET /api/v1/identities`,
 * `gatehouse identity list`), read by policies as the `connection` subject's `source.*`
 * fields, and named in the SPIFFE ID an SVID carries.
 */

/** Counts of vulnerabilities by severity (Finding severities). */
export interface VulnerabilityCounts {
  critical: number;
  high: number;
  medium: number;
  low: number;
  unknown: number;
}

/**
 * Signature status of an image: `verified` when a signature verified against the trust
 * policy, `unverified` when it was checked and none did, `unknown` when it was never checked.
 */
export type SignatureStatus = 'verified' | 'unverified' | 'unknown';

/** Where a build attribute was read (see provenance.ts for the keys of each). */
export type ProvenanceOrigin = 'image-annotation' | 'image-label' | 'pod-annotation' | 'pod-label' | 'container-label';

export interface BuildSource {
  /** Source commit (`org.opencontainers.image.revision` or an equivalent). */
  revision?: string;
  /** Source repository URL (`org.opencontainers.image.source` or an equivalent). */
  repository?: string;
  /** Branch the image was built from, when a key says so (see provenance.ts). */
  branch?: string;
  /** For each attribute found: the key and where it came from. */
  evidence: { attribute: 'revision' | 'repository' | 'branch'; key: string; origin: ProvenanceOrigin }[];
}

export interface ImageIdentity {
  /** The reference the workload runs. */
  ref: string;
  /** The container running it. */
  container?: string;
  /** Manifest digest (or image id on a plain host), when known. */
  digest?: string;
  signature: SignatureStatus;
  /** Signers of verified signatures (key names or identities). */
  signers: string[];
  /** Null when the image was never scanned. */
  vulnerabilities: VulnerabilityCounts | null;
  build: BuildSource;
}

export interface WorkloadRef {
  /** Cluster name (Kubernetes workloads). */
  cluster?: string;
  /** Host name (plain-host containers). */
  host?: string;
  namespace: string;
  kind: string;
  name: string;
}

export interface ServiceIdentity {
  /** Central's deployment id, for identities listed by Central. */
  id?: string;
  workload: WorkloadRef;
  /** The pod's service account (Kubernetes; `default` when the spec names none). */
  serviceAccount?: string;
  /** The SPIFFE ID an SVID of this workload carries (spiffe.ts), when one can be formed. */
  spiffeId?: string;
  labels: Record<string, string>;
  images: ImageIdentity[];
  /** Over every image: `verified` only when all are, `unverified` when one is, else `unknown`. */
  signature: SignatureStatus;
  signers: string[];
  /** Summed over the scanned images; null when none was scanned. */
  vulnerabilities: VulnerabilityCounts | null;
  /** Whether every image was scanned. */
  scanned: boolean;
  /** The build of the workload's first (non-init) container's image. */
  build: BuildSource;
}
