/**
 * The `admission` subject: one AdmissionReview request (who asks, what operation, which
 * resource and subresource, dry run, a few facts of the object, a pods/exec command). It has
 * one level, the request. The object's workload posture is the `workload` subject's job:
 * the webhook evaluates both, the workload subject on workloadObjectOf(request).
 *
 *   const set = compilePolicySet(policies, subjects());
 *   const review = parseAdmissionReview(body);
 *   const verdict = evaluate({ kind: 'admission', value: admissionSubjectOf(review, cluster) }, set);
 *   reply(admissionResponse(review, verdict));
 */
import type { ResourceRef } from '../findings/finding.js';
import { isKnownKind } from '../kube/kinds.js';
import { parseManifests, type LoadNote, type ManifestObject } from '../kube/manifests.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import { UserError } from '../util/errors.js';
import type { AdmissionContext } from './fields/context.js';
import { admissionFieldRegistry } from './fields/index.js';
import { resourceWithSub } from './fields/request.js';
import { validateAdmissionRequest, validateAdmissionReview, type AdmissionRequest, type AdmissionReview, type KubeObject } from './review.js';

export interface AdmissionSubject {
  request: AdmissionRequest;
  /** Cluster name for scope.clusters (the webhook's configuration knows it; the request does not). */
  cluster?: string;
}

