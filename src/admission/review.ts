/**
 * AdmissionReview requests as the Kubernetes API server sends them to a validating webhook
 * (`admission.k8s.io/v1`, and `v1beta1`, which has the same shape), and the responses a
 * webhook sends back.
 *
 *   parseAdmissionReview(body)            Buffer | string → AdmissionReview (UserError on bad input)
 *   validateAdmissionReview(data)         already-parsed data → AdmissionReview
 *   admissionResponse(review, verdict)    Verdict → AdmissionReview response (allowed, status, warnings)
 *   admissionErrorResponse(review, msg)   a refusal that is not a policy verdict (bad request, internal error)
 *
 * The body is untrusted: it is size-capped (3 MiB by default, the API server's own request
 * limit), must be UTF-8, is scanned for nesting depth before JSON.parse, and every field
 * the engine reads is type-checked here, so the fields never meet a surprise. Each problem
 * is one line naming the offending path; nothing echoes more than a short, escaped excerpt
 * of the input.
 */
import type { Finding } from '../findings/finding.js';
import type { Verdict } from '../policy/evaluate.js';
import { UserError } from '../util/errors.js';

export const ADMISSION_API_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type AdmissionApiVersion = (typeof ADMISSION_API_VERSIONS)[number];

export const ADMISSION_OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] as const;
export type AdmissionOperation = (typeof ADMISSION_OPERATIONS)[number];

/** The API server's limit on a request body (apiserver MaxRequestBodyBytes): 3 MiB. */
export const DEFAULT_MAX_REVIEW_BYTES = 3 * 1024 * 1024;
/**
 * Deepest JSON nesting accepted. Real objects stay far below this (a CRD's OpenAPI schema is
 * the deepest common case, a few dozen levels); the cap keeps every recursive reader
 * downstream (the manifest loader, the workload fields) off the edge of the stack.
 */
export const DEFAULT_MAX_REVIEW_DEPTH = 512;

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionUserInfo {
  /** '' when the API server sent none. */
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type KubeObject = Record<string, unknown>;

/** The request part of an AdmissionReview, checked and normalized (absent strings are ''). */
export interface AdmissionRequest {
  uid: string;
  /** Type of the object submitted (`v1 Pod`, `autoscaling/v1 Scale`, `v1 PodExecOptions`). */
  kind: GroupVersionKind;
  /** The resource requested (`v1 pods`, `apps/v1 deployments`). */
  resource: GroupVersionResource;
  /** '' when the request is for the resource itself (`exec`, `attach`, `status`, `scale`…). */
  subResource: string;
  requestKind?: GroupVersionKind;
  requestResource?: GroupVersionResource;
  requestSubResource?: string;
  /** '' for a CREATE with generateName. */
  name: string;
  /** '' for cluster-scoped resources. */
  namespace: string;
  operation: AdmissionOperation;
  userInfo: AdmissionUserInfo;
  /** The new object (CREATE, UPDATE) or the connect options (CONNECT: PodExecOptions…); absent on DELETE. */
  object?: KubeObject;
  /** The existing object (UPDATE, DELETE). */
  oldObject?: KubeObject;
  dryRun: boolean;
  /** CreateOptions / UpdateOptions / DeleteOptions, as sent. */
  options?: KubeObject;
}

export interface AdmissionReview {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface ParseReviewOptions {
  /** Largest body accepted, in bytes (default 3 MiB). */
  maxBytes?: number;
  /** Deepest nesting accepted (default 512). */
  maxDepth?: number;
}

const fail = (message: string): never => {
  throw new UserError(`invalid AdmissionReview: ${message}`, 'bad-admission-review');
};

/** A short, escaped rendering of an input value for a message (never the whole value). */
function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return String(v);
}

const typeName = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : v instanceof Date ? 'a date' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses an AdmissionReview body. Every problem (too large, not UTF-8, not JSON, nested too
 * deep, wrong apiVersion or kind, missing or mistyped request fields) is one UserError line.
 */
export function parseAdmissionReview(body: Buffer | Uint8Array | string, opts: ParseReviewOptions = {}): AdmissionReview {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_REVIEW_BYTES;
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > maxBytes) fail(`body is ${size} bytes, over the ${maxBytes}-byte limit`);
  let text: string;
  if (typeof body === 'string') text = body;
  else {
    try {
      text = utf8.decode(body);
    } catch {
      return fail('body is not valid UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') fail('body is empty');
  checkDepth(text, opts.maxDepth ?? DEFAULT_MAX_REVIEW_DEPTH);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return fail(`not valid JSON: ${jsonError(e, text)}`);
  }
  return validateAdmissionReview(data);
}

/**
 * Rejects a text nested deeper than `max` before JSON.parse builds it (brackets inside
 * strings do not count). Linear in the text, no allocation. A string is skipped with
 * indexOf to its closing quote (one not escaped by an odd run of backslashes): most of a
 * review is string content, and a character loop over it was a fifth of the parse.
 */
function checkDepth(text: string, max: number): void {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = stringEnd(text, i);
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) fail(`nested deeper than ${max} levels`);
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}

