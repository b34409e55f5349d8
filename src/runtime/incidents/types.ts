/**
 * Inputs and output of the incident correlator. Inputs are what Gatehouse's layers emit:
 * alerts in Falco's JSON shape (rule, anomaly and drift alerts), admission and engine-proxy
 * denials, Kubernetes audit events (audit.k8s.io/v1 Event) and network flow records.
 */
import type { Severity } from '../../findings/finding.js';

export type Layer = 'api' | 'runtime' | 'network' | 'admission';

/** An alert in Falco's JSON output shape (src/runtime/alerts/alert.ts's Alert, read loosely). */
export interface FalcoAlert {
  time: string;
  rule: string;
  priority: string;
  source?: string;
  hostname?: string;
  output?: string;
  output_fields?: Record<string, string | number | boolean | null>;
  tags?: string[];
}

/** A refusal by the admission webhook or the engine proxy. */
export interface Denial {
  time: string;
  layer: 'admission' | 'engine-proxy';
  rule: string;
  severity: Severity;
  message?: string;
  namespace?: string;
  /** Object name (admission) or container name (engine proxy). */
  name?: string;
  kind?: string;
  user?: string;
  host?: string;
}

/** audit.k8s.io/v1 Event (the fields the correlator reads). */
export interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  level?: string;
  user?: { username?: string; uid?: string; groups?: string[] };
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string; apiGroup?: string; apiVersion?: string };
  responseStatus?: { code?: number; status?: string; message?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string>;
}

export interface FlowEnd {
  /** Workload identity id (`k8s:<cluster>/<ns>/<Kind>/<name>/<container>` or `host:…`), when known. */
  workload?: string;
  ip?: string;
  port?: number;
  host?: string;
}

/** One network connection as a flow collector would report it (the sensor does not emit flows yet). */
export interface FlowRecord {
  time: string;
  src: FlowEnd;
  dst: FlowEnd;
  protocol?: 'tcp' | 'udp';
}

/** One input, with the idempotency key it came with and where it came from. */
export type CorrelationInput =
  | { kind: 'alert'; id: string; alert: FalcoAlert; cluster?: string; host?: string }
  | { kind: 'denial'; id: string; denial: Denial; cluster?: string }
  | { kind: 'audit'; event: AuditEvent; cluster?: string }
  | { kind: 'flow'; id: string; flow: FlowRecord; cluster?: string };

export interface Tactic { id: string; name: string }
export interface Technique { id: string; name: string }

export interface TimelineEntry {
  time: string;
  layer: Layer;
  kind: 'alert' | 'denial' | 'audit' | 'flow';
  /** The input's id (alert/denial/flow id, audit ID). */
  ref: string;
  title: string;
  severity: Severity;
  host?: string;
  workload?: string;
  /** Why this entry joined the incident (the first entry: 'opened'). */
  reason: string;
  techniques: string[];
}

export interface Incident {
  id: string;
  state: 'open' | 'closed';
  title: string;
  severity: Severity;
  /** The furthest ATT&CK tactic reached, in kill-chain order. */
  stage: string;
  tactics: Tactic[];
  techniques: Technique[];
  hosts: string[];
  workloads: string[];
  layers: Layer[];
  firstSeen: string;
  lastSeen: string;
  closedAt?: string;
  /** Ordered by time; capped (`timelineDropped` counts the rest). Read-only: the correlator's snapshots share its entries. */
  timeline: readonly Readonly<TimelineEntry>[];
  timelineDropped: number;
  signals: number;
}

/** What one input changed: incidents to (re)store and ids merged into others (to delete). */
export interface IncidentChanges {
  updated: Incident[];
  removed: string[];
}