/** The subject value of a parsed review. */
export function admissionSubjectOf(review: AdmissionReview, cluster?: string): AdmissionSubject {
  return cluster === undefined ? { request: review.request } : { request: review.request, cluster };
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Object labels for scope.labelSelector: the new object's, or the old one's on DELETE. */
function labelsOf(request: AdmissionRequest): Record<string, string> {
  const o = request.object ?? request.oldObject;
  const meta = o && isMap(o.metadata) ? o.metadata : undefined;
  return meta && isMap(meta.labels) ? (meta.labels as Record<string, string>) : {};
}

/** The object a finding names: the pod of a pod subresource (exec, attach…), else the submitted kind. */
function targetKind(request: AdmissionRequest): string {
  if (request.resource.group === '' && request.resource.resource === 'pods') return 'Pod';
  return request.kind.kind;
}

function describe(request: AdmissionRequest): string {
  const where = request.namespace ? `${request.namespace}/${request.name}` : request.name;
  const who = request.userInfo.username || 'an unknown user';
  return `${request.operation} ${resourceWithSub({ request })}${where ? ` ${where}` : ''} by ${who}${request.dryRun ? ' (dry run)' : ''}`;
}

export function admissionSubject(): SubjectAdapter<AdmissionSubject, AdmissionContext> {
  return {
    kind: 'admission',
    description: 'a Kubernetes AdmissionReview request (operation, user, groups, resource and subresource, dry run, the object, pods/exec options)',
    defaultStage: 'deploy',
    findingKind: 'policy',
    fields: admissionFieldRegistry(),
    rootTarget: 'request',
    targetDocs: { request: 'the admission request' },
    scopeKeys: ['clusters', 'namespaces', 'excludeNamespaces', 'kinds', 'labelSelector'],
    elements: {},
    *roots(subject) {
      const { request } = subject;
      const sub = resourceWithSub({ request });
      const container = sub === 'pods/exec' && typeof request.object?.container === 'string' && request.object.container !== '' ? request.object.container : undefined;
      const ref: ResourceRef = {
        k8s: { kind: targetKind(request), ...(request.namespace ? { namespace: request.namespace } : {}), name: request.name, ...(container ? { container } : {}) },
      };
      const node: SubjectNode<AdmissionContext> = {
        ctx: { request },
        scope: { cluster: subject.cluster, namespace: request.namespace, kind: request.kind.kind, labels: labelsOf(request) },
        label: describe(request),
        identity: `admission/${subject.cluster ?? ''}/${request.operation}/${sub}/${request.namespace}/${request.name}/${request.userInfo.username}`,
        resource: () => ref,
        data: {
          uid: request.uid,
          operation: request.operation,
          user: request.userInfo.username,
          resource: sub,
          dryRun: request.dryRun,
          ...(subject.cluster ? { cluster: subject.cluster } : {}),
        },
      };
      yield node;
    },
    /**
     * Plain data (a policy test's inline input, `policy eval`): an AdmissionReview, its
     * request alone, or `{ cluster, review }` to give the cluster name.
     */
    fromData(data, file) {
      try {
        return admissionSubjectFromData(data);
      } catch (e) {
        if (e instanceof UserError) throw new UserError(`${file}: ${e.message}`, e.code);
        throw e;
      }
    },
  };
}

/** fromData without the file prefix. */
export function admissionSubjectFromData(data: unknown): AdmissionSubject {
  if (!isMap(data)) throw new UserError(`invalid AdmissionReview: expected a mapping (an AdmissionReview or its request), got ${Array.isArray(data) ? 'a list' : String(data)}`, 'bad-admission-review');
  if ('review' in data) {
    for (const k of Object.keys(data)) {
      if (k !== 'review' && k !== 'cluster') throw new UserError(`invalid admission input: unknown key ${JSON.stringify(k)} beside review (expected review and cluster)`, 'bad-admission-review');
    }
    if (data.cluster !== undefined && typeof data.cluster !== 'string') throw new UserError('invalid admission input: cluster must be a string', 'bad-admission-review');
    const inner = admissionSubjectFromData(data.review);
    return data.cluster === undefined ? inner : { ...inner, cluster: data.cluster as string };
  }
  if (data.kind === 'AdmissionReview' || 'apiVersion' in data || 'request' in data) {
    return { request: validateAdmissionReview(data).request };
  }
  return { request: validateAdmissionRequest(data, 'request') };
}

export interface WorkloadObjects {
  /** request.object as a manifest object (CREATE and UPDATE; not the options of a CONNECT). */
  object?: ManifestObject;
  /** request.oldObject (UPDATE and DELETE). */
  oldObject?: ManifestObject;
  /** The loader's notes (an unknown kind, a missing kind), for the webhook's log. */
  notes: LoadNote[];
}

/**
 * The request's object and old object as ManifestObjects, for the webhook to evaluate the
 * `workload` subject on ({ kind: 'workload', value: { objects: [object] } }). Findings name
 * the object as for a live cluster (no file). A CONNECT's object is its options
 * (PodExecOptions…), not a workload, so it is left out.
 */
export function workloadObjectOf(request: AdmissionRequest): WorkloadObjects {
  const out: WorkloadObjects = { notes: [] };
  const load = (o: KubeObject | undefined): ManifestObject | undefined => {
    if (!o) return undefined;
    const m = manifestObjectOf(o, out.notes);
    if (!m) return undefined;
    // A CREATE with generateName and a namespaced object read without metadata.namespace
    // still belong where the API server will put them.
    if (!m.namespace && request.namespace) m.namespace = request.namespace;
    if (!m.name && request.name) m.name = request.name;
    return m;
  };
  if (request.operation !== 'CONNECT') out.object = load(request.object);
  if (request.operation === 'UPDATE' || request.operation === 'DELETE') out.oldObject = load(request.oldObject);
  return out;
}

const NOWHERE = { file: '', line: 1, column: 1 };

/**
 * The parsed JSON object as a ManifestObject, as the manifest loader would make it, but
 * without printing it back to text and re-reading it as YAML with positions: an object
 * with no file has no positions to give, and that round trip was most of a review's CPU
 * and garbage. The object is shared, not copied, as for live objects (liveObject): the
 * workload engine only reads it. The rare shapes the loader treats specially (no kind, a
 * typed List) still go through it, so their notes and items stay the loader's.
 */
function manifestObjectOf(o: KubeObject, notes: LoadNote[]): ManifestObject | undefined {
  const kind = o.kind;
  if (typeof kind !== 'string' || kind === '' || (kind.endsWith('List') && Array.isArray(o.items))) {
    const loaded = parseManifests(JSON.stringify(o), '');
    notes.push(...loaded.notes);
    return loaded.objects[0];
  }
  const meta = (o.metadata && typeof o.metadata === 'object' ? o.metadata : {}) as Record<string, unknown>;
  const apiVersion = typeof o.apiVersion === 'string' ? o.apiVersion : '';
  const known = isKnownKind(apiVersion, kind);
  if (!known) notes.push({ level: 'note', file: '', line: 1, message: `unknown kind ${kind} (${apiVersion || 'no apiVersion'}): kept, only generic checks apply` });
  return {
    apiVersion,
    kind,
    name: typeof meta.name === 'string' ? meta.name : String(meta.name ?? meta.generateName ?? ''),
    namespace: typeof meta.namespace === 'string' ? meta.namespace : undefined,
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    raw: o,
    source: NOWHERE,
    known,
    positionOf: nowhere,
  };
}

const nowhere = () => NOWHERE;

/**
 * Label and annotation values as strings, as the manifest loader reads them. A map whose
 * values are all strings already (every reviewed object: parseAdmissionReview checks them)
 * is used as it is, as the object itself is; only others are copied.
 */
function stringMap(v: unknown): Record<string, string> {
  if (!isMap(v)) return {};
  let strings = true;
  for (const k in v) {
    if (typeof v[k] !== 'string') {
      strings = false;
      break;
    }
  }
  if (strings && Object.getPrototypeOf(v) === Object.prototype) return v as Record<string, string>;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = val === null || val === undefined ? '' : String(val);
  return out;
}
