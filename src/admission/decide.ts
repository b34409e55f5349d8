/**
 * One AdmissionReview through the one policy engine: the `admission` subject (who asks, for
 * what) and the `workload` subject of the object (its posture), merged into one answer.
 *
 *   - deny-admission violations deny, with a message naming each policy, the object path of
 *     the violation and its fix (the policy's remediation);
 *   - every other violation is a warning (kubectl prints `Warning: …`);
 *   - exclusions (namespaces, labels) are allowed without evaluation;
 *   - break-glass: when a break-glass policy matches and its annotation names a ticket, the
 *     request is admitted; the use is returned for the audit log and Central;
 *   - dry-run-only (audit mode): a denial becomes a "would deny" warning.
 * Synchronous and free of I/O: the server adds the image-trust hook and the time budget.
 */
import type { Finding } from '../findings/finding.js';
import type { ManifestObject } from '../kube/manifests.js';
import { decide, evaluate, type EvaluateOptions, type PolicySet, type Verdict } from '../policy/evaluate.js';
import { matchesAnyGlob } from '../util/glob.js';
import { BREAK_GLASS_CATEGORY } from './policies.js';
import { admissionResponse, MAX_MESSAGE_CHARS, MAX_WARNING_CHARS, MAX_WARNINGS_TOTAL, type AdmissionRequest, type AdmissionReview, type AdmissionReviewResponse, type ReviewRef } from './review.js';
import { admissionSubjectOf, workloadObjectOf } from './subject.js';

export interface ReviewerOptions {
  set: PolicySet;
  /** Annotation keys break-glass policies name (breakGlassAnnotations()). */
  breakGlassAnnotations?: readonly string[];
  /** Cluster name for scope.clusters. */
  cluster?: string;
  /** Audit mode: never deny, warn "would deny" instead. */
  dryRunOnly?: boolean;
  /** Namespace globs admitted without evaluation. */
  excludeNamespaces?: readonly string[];
  /** Object labels (`key` or `key=value`) admitted without evaluation. */
  excludeLabels?: readonly string[];
  now?: () => Date;
}

export interface BreakGlassUse {
  annotation: string;
  ticket: string;
  /** The break-glass policy's own finding (reported to Central for review). */
  finding: Finding;
  /** Violations whose denial the break-glass lifted. */
  overridden: Finding[];
  /** Other refusals it lifted (image trust). */
  overriddenOther: string[];
}