/** The index of the quote closing the string opened at `open` (the text's length when unclosed). */
function stringEnd(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const q = text.indexOf('"', from);
    if (q < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(q - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return q;
    from = q + 1;
  }
}

/** V8's JSON message without the input excerpt it embeds (which may hold newlines), plus line:column. */
function jsonError(e: unknown, text: string): string {
  const raw = e instanceof Error ? e.message : String(e);
  let msg = raw.replace(/, ".*" is not valid JSON$/s, '').replace(/ at position \d+.*$/s, '');
  // eslint-disable-next-line no-control-regex -- control characters are what this escapes
  msg = msg.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (msg.length > 120) msg = `${msg.slice(0, 120)}…`;
  const m = /at position (\d+)/.exec(raw);
  if (m) {
    const pos = Number(m[1]);
    const before = text.slice(0, pos);
    const line = before.split('\n').length;
    const column = pos - before.lastIndexOf('\n');
    return `${msg} at line ${line} column ${column}`;
  }
  return msg;
}

/** Checks already-parsed data (a JSON body, or a YAML test input) as an AdmissionReview. */
export function validateAdmissionReview(data: unknown): AdmissionReview {
  if (!isMap(data)) return fail(`expected a JSON object, got ${typeName(data)}`);
  const { apiVersion, kind } = data;
  if (apiVersion === undefined) fail('apiVersion is missing (expected admission.k8s.io/v1)');
  if (!(ADMISSION_API_VERSIONS as readonly unknown[]).includes(apiVersion)) {
    fail(`unsupported apiVersion ${show(apiVersion)} (expected ${ADMISSION_API_VERSIONS.join(' or ')})`);
  }
  if (kind !== 'AdmissionReview') fail(`kind is ${show(kind)}, expected "AdmissionReview"`);
  if (data.request === undefined || data.request === null) {
    fail(data.response !== undefined ? 'this is a response (it has response, not request)' : 'request is missing');
  }
  return { apiVersion: apiVersion as AdmissionApiVersion, kind: 'AdmissionReview', request: validateAdmissionRequest(data.request, 'request') };
}

/** Checks the request part of an AdmissionReview; `at` names it in messages. */
export function validateAdmissionRequest(data: unknown, at = 'request'): AdmissionRequest {
  if (!isMap(data)) return fail(`${at} must be an object, got ${typeName(data)}`);
  const p = (k: string) => `${at}.${k}`;

  const uid = str(data.uid, p('uid'), true);
  if (uid === '') fail(`${p('uid')} is empty`);
  const operation = data.operation;
  if (operation === undefined || operation === null) fail(`${p('operation')} is missing`);
  if (!(ADMISSION_OPERATIONS as readonly unknown[]).includes(operation)) {
    fail(`${p('operation')} is ${show(operation)} (expected ${ADMISSION_OPERATIONS.join(', ')})`);
  }
  const kind = gvk(data.kind, p('kind'));
  const resource = gvr(data.resource, p('resource'));
  const userInfo = readUserInfo(data.userInfo, p('userInfo'));
  if (data.dryRun !== undefined && data.dryRun !== null && typeof data.dryRun !== 'boolean') {
    fail(`${p('dryRun')} must be true or false, got ${show(data.dryRun)}`);
  }
  const request: AdmissionRequest = {
    uid,
    kind,
    resource,
    subResource: str(data.subResource, p('subResource'), false),
    name: str(data.name, p('name'), false),
    namespace: str(data.namespace, p('namespace'), false),
    operation: operation as AdmissionOperation,
    userInfo,
    dryRun: data.dryRun === true,
  };
  if (data.requestKind !== undefined && data.requestKind !== null) request.requestKind = gvk(data.requestKind, p('requestKind'));
  if (data.requestResource !== undefined && data.requestResource !== null) request.requestResource = gvr(data.requestResource, p('requestResource'));
  if (data.requestSubResource !== undefined && data.requestSubResource !== null) request.requestSubResource = str(data.requestSubResource, p('requestSubResource'), false);
  const object = obj(data.object, p('object'));
  const oldObject = obj(data.oldObject, p('oldObject'));
  const options = obj(data.options, p('options'));
  if (object) request.object = object;
  if (oldObject) request.oldObject = oldObject;
  if (options) request.options = options;
  if (object) checkObjectMeta(object, p('object'));
  if (oldObject) checkObjectMeta(oldObject, p('oldObject'));
  return request;
}

// The readers below are module functions, not closures made per review (this runs per
// request). A path is only built into a message when something is wrong.
function str(v: unknown, path: string, required: boolean): string {
  if (v === undefined || v === null) {
    if (required) fail(`${path} is missing`);
    return '';
  }
  if (typeof v !== 'string') fail(`${path} must be a string, got ${typeName(v)}`);
  return v as string;
}

function gvk(v: unknown, path: string): GroupVersionKind {
  if (!isMap(v)) return fail(v === undefined || v === null ? `${path} is missing` : `${path} must be an object with group, version and kind, got ${typeName(v)}`);
  return { group: str(v.group, `${path}.group`, false), version: str(v.version, `${path}.version`, false), kind: str(v.kind, `${path}.kind`, true) };
}

function gvr(v: unknown, path: string): GroupVersionResource {
  if (!isMap(v)) return fail(v === undefined || v === null ? `${path} is missing` : `${path} must be an object with group, version and resource, got ${typeName(v)}`);
  return { group: str(v.group, `${path}.group`, false), version: str(v.version, `${path}.version`, false), resource: str(v.resource, `${path}.resource`, true) };
}

function obj(v: unknown, path: string): KubeObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isMap(v)) return fail(`${path} must be an object, got ${typeName(v)}`);
  return v;
}

