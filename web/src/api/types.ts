/** The shapes the console reads from Central's API (src/central/api/*.ts). */
export type Severity = 'UNKNOWN' | 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';
export const SEVERITIES: Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'];
export const STAGES = ['build', 'deploy', 'runtime'] as const;

/** One factor of a deployment's risk: its multiplier (≥ 1) and its share of the overall score (0…1). */
export interface RiskFactor { name: string; score: number; contribution: number; details: string[] }

export interface Deployment {
  id: string; cluster: string | null; host: string | null; namespace: string | null; kind: string; name: string;
  labels: Record<string, string>; images: string[]; riskScore: number; riskFactors: RiskFactor[];
  firstSeen: string; lastSeen: string; deletedAt: string | null;
}

export interface Violation {
  id: string; policyId: string; stage: string; subjectKind: string; subject: string; severity: Severity; title: string;
  state: 'active' | 'resolved' | 'excepted'; exceptionId: string | null; firstSeen: string; lastSeen: string; resolvedAt: string | null;
  finding: Finding | null;
}

export interface DeploymentDetail extends Omit<Deployment, 'images'> {
  violations: Violation[];
  images: { ref: string; digest: string | null; summary: ImageSummary | null; signature: Signature | null }[];
  alerts: { id: string; time: string; rule: string; severity: Severity }[];
}

/** Findings counted by kind (vulnerability, secret, hygiene, …), then by severity. */
export interface ImageSummary { counts: Record<string, Partial<Record<Severity, number>> | undefined>; fixable: number; knownExploited: number }

/** How many vulnerabilities of `severity` an image has. */
export const vulnCount = (s: ImageSummary | null | undefined, severity: Severity): number => s?.counts.vulnerability?.[severity] ?? 0;
export interface Signature { verified?: boolean; signers?: string[]; message?: string; [k: string]: unknown }

export interface Image {
  digest: string; refs: string[]; os: { family: string; version?: string } | null; created: string | null;
  summary: ImageSummary; signature: Signature | null; dbVersion: string | null; scannedAt: string | null; firstSeen: string; lastSeen: string;
}

export interface Finding {
  id: string; fingerprint?: string; kind: string; severity: Severity; title: string; detail?: string;
  resource: { image?: { ref?: string; digest?: string; layer?: number; layerDigest?: string; path?: string }; k8s?: { kind: string; namespace?: string; name: string; container?: string } };
  policy?: { id: string; name?: string };
  remediation?: string; references?: string[]; data?: Record<string, unknown>;
}

export interface ImageDetail extends Image {
  layers: { digest?: string; diffId?: string; size?: number; createdBy?: string; [k: string]: unknown }[];
  components: { name: string; version?: string; purl?: string; type?: string; layer?: string }[];
  vulnerabilities: Finding[];
  findings: Finding[];
  violations: { id: string; policyId: string; state: string; severity: Severity; title: string }[];
}

export interface Source { id: string; name: string; kind: 'cluster' | 'host'; state: string; message: string | null; firstSeen: string; lastSeen: string; deployments: number }
export interface TokenInfo { id: string; name: string; role: string; createdAt: string; createdBy: string | null; expiresAt: string | null; revokedAt: string | null; lastUsedAt: string | null }

/** `GET /api/v1/summary`: exact counts for the dashboard. */
export interface SummaryCounts {
  generatedAt: string;
  violations: { total: number; active: number; byState: Record<string, number>; bySeverity: Record<string, number>; byStage: Record<string, number>; cells: { severity: string; stage: string; state: string; count: number }[] };
  deployments: { total: number; bySource: Record<string, number> };
  images: { total: number; scanned: number; withSbom: number; signed: number };
  clusters: { total: number; up: number; byState: Record<string, number> };
  hosts: { total: number; up: number; byState: Record<string, number> };
  sensors: { windowMinutes: number; since: string; up: number; clustersUp: number; hostsUp: number; known: number; lastEventAt: string | null };
  vulnDb: {
    present: boolean; version: string | null; updatedAt: string | null; ageSeconds: number | null; advisories: number | null; error: string | null;
    imagesCurrent: number; imagesStale: number; sources: { name: string; updatedAt: string; advisories: number }[];
  };
}

