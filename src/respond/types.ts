/**
 * The response engine's shared shapes: what an action acts on (a container on a plain
 * host, or a Kubernetes object), who or what asked for it (a policy on an alert, an
 * incident, a person at the CLI), and what came of it. Every action is one file exporting
 * a `ResponseAction`; `runAction` (run.ts) gives each the same dry run, idempotence,
 * evidence-before-destruction and audit record.
 */

/** A container on a Docker Engine API endpoint (Docker, or podman's compatible service). */
export interface ContainerTarget {
  type: 'container';
  /** Id or name, as the engine accepts it. */
  container: string;
  /** The engine endpoint (`unix:///run/podman/podman.sock`, `tcp://host:port`), for records. */
  endpoint?: string;
}

/** A Kubernetes object: Pod, Deployment, StatefulSet, ReplicaSet or Node. */
export interface KubeTarget {
  type: 'kube';
  kind: string;
  /** Absent for cluster-scoped kinds (Node). */
  namespace?: string;
  name: string;
  /** The kubeconfig context's cluster name, for records. */
  cluster?: string;
}

export type ResponseTarget = ContainerTarget | KubeTarget;

export function describeTarget(t: ResponseTarget): string {
  if (t.type === 'container') return `container ${t.container}${t.endpoint ? ` on ${t.endpoint}` : ''}`;
  return `${t.kind.toLowerCase()} ${t.namespace ? `${t.namespace}/` : ''}${t.name}${t.cluster ? ` in cluster ${t.cluster}` : ''}`;
}

/** A stable key for rate limits and cooldowns. */
export function targetKey(t: ResponseTarget): string {
  return t.type === 'container' ? `container:${t.endpoint ?? ''}:${t.container}` : `kube:${t.cluster ?? ''}:${t.kind}/${t.namespace ?? ''}/${t.name}`;
}

/** Who or what asked for an action (the audit record's "why"). */
export interface Trigger {
  /** `policy` (a runtime policy's enforcement on an alert), `incident`, `user`, or a component name. */
  by: string;
  /** The user name when a person ran it. */
  user?: string;
  /** Violated policy ids that asked for this action. */
  policies?: string[];
  incident?: string;
  /** The stored record behind it (Central's ingest event id of the alert). */
  ref?: string;
  /** Free text a person gave (--reason). */
  reason?: string;
  /** The alert behind it: rule and time. */
  alert?: { rule: string; time: string; source?: string };
}

/**
 * What came of an action: `done` (it took effect now), `already` (the target was already in
 * that state: nothing to do, success), `dry-run` (what it would do; nothing changed),
 * `refused` (not attempted: never-touch, kill switch, rate limit, cooldown, unsupported
 * target), `failed` (attempted, and the engine or cluster refused or broke).
 */
export type Outcome = 'done' | 'already' | 'dry-run' | 'refused' | 'failed';

export interface ActionResult {
  action: string;
  target: ResponseTarget;
  outcome: Outcome;
  /** One line: what was (or would be) done, or why not. */
  detail: string;
  /** Action-specific facts (networks disconnected, previous replicas, policy name, …). */
  data?: Record<string, unknown>;
  /** Where the evidence captured before a destructive action went, when it was captured. */
  evidence?: string;
}

/** Evidence captured before a destructive action: what the capture function returns. */
export interface EvidenceRef {
  /** Where the bundle is (a path or an id). */
  location: string;
}

/**
 * The evidence hook: called before any destructive action (and never in a dry run), with
 * the target and why. The forensic evidence module (src/respond/evidence/) provides one;
 * the response engine only calls it. A thrown error is recorded and, unless the runner is
 * told to require evidence, the action still proceeds (containment beats a missing bundle).
 */
export type EvidenceCapture = (request: { target: ResponseTarget; action: string; trigger: Trigger; events?: unknown[] }) => Promise<EvidenceRef | undefined>;

/** What an action sees when it runs. */
export interface ActionContext {
  dryRun: boolean;
  trigger: Trigger;
  /** Aborts a slow engine or API call. */
  signal?: AbortSignal;
}

/** The state an action found before doing anything. */
export type Plan =
  | { state: 'already'; detail: string; data?: Record<string, unknown> }
  | { state: 'todo'; detail: string; data?: Record<string, unknown>; apply(): Promise<{ detail: string; data?: Record<string, unknown> }> }
  | { state: 'refused'; detail: string };

/**
 * One response action. `plan` reads the target's current state (it changes nothing: that is
 * the dry run) and says whether there is anything to do; `apply` on a `todo` plan does it.
 */
export interface ResponseAction<T extends ResponseTarget = ResponseTarget> {
  name: string;
  /** Destroys state an investigator would want (a process, a container, a pod): evidence first. */
  destructive: boolean;
  plan(target: T, ctx: ActionContext): Promise<Plan>;
}