function readUserInfo(v: unknown, path: string): AdmissionUserInfo {
  if (v === undefined || v === null) return fail(`${path} is missing`);
  if (!isMap(v)) return fail(`${path} must be an object, got ${typeName(v)}`);
  if (v.username !== undefined && v.username !== null && typeof v.username !== 'string') fail(`${path}.username must be a string, got ${typeName(v.username)}`);
  if (v.uid !== undefined && v.uid !== null && typeof v.uid !== 'string') fail(`${path}.uid must be a string, got ${typeName(v.uid)}`);
  const groups = v.groups ?? [];
  if (!Array.isArray(groups)) return fail(`${path}.groups must be a list of strings, got ${typeName(groups)}`);
  for (let i = 0; i < groups.length; i++) {
    if (typeof groups[i] !== 'string') fail(`${path}.groups[${i}] must be a string, got ${typeName(groups[i])}`);
  }
  const info: AdmissionUserInfo = { username: typeof v.username === 'string' ? v.username : '', groups: groups as string[] };
  if (typeof v.uid === 'string') info.uid = v.uid;
  if (v.extra !== undefined && v.extra !== null) {
    if (!isMap(v.extra)) return fail(`${path}.extra must be an object of string lists, got ${typeName(v.extra)}`);
    for (const [k, list] of Object.entries(v.extra)) {
      if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) fail(`${path}.extra[${show(k)}] must be a list of strings`);
    }
    info.extra = v.extra as Record<string, string[]>;
  }
  return info;
}