export interface ReviewOutcome {
  response: AdmissionReviewResponse;
  /** Every standing violation (both subjects), before break-glass and audit mode. */
  verdict: Pick<Verdict, 'violations' | 'decision' | 'enforcement'>;
  /** The exclusion that skipped evaluation. */
  excludedBy?: string;
  breakGlass?: BreakGlassUse;
  /** Audit mode turned a denial into a warning. */
  wouldDeny?: boolean;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function metadataOf(request: AdmissionRequest): { labels: Record<string, unknown>; annotations: Record<string, unknown> } {
  const o = request.object ?? request.oldObject;
  const meta = o && isMap(o.metadata) ? o.metadata : {};
  return { labels: isMap(meta.labels) ? meta.labels : {}, annotations: isMap(meta.annotations) ? meta.annotations : {} };
}

/** The exclusion that covers the request, if any. */
export function exclusionOf(request: AdmissionRequest, opts: Pick<ReviewerOptions, 'excludeNamespaces' | 'excludeLabels'>): string | undefined {
  if (request.namespace && opts.excludeNamespaces?.length && matchesAnyGlob(request.namespace, opts.excludeNamespaces)) return `namespace ${request.namespace}`;
  if (opts.excludeLabels?.length) {
    const { labels } = metadataOf(request);
    for (const sel of opts.excludeLabels) {
      const eq = sel.indexOf('=');
      const [key, value] = eq < 0 ? [sel, undefined] : [sel.slice(0, eq), sel.slice(eq + 1)];
      if (key in labels && (value === undefined || labels[key] === value)) return `label ${sel}`;
    }
  }
  return undefined;
}

/** What a hook outside the policy engine (image trust, the budget) adds to a review. */
export interface ReviewExtras {
  /** One line per refusal (e.g. an image the trust policy rejects). */
  denials?: readonly string[];
  warnings?: readonly string[];
}

/** Evaluates a parsed review and builds its response. */
export function reviewAdmission(review: AdmissionReview, opts: ReviewerOptions, extras: ReviewExtras = {}): ReviewOutcome {
  const { request } = review;
  const excludedBy = exclusionOf(request, opts);
  if (excludedBy) {
    return { response: { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: request.uid, allowed: true } }, verdict: { violations: [], decision: 'allow', enforcement: [] }, excludedBy };
  }
  const now = opts.now?.();
  const evalOpts = { stage: 'deploy' as const, ...(now ? { now } : {}) };
  // A subject no policy of the set is about has no violations: not evaluated at all (the
  // bench's and many clusters' packs are workload policies only; this runs per request).
  const admission = hasPolicies(opts.set, 'admission') ? evaluate({ kind: 'admission', value: admissionSubjectOf(review, opts.cluster) }, opts.set, evalOpts).violations : NONE;
  // Posture is the object's: a status or scale write does not change what runs (ephemeral containers do).
  const { object, oldObject } = hasPolicies(opts.set, 'workload') && (request.subResource === '' || request.subResource === 'ephemeralcontainers') ? workloadObjectOf(request) : NO_OBJECTS;
  let posture = object ? postureOf(object, opts, evalOpts) : NONE;
  // On UPDATE, what the stored object already violated does not block the change (as Kyverno
  // does): the object exists either way, and denying would only stop fixes and scaling.
  if (request.operation === 'UPDATE' && oldObject && posture.some((f) => f.policy?.enforcement !== 'inform')) {
    const before = new Set(postureOf(oldObject, opts, evalOpts).map(policyIdOf));
    posture = posture.map((f) => (f.policy && before.has(policyIdOf(f)) ? { ...f, policy: { ...f.policy, enforcement: 'inform' } } : f));
  }
  const violations = admission.length === 0 ? [...posture] : posture.length === 0 ? [...admission] : [...admission, ...posture];
  const verdict = decide(violations, 'deploy');
  const denials = extras.denials ?? [];
  const warnings = extras.warnings ?? [];
  const outcome: ReviewOutcome = { response: responseFor(review, verdict, { denials, warnings }), verdict };
  if (verdict.decision !== 'deny' && denials.length === 0) return outcome;

  const allowAnyway = { ...verdict, decision: verdict.violations.length ? ('warn' as const) : ('allow' as const), enforcement: [] };
  const breakGlass = breakGlassOf(violations);
  const keyed = breakGlass && ticketOf(request, opts.breakGlassAnnotations ?? []);
  if (breakGlass && keyed) {
    const use: BreakGlassUse = { ...keyed, finding: { ...breakGlass, data: { ...(breakGlass.data ?? {}), ...keyed, needsReview: true } }, overridden: denyingOf(verdict), overriddenOther: [...denials] };
    const ids = [...new Set(use.overridden.map(policyIdOf)), ...(denials.length ? ['image trust'] : [])].join(', ');
    outcome.breakGlass = use;
    outcome.response = responseFor(review, allowAnyway, { warnings: [`Gatehouse break-glass (${keyed.annotation}: ${keyed.ticket}): admitted despite ${ids}; this use is reported for review`, ...warnings] });
  } else if (opts.dryRunOnly) {
    outcome.wouldDeny = true;
    outcome.response = responseFor(review, allowAnyway, { warnings: [`Gatehouse audit mode, would deny: ${denialMessage(denyingOf(verdict), denials)}`, ...warnings] });
  }
  return outcome;
}

const policyIdOf = (f: Finding): string => f.policy?.id ?? f.id;

const NONE: readonly Finding[] = Object.freeze([]);
const NO_OBJECTS: Partial<ReturnType<typeof workloadObjectOf>> = Object.freeze({});

const hasPolicies = (set: PolicySet, kind: 'admission' | 'workload'): boolean => set.compiledFor(kind).length > 0;

function postureOf(object: ManifestObject, opts: ReviewerOptions, evalOpts: EvaluateOptions): Finding[] {
  return evaluate({ kind: 'workload', value: { objects: [object], cluster: opts.cluster } }, opts.set, evalOpts).violations;
}