/** A correlated incident (src/runtime/incidents/types.ts, `GET /api/v1/incidents[/{id}]`). */
export type IncidentLayer = 'api' | 'runtime' | 'network' | 'admission';
export interface IncidentTimelineEntry {
  time: string; layer: IncidentLayer; kind: 'alert' | 'denial' | 'audit' | 'flow'; ref: string; title: string; severity: Severity;
  host?: string; workload?: string; reason: string; techniques: string[];
}
export interface Incident {
  id: string; state: 'open' | 'closed'; title: string; severity: Severity; stage: string;
  tactics: { id: string; name: string }[]; techniques: { id: string; name: string }[];
  hosts: string[]; workloads: string[]; layers: IncidentLayer[];
  firstSeen: string; lastSeen: string; closedAt?: string;
  timeline: IncidentTimelineEntry[]; timelineDropped: number; signals: number;
  /** Evidence bundles Central captured before this incident's response actions, each downloadable from `path` (GET /api/v1/evidence/{id}). */
  evidence?: { id: string; path: string; createdAt?: string; container?: string }[];
}

/** `GET /api/v1/response-actions?incident=ID` (src/central/store/response-actions.ts). */
export interface ResponseAction {
  id: string; time: string; action: string; cluster?: string; dryRun: boolean;
  outcome: 'done' | 'already' | 'dry-run' | 'refused' | 'failed'; detail: string;
  target: { type: 'kube'; kind: string; namespace?: string; name: string } | { type: 'container'; container: string };
  trigger: { by: string; policies?: string[]; alert?: { rule: string; time: string } };
  evidence?: string;
}

/** `GET /api/v1/network/graph` (src/network/graph-types.ts). */
export type GraphNodeKind = 'deployment' | 'service' | 'namespace' | 'external';
export interface GraphNode {
  id: string; kind: GraphNodeKind; label: string; cluster?: string; host?: string; namespace?: string; name?: string;
  workloadKind?: string; labels?: Record<string, string>; learning?: boolean; dns?: string;
  /** Deployments: whether policies isolate its ingress and egress (both false: unprotected). */
  isolated?: { ingress: boolean; egress: boolean };
}
export type EdgeFlag = 'observed-not-allowed' | 'allowed-not-observed';
export interface GraphEdge {
  id: string; source: string; target: string; protocol: 'TCP' | 'UDP' | 'SCTP'; port?: number; portEnd?: number; allowed: boolean;
  observed?: { firstSeen: string; lastSeen: string; connections: number; bytes?: number };
  flag?: EdgeFlag; mtls?: 'mtls' | 'plaintext' | 'unknown';
}
export interface NetworkGraph {
  generatedAt: string; nodes: GraphNode[]; edges: GraphEdge[];
  counts: { nodes: number; edges: number; observedNotAllowed: number; allowedNotObserved: number };
}

/** `GET /api/v1/baselines?deployment=ID` rows (src/central/api/baselines.ts, docs/notes/baseline-central.md). */
export type BaselineState = 'learning' | 'locked';
export interface BaselineSummary {
  workload: string; cluster?: string; namespace?: string; kind: string; name: string; container: string; host?: string;
  state: BaselineState; learnUntil?: string; lockedAt?: string; observations: number;
  /** Known (most specific) items per channel: exec, lineage, net, file, sys, seq. */
  items: Record<string, number>;
  deviations: number; hosts: string[];
}
export interface BaselineDeviation {
  item: string; channel: string; keys?: string[]; score: number; count: number; firstSeen: string; lastSeen: string; hosts: string[]; replicas: string[];
}
/** `GET /api/v1/baselines/{workload}`. */
export interface BaselineDetail extends Omit<BaselineSummary, 'items' | 'deviations' | 'hosts'> {
  epoch: number; learnMs: number; threshold?: number; targetPerDay?: number; replicas: string[];
  hosts: { host: string; updatedAt: string; deviations: number }[];
  items: Record<string, { item: string; count: number }[]>;
  /** Highest score first; `item` is what accept takes. */
  deviations: BaselineDeviation[];
}

/** One row of `GET /api/v1/deployments/{id}/vulnerabilities`: a CVE in a package, with the images carrying it. */
export interface DeploymentVulnerability {
  id: string; severity: Severity; package: string; version: string; fixedVersion?: string;
  images: string[]; layer?: string | number;
}