/** The parts of an object the fields read: kind, apiVersion, metadata name/namespace/labels/annotations. */
function checkObjectMeta(o: KubeObject, path: string): void {
  for (const k of ['kind', 'apiVersion'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'string') fail(`${path}.${k} must be a string, got ${typeName(o[k])}`);
  }
  const meta = o.metadata;
  if (meta === undefined || meta === null) return;
  if (!isMap(meta)) return fail(`${path}.metadata must be an object, got ${typeName(meta)}`);
  for (const k of ['name', 'namespace', 'generateName'] as const) {
    if (meta[k] !== undefined && meta[k] !== null && typeof meta[k] !== 'string') fail(`${path}.metadata.${k} must be a string, got ${typeName(meta[k])}`);
  }
  for (const k of ['labels', 'annotations'] as const) {
    const m = meta[k];
    if (m === undefined || m === null) continue;
    if (!isMap(m)) return fail(`${path}.metadata.${k} must be a map of strings, got ${typeName(m)}`);
    for (const key of Object.keys(m)) {
      if (typeof m[key] !== 'string') fail(`${path}.metadata.${k}[${show(key)}] must be a string, got ${typeName(m[key])}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Responses

export interface AdmissionStatus {
  code: number;
  reason?: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  /** Shown by kubectl as `Warning: …` lines (allowed or not). */
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: AdmissionApiVersion;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** What a response needs from the review it answers: the same apiVersion, and the request uid. */
export type ReviewRef = { apiVersion: AdmissionApiVersion; request: { uid: string } };

/**
 * The API server truncates each warning past 256 characters and ignores warnings past 4096
 * characters in total (from all webhooks), so each is cut to fit and the list is capped.
 */
export const MAX_WARNING_CHARS = 256;
export const MAX_WARNINGS_TOTAL = 4096;
/** Denial messages are kept to one readable line. */
export const MAX_MESSAGE_CHARS = 1024;

export interface ResponseOptions {
  /** Start of the denial message (default "denied by Gatehouse policy"). */
  messagePrefix?: string;
}

// eslint-disable-next-line no-control-regex -- control characters are what this removes
const oneLine = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim();
const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * The response to a review for a verdict of evaluate(): allowed unless the decision is deny;
 * a denial's status.message names each policy that denied; every violation that did not
 * deny (the `warn` decision, or inform-only policies beside a denial) becomes a warning,
 * as kubectl prints them (`Warning: <policy-id>: <title>`).
 */
export function admissionResponse(
  review: ReviewRef,
  verdict: Pick<Verdict, 'decision' | 'violations' | 'enforcement'>,
  opts: ResponseOptions = {},
): AdmissionReviewResponse {
  const denying = verdict.decision === 'deny' ? verdict.violations.filter((f) => deniesWith(f, verdict.enforcement)) : [];
  const warning = verdict.violations.filter((f) => !denying.includes(f));
  const response: AdmissionResponse = { uid: review.request.uid, allowed: verdict.decision !== 'deny' };
  if (!response.allowed) {
    const ids = [...new Set(denying.map(policyId))];
    const parts = ids.map((id) => {
      const f = denying.find((x) => policyId(x) === id)!;
      return `${id} (${oneLine(f.title)})`;
    });
    const message = `${opts.messagePrefix ?? 'denied by Gatehouse policy'}: ${parts.join('; ')}`;
    response.status = { code: 403, reason: 'Forbidden', message: cut(oneLine(message), MAX_MESSAGE_CHARS) };
  }
  const warnings = warningsFor(warning);
  if (warnings.length) response.warnings = warnings;
  return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response };
}

/**
 * A refusal that is not a policy verdict: a request the webhook could not read (400), or a
 * failure inside it (500) when it fails closed. The message is one line.
 */
export function admissionErrorResponse(review: ReviewRef, message: string, code = 400): AdmissionReviewResponse {
  return {
    apiVersion: review.apiVersion,
    kind: 'AdmissionReview',
    response: {
      uid: review.request.uid,
      allowed: false,
      status: { code, reason: code >= 500 ? 'InternalError' : 'BadRequest', message: cut(oneLine(message), MAX_MESSAGE_CHARS) },
    },
  };
}

const policyId = (f: Finding): string => f.policy?.id ?? f.id;

function deniesWith(f: Finding, effective: readonly string[]): boolean {
  const own = (f.policy?.enforcement ?? '').split(',');
  return own.some((e) => effective.includes(e));
}

/** One warning per violated policy (several elements of one policy collapse), each ≤256 chars, ≤4096 in all. */
function warningsFor(findings: readonly Finding[]): string[] {
  const seen = new Set<string>();
  const all: string[] = [];
  for (const f of findings) {
    const id = policyId(f);
    if (seen.has(id)) continue;
    seen.add(id);
    all.push(cut(oneLine(`${id}: ${f.title}`), MAX_WARNING_CHARS));
  }
  const out: string[] = [];
  let total = 0;
  for (let i = 0; i < all.length; i++) {
    const w = all[i]!;
    const rest = all.length - i - 1;
    const tail = rest > 0 ? `Gatehouse: ${rest} more policy warning(s) not shown` : '';
    if (total + w.length + (rest > 0 ? tail.length : 0) > MAX_WARNINGS_TOTAL) {
      out.push(`Gatehouse: ${all.length - i} more policy warning(s) not shown`);
      break;
    }
    out.push(w);
    total += w.length;
  }
  return out;
}
