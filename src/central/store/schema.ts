/**
 * Central's tables as Kysely sees them. One schema for SQLite and PostgreSQL: times are
 * RFC 3339 text (sortable as text in both), JSON is text, ids are text, so every query is
 * the same on both dialects.
 */
import type { Generated } from 'kysely';

export interface TokensTable {
  id: string;
  name: string;
  role: string;
  /** SHA-256 of the token (hex). The token itself is never stored. */
  hash: string;
  created_at: string;
  created_by: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

/** A cluster or a plain container host that Central watches. */
export interface SourcesTable {
  id: string;
  kind: 'cluster' | 'host';
  name: string;
  /** Connection settings (kubeconfig, endpoint, TLS material), encrypted with the data key. */
  config: string;
  state: string;
  message: string | null;
  first_seen: string;
  last_seen: string;
}

/** Every watched object (Kubernetes objects, host containers and images), deletions kept as deleted_at. */
export interface ObjectsTable {
  source_id: string;
  kind: string;
  uid: string;
  namespace: string;
  name: string;
  resource_version: string | null;
  body: string;
  first_seen: string;
  last_seen: string;
  deleted_at: string | null;
}

/** A top-level workload (not owned by another workload) or a plain-host container, with its risk. */
export interface DeploymentsTable {
  id: string;
  source_id: string;
  namespace: string;
  kind: string;
  name: string;
  labels: string;
  /** JSON array of image references of its containers. */
  images: string;
  risk_score: number;
  /** JSON: the explained risk (factors and contributions). */
  risk: string;
  first_seen: string;
  last_seen: string;
  deleted_at: string | null;
}

export interface ImagesTable {
  digest: string;
  /** JSON array of references the image was seen under. */
  refs: string;
  os: string | null;
  created: string | null;
  /** JSON array of layers. */
  layers: string;
  /** 1 when image_sboms holds its SBOM (re-matched when the vulnerability DB changes), else 0. */
  has_sbom: number;
  /** JSON signature status. */
  signature: string | null;
  /** JSON counts of findings by kind and severity. */
  summary: string;
  db_version: string | null;
  scanned_at: string | null;
  first_seen: string;
  last_seen: string;
  /** JSON {labels, annotations} of the image's config and manifest, as pushed (migration 0011). */
  provenance: string | null;
}

/** CycloneDX JSON of an image (migration 0006: apart from its row, which updates often). */
export interface ImageSbomsTable {
  digest: string;
  sbom: string;
  /** Content address of the package list the matcher reads from the SBOM ('' until computed; migration 0013): re-match works once per distinct list. */
  packages_hash: Generated<string>;
  /** Address of the SBOM's component list in sbom_component_lists when stored apart (migration 0015); null: `sbom` is whole. */
  components_hash: Generated<string | null>;
}

/** Texts shared by many images' vulnerability findings, by content address (migration 0013; store/shared-texts.ts). */
export interface SharedTextsTable {
  hash: string;
  body: string;
}

/**
 * An image's findings as two documents (migration 0005): JSON arrays sorted by fingerprint,
 * its vulnerabilities apart from the rest (re-match rewrites only the first). Read and
 * written through store/image-findings.ts only.
 */
export interface ImageFindingDocsTable {
  image_digest: string;
  vulnerabilities: string;
  others: string;
  count: number;
}

/** Findings that are not about one image (k8s check, registry audit), per source and target. */
export interface FindingsTable {
  source: string;
  target: string;
  fingerprint: string;
  finding_id: string;
  kind: string;
  severity: string;
  body: string;
  first_seen: string;
  last_seen: string;
}

export type ViolationState = 'active' | 'resolved' | 'excepted';

export interface ViolationsTable {
  /** The violation's fingerprint: policy + subject + location. */
  id: string;
  policy_id: string;
  stage: string;
  /** deployment | image | finding-target | event */
  subject_kind: string;
  subject_key: string;
  severity: string;
  title: string;
  body: string;
  state: ViolationState;
  exception_id: string | null;
  first_seen: string;
  last_seen: string;
  resolved_at: string | null;
}

/** Alerts and decisions pushed by sensors, replay, the engine proxy and admission. */
export interface EventsTable {
  /** The sender's idempotency key. */
  id: string;
  type: 'alert' | 'decision' | 'flow';
  source_kind: string;
  cluster: string | null;
  host: string | null;
  time: string;
  rule: string;
  severity: string;
  body: string;
  received_at: string;
  /** The deployment the alert was raised in, when Central could tell (migration 0003). */
  deployment_id: string | null;
}

export interface PoliciesTable {
  id: string;
  /** Pack it came from ('build', 'deploy', … or 'api'). */
  pack: string;
  subject: string;
  /** The policy as JSON (the pack format's shape). */
  body: string;
  enabled: number;
  updated_at: string;
}

export interface ExceptionsTable {
  id: string;
  /** The PolicyException as JSON. */
  body: string;
  owner: string;
  reason: string;
  expires_at: string | null;
  created_at: string;
  created_by: string | null;
}

export interface MetaTable {
  key: string;
  value: string;
}

/** A response action Central ran, refused or dry-ran (migration 0010); the whole audit record is `body`. */
export interface ResponseActionsTable {
  id: string;
  time: string;
  action: string;
  outcome: string;
  dry_run: number;
  cluster: string | null;
  /** targetKey() of the target. */
  target: string;
  /** The ingest event (alert) that triggered it. */
  event_id: string | null;
  incident_id: string | null;
  body: string;
}

/** A correlated incident (migration 0007): its head is `body`, the incident's JSON with an empty timeline (migration 0016). */
export interface IncidentsTable {
  id: string;
  state: 'open' | 'closed';
  severity: string;
  stage: string;
  title: string;
  first_seen: string;
  last_seen: string;
  closed_at: string | null;
  signals: number;
  body: string;
  updated_at: string;
}

/** An incident's timeline in runs of entries, in timeline order (migration 0016): a write appends a run, not rewrites. */
export interface IncidentTimelineTable {
  incident_id: string;
  /** The run's first entry's position in the timeline. */
  pos: number;
  /** The run's TimelineEntry JSON values, comma-separated (a JSON array's inside). */
  entries: string;
}

/** Observed edges, all time (migration 0008; src/central/store/flows.ts). bigint columns: PostgreSQL returns strings. */
export interface FlowEdgesTable {
  edge_key: string;
  source_id: string | null;
  cluster: string | null;
  host: string | null;
  src_id: string;
  src_kind: string;
  src_label: string;
  src_namespace: string | null;
  src_name: string | null;
  src_workload_kind: string | null;
  dst_id: string;
  dst_kind: string;
  dst_label: string;
  dst_namespace: string | null;
  dst_name: string | null;
  dst_workload_kind: string | null;
  dst_dns: string | null;
  protocol: string;
  port: number;
  first_seen: string;
  last_seen: string;
  connections: number | string;
  bytes: number | string | null;
  mesh_flows: number | string;
}

/** The same counts per edge and hour (migration 0008). */
export interface FlowEdgeHoursTable {
  edge_key: string;
  bucket: string;
  first_seen: string;
  last_seen: string;
  connections: number | string;
  bytes: number | string | null;
  mesh_flows: number | string;
}

/** Flow event ids already stored (dedup of at-least-once delivery; migration 0008). */
export interface FlowIdsTable {
  id: string;
  received_at: string;
}

/**
 * A lease of periodic work (migration 0009; src/central/leases.ts): one row per job, held by
 * one Central instance until expires_ms (the database's clock, ms since the epoch).
 * bigint columns: PostgreSQL returns them as strings.
 */
export interface LeasesTable {
  name: string;
  holder: string;
  expires_ms: number | string;
  acquired_ms: number | string;
  renewed_ms: number | string;
  epoch: number | string;
}

/** A behavioural baseline merged over every sensor (migration 0012; src/central/store/baselines.ts). */
export interface BaselinesTable {
  workload: string;
  cluster: string | null;
  namespace: string | null;
  kind: string;
  name: string;
  container: string;
  host: string | null;
  state: 'learning' | 'locked';
  epoch: number;
  summary: string;
  deviations: number;
  body: string;
  updated_at: string;
}

/** One host's part of a merged baseline: its last push and its deviations (migration 0012). */
export interface BaselineHostsTable {
  workload: string;
  host: string;
  push_id: string;
  deviations: string;
  updated_at: string;
}

/** Keeps migrations' own bookkeeping out of the query types. */
export interface Database {
  tokens: TokensTable;
  sources: SourcesTable;
  objects: ObjectsTable;
  deployments: DeploymentsTable;
  images: ImagesTable;
  image_finding_docs: ImageFindingDocsTable;
  image_sboms: ImageSbomsTable;
  /** SBOM component lists by content address (migration 0015; store/image-sboms.ts). */
  sbom_component_lists: SharedTextsTable;
  finding_texts: SharedTextsTable;
  advisory_texts: SharedTextsTable;
  findings: FindingsTable;
  violations: ViolationsTable;
  events: EventsTable;
  policies: PoliciesTable;
  exceptions: ExceptionsTable;
  meta: MetaTable;
  leases: LeasesTable;
  incidents: IncidentsTable;
  incident_timeline: IncidentTimelineTable;
  response_actions: ResponseActionsTable;
  flow_edges: FlowEdgesTable;
  flow_edge_hours: FlowEdgeHoursTable;
  flow_ids: FlowIdsTable;
  baselines: BaselinesTable;
  baseline_hosts: BaselineHostsTable;
}

export type { Generated };