function denyingOf(verdict: Pick<Verdict, 'violations' | 'enforcement'>): Finding[] {
  return verdict.violations.filter((f) => (f.policy?.enforcement ?? '').split(',').some((e) => verdict.enforcement.includes(e as never)));
}

/** The break-glass policy's finding among the violations, if one matched. */
function breakGlassOf(violations: readonly Finding[]): Finding | undefined {
  return violations.find((f) => (f.data as { category?: string } | undefined)?.category === BREAK_GLASS_CATEGORY);
}

/** The first break-glass annotation with a ticket. One without a ticket is no break-glass: nothing to review it against. */
function ticketOf(request: AdmissionRequest, keys: readonly string[]): { annotation: string; ticket: string } | undefined {
  const { annotations } = metadataOf(request);
  for (const annotation of keys) {
    const ticket = annotations[annotation];
    if (typeof ticket === 'string' && ticket.trim() !== '') return { annotation, ticket: cut(oneLine(ticket), 200) };
  }
  return undefined;
}

// eslint-disable-next-line no-control-regex -- control characters are what this removes
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** `spec.containers.0.securityContext` → `spec.containers[0].securityContext`; an admission field's `request.object.` prefix dropped. */
export function objectPath(field: string): string {
  return field.replace(/^request\.(object|oldObject)\./, '').replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

/** What one denying policy says: `id (title): Kind ns/name path — fix: remediation`. */
function denialPart(f: Finding): string {
  const k8s = f.resource?.k8s;
  const what = k8s ? `${k8s.kind} ${k8s.namespace ? `${k8s.namespace}/` : ''}${k8s.name}${k8s.container ? ` container ${k8s.container}` : ''}` : '';
  // Only a path inside the object helps the user fix it (not request.userInfo…).
  const raw = typeof f.data?.field === 'string' ? f.data.field : '';
  const field = raw && (!raw.startsWith('request.') || /^request\.(object|oldObject)\./.test(raw)) ? objectPath(raw) : '';
  const where = [what, field && `at ${field}`].filter(Boolean).join(' ');
  return `${policyIdOf(f)} (${oneLine(f.title)})${where ? `: ${where}` : ''}${f.remediation ? ` — fix: ${oneLine(f.remediation)}` : ''}`;
}

/** The denial message: each denying policy once (its first violation), in order, then the other refusals. */
export function denialMessage(denying: readonly Finding[], others: readonly string[] = []): string {
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const f of denying) {
    if (seen.has(policyIdOf(f))) continue;
    seen.add(policyIdOf(f));
    parts.push(denialPart(f));
  }
  if (parts.length === 0) return `denied by Gatehouse: ${others.join('; ')}`;
  return `denied by Gatehouse policy ${[...parts, ...others].join('; ')}`;
}

/**
 * admissionResponse() with the richer denial message (path and fix), the refusals of hooks
 * (`denials`) and their `warnings` first, all within the API server's warning limits.
 */
export function responseFor(review: ReviewRef, verdict: Pick<Verdict, 'decision' | 'violations' | 'enforcement'>, extras: ReviewExtras = {}): AdmissionReviewResponse {
  const denials = extras.denials ?? [];
  const out = admissionResponse(review, denials.length && verdict.decision !== 'deny' ? { ...verdict, decision: 'deny' } : verdict);
  const { response } = out;
  if (!response.allowed) {
    const denying = verdict.decision === 'deny' ? denyingOf(verdict) : [];
    response.status = { code: 403, reason: 'Forbidden', message: cut(oneLine(denialMessage(denying, denials)), MAX_MESSAGE_CHARS) };
  }
  const extra = extras.warnings ?? [];
  if (extra.length) response.warnings = fitWarnings([...extra.map((w) => cut(oneLine(w), MAX_WARNING_CHARS)), ...(response.warnings ?? [])]);
  return out;
}

/** Drops warnings from the end until the list fits the API server's 4096-character total. */
export function fitWarnings(warnings: string[]): string[] {
  const out = [...warnings];
  while (out.length > 1 && out.reduce((n, w) => n + w.length, 0) > MAX_WARNINGS_TOTAL) out.pop();
  return out;
}
