/**
 * The admission webhook: an HTTPS server (fastify) the Kubernetes API server calls with
 * AdmissionReview v1 requests.
 *   POST /validate  the policies (reviewAdmission) and, with an image-trust hook, the images
 *   POST /mutate    pins verified images to their digests (JSON patch); no policy verdicts,
 *                   which /validate gives after mutation, on the object as it will be stored
 *   GET  /healthz   liveness
 *   GET  /metrics   Prometheus metrics (src/admission/metrics.ts), with the scrape token
 * Every answer is sent within the budget (default 2 s, below the API server's timeout):
 * work still running at the deadline is abandoned and the answer is fail-closed (deny) or
 * fail-open (allow with a warning), as configured. A body that is not a readable
 * AdmissionReview gets HTTP 400 `{error, message}`, the one error shape of the server.
 */
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Finding } from '../findings/finding.js';
import { compilePolicySet, type PolicySet } from '../policy/evaluate.js';
import type { SubjectRegistry } from '../policy/subject.js';
import type { Policy, PolicyException } from '../policy/types.js';
import { describeError, isUserError } from '../util/errors.js';
import { metricsAuthorized, metricsText, secondsSince } from '../util/metrics.js';
import { AdmissionMetrics, type TrustCacheStats } from './metrics.js';
import { exclusionOf, reviewAdmission, type ReviewOutcome, type ReviewerOptions } from './decide.js';
import { resourceWithSub } from './fields/request.js';
import { breakGlassAnnotations } from './policies.js';
import { DEFAULT_MAX_REVIEW_BYTES, parseAdmissionReview, type AdmissionReview, type AdmissionReviewResponse, type KubeObject } from './review.js';

export const DEFAULT_BUDGET_MS = 2000;

/** An image of the object, with the JSON pointer a pinning patch replaces. */
export interface HookImage {
  image: string;
  path?: string;
  container?: string;
}

/** One image's verdict from the image-trust hook (src/admission/image-trust.ts fills it). */
export interface HookImageVerdict {
  image: string;
  container?: string;
  allowed: boolean;
  /** verified | exempt | rejected | timeout | error: timeout and error are left to the failure policy. */
  outcome: string;
  reason?: string;
}

export interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export interface HookResult {
  verdicts: HookImageVerdict[];
  patches: JsonPatchOperation[];
}

/** The image-trust check the webhook calls (ImageTrustGate has this shape). */
export interface ImageTrustHook {
  /** A result at once when every verdict is known without waiting (cached); else a promise. */
  check(images: readonly HookImage[], opts: { deadline: number }): HookResult | Promise<HookResult>;
  /** Cache counters, for /metrics. */
  stats?(): TrustCacheStats;
}

export interface ImageTrustWiring {
  gate: ImageTrustHook;
  /** The images of a pod or workload object (containerImagesOf). */
  imagesOf(object: KubeObject): HookImage[];
}

/** One answer, for the audit log and Central. */
export interface AdmissionAuditRecord {
  time: string;
  endpoint: 'validate' | 'mutate';
  uid: string;
  operation: string;
  /** `pods`, `pods/exec`, `deployments`… */
  resource: string;
  kind: string;
  namespace: string;
  name: string;
  user: string;
  groups: string[];
  dryRun: boolean;
  /** What the API server was told. */
  allowed: boolean;
  /** deny, warn (allowed with warnings) or allow. */
  decision: 'allow' | 'deny' | 'warn';
  message?: string;
  warnings: string[];
  /** Policies violated (before break-glass and audit mode). */
  policies: string[];
  findings: Finding[];
  excludedBy?: string;
  breakGlass?: { annotation: string; ticket: string; overridden: string[]; finding: Finding };
  /** Audit mode turned a denial into a warning. */
  wouldDeny?: boolean;
  /** The budget ran out; `failClosed` says what that meant. */
  timedOut?: boolean;
  failClosed: boolean;
  durationMs: number;
}

export interface AdmissionAuditSink {
  write(record: AdmissionAuditRecord): void;
}

export type AdmissionLog = (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;

export interface AdmissionServerOptions {
  policies: readonly Policy[];
  exceptions?: readonly PolicyException[];
  subjects: SubjectRegistry;
  /** Serving certificate and key (PEM). Without them the server speaks plain HTTP (tests, a TLS-terminating proxy in front). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  host?: string;
  /** 0 picks a free port (see url after start()). */
  port?: number;
  /** Milliseconds every answer is due in (default 2000). */
  budgetMs?: number;
  /** When the budget runs out or an image cannot be decided: deny (true) or allow with a warning (false, the default). */
  failClosed?: boolean;
  dryRunOnly?: boolean;
  excludeNamespaces?: readonly string[];
  excludeLabels?: readonly string[];
  cluster?: string;
  imageTrust?: ImageTrustWiring;
  audit?: AdmissionAuditSink;
  log?: AdmissionLog;
  /** Largest AdmissionReview accepted (default 3 MiB, the API server's own limit). */
  maxBodyBytes?: number;
  now?: () => Date;
  /** Where the counters go (default: a registry of its own); served at GET /metrics. */
  metrics?: AdmissionMetrics;
  /** The scrape token GET /metrics requires as a bearer token; without one, /metrics is off (404). */
  metricsToken?: string;
}

const TIMED_OUT = Symbol('timed-out');

export class AdmissionServer {
  private app?: FastifyInstance;
  private set: PolicySet;
  private breakGlass: string[];
  private reviewer?: ReviewerOptions;
  private readonly budgetMs: number;
  private readonly failClosed: boolean;
  private readonly log: AdmissionLog;
  readonly metrics: AdmissionMetrics;
  /** https://host:port once started. */
  url = '';

  constructor(private readonly opts: AdmissionServerOptions) {
    this.set = compilePolicySet(opts.policies, opts.subjects, { exceptions: opts.exceptions });
    this.breakGlass = breakGlassAnnotations(opts.policies);
    this.budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
    this.failClosed = opts.failClosed ?? false;
    this.log = opts.log ?? (() => undefined);
    this.metrics = opts.metrics ?? new AdmissionMetrics();
    const gate = opts.imageTrust?.gate;
    if (gate?.stats) this.metrics.watchTrustCache(() => gate.stats!());
  }

  /** Replaces the policies (a reload); requests under way finish with the old set. */
  setPolicies(policies: readonly Policy[], exceptions: readonly PolicyException[] = []): void {
    this.set = compilePolicySet(policies, this.opts.subjects, { exceptions });
    this.breakGlass = breakGlassAnnotations(policies);
  }

  async start(): Promise<string> {
    const maxBytes = this.opts.maxBodyBytes ?? DEFAULT_MAX_REVIEW_BYTES;
    const app = Fastify({
      logger: false,
      // A little over the review limit, so parseAdmissionReview names the size itself.
      bodyLimit: maxBytes + 1024,
      ...(this.opts.tls ? { https: { cert: this.opts.tls.cert, key: this.opts.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
      routerOptions: { ignoreTrailingSlash: false },
    }) as unknown as FastifyInstance;
    app.removeAllContentTypeParsers();
    // The raw bytes go to parseAdmissionReview, which checks size, UTF-8 and depth before JSON.parse.
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.setErrorHandler((error: Error, _req, reply) => {
      const err = error as FastifyError;
      if (isUserError(error) || (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)) this.metrics.errors.inc({ kind: 'bad-request' });
      if (isUserError(error)) return reply.code(400).send({ error: error.code, message: error.message });
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
        const message = err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? `invalid AdmissionReview: body is over the ${maxBytes}-byte limit` : err.message.split('\n')[0]!;
        return reply.code(err.statusCode).send({ error: err.statusCode === 413 ? 'too-large' : 'bad-request', message });
      }
      this.log('error', 'internal error', { error: describeError(err) });
      return reply.code(500).send({ error: 'internal', message: 'internal error (see the webhook log)' });
    });
    app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not-found', message: `no route ${req.method} ${req.url.split('?')[0]} (the webhook serves POST /validate and POST /mutate)` }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    // Every API needs a token: the webhook's reviews come from the API server (mTLS is the
    // cluster's business), but metrics are for anyone who can reach the port.
    app.get('/metrics', async (req, reply) => {
      const token = this.opts.metricsToken;
      if (!token) return reply.code(404).type('text/plain').send('metrics are off: start with --metrics-token-file FILE (or GATEHOUSE_METRICS_TOKEN)\n');
      if (!metricsAuthorized(req.headers.authorization, token)) return reply.code(401).header('www-authenticate', 'Bearer realm="gatehouse-metrics"').type('text/plain').send('a bearer token is required (the scrape token)\n');
      return reply.header('content-type', this.metrics.registry.contentType).send(await metricsText(this.metrics.registry));
    });
    app.post('/validate', (req, reply) => this.answer('validate', req, reply));
    app.post('/mutate', (req, reply) => this.answer('mutate', req, reply));
    await app.listen({ host: this.opts.host ?? '127.0.0.1', port: this.opts.port ?? 0 });
    this.app = app;
    const addr = app.server.address() as { address: string; port: number };
    const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
    this.url = `${this.opts.tls ? 'https' : 'http'}://${host}:${addr.port}`;
    return this.url;
  }

  async close(): Promise<void> {
    await this.app?.close();
  }

  /**
   * One review. When nothing waits on I/O (no image check, or every image verdict cached:
   * the common case) the answer is built synchronously, with no budget timer, promise race
   * or microtask hops; synchronous work cannot be cut off by a timer anyway. Only an
   * answer that waits on the registry races the budget.
   */
  private answer(endpoint: 'validate' | 'mutate', req: FastifyRequest, reply: FastifyReply): AdmissionReviewResponse | Promise<AdmissionReviewResponse> {
    const started = Date.now();
    const startedNs = process.hrtime.bigint();
    const deadline = started + this.budgetMs;
    const body = req.body;
    // No body at all (no content-type) reaches here as undefined: the parser says what is wrong.
    const review = parseAdmissionReview(Buffer.isBuffer(body) ? body : '', { maxBytes: this.opts.maxBodyBytes ?? DEFAULT_MAX_REVIEW_BYTES });
    let work: Answer | Promise<Answer>;
    try {
      work = endpoint === 'validate' ? this.validate(review, deadline) : this.mutate(review, deadline);
    } catch (e) {
      work = this.failed(endpoint, review, e);
    }
    if (!isPromise(work)) return this.finish(endpoint, review, reply, work, false, started, startedNs);
    return this.withinBudget(endpoint, review, work, deadline).then((result) =>
      result === TIMED_OUT
        ? this.finish(endpoint, review, reply, { response: this.failureResponse(review, `Gatehouse did not decide within its ${this.budgetMs} ms budget`) }, true, started, startedNs)
        : this.finish(endpoint, review, reply, result, false, started, startedNs),
    );
  }

  /** The work's answer, or TIMED_OUT when the budget runs out first. */
  private async withinBudget(endpoint: 'validate' | 'mutate', review: AdmissionReview, work: Promise<Answer>, deadline: number): Promise<Answer | typeof TIMED_OUT> {
    let timer: NodeJS.Timeout | undefined;
    const budget = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()));
    });
    // The work may still fail after the budget won the race: its failure is logged, not thrown.
    work.catch((e: unknown) => this.log('error', `${endpoint} ${review.request.uid}: ${describeError(e)}`));
    try {
      return await Promise.race([work, budget]);
    } catch (e) {
      return this.failed(endpoint, review, e);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A check that threw: logged, counted, answered by the failure policy. */
  private failed(endpoint: 'validate' | 'mutate', review: AdmissionReview, e: unknown): Answer {
    this.log('error', `${endpoint} ${review.request.uid}: ${describeError(e)}`);
    this.metrics.errors.inc({ kind: 'error' });
    return { response: this.failureResponse(review, `Gatehouse could not decide: ${describeError(e)}`) };
  }

  private finish(endpoint: 'validate' | 'mutate', review: AdmissionReview, reply: FastifyReply, answer: Answer, timedOut: boolean, started: number, startedNs: bigint): AdmissionReviewResponse {
    this.record(endpoint, review, answer, { timedOut, durationMs: Date.now() - started });
    const r = answer.response.response;
    this.metrics.answered(endpoint, review.request.operation, !r.allowed ? 'deny' : r.warnings?.length ? 'warn' : 'allow', secondsSince(startedNs));
    if (timedOut) this.metrics.errors.inc({ kind: 'timeout' });
    void reply.header('content-type', 'application/json');
    return answer.response;
  }

  /** The answer when nothing could be decided in time (or a hook failed): the failure policy's. */
  private failureResponse(review: AdmissionReview, why: string): AdmissionReviewResponse {
    const { uid } = review.request;
    if (this.failClosed) {
      return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid, allowed: false, status: { code: 500, reason: 'InternalError', message: `${why} (fail-closed)` } } };
    }
    return { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid, allowed: true, warnings: [`${why}; admitted unchecked (fail-open)`] } };
  }

  /** The reviewer's options for the policies in force (built once per policy set, not per request). */
  private reviewerOptions(): ReviewerOptions {
    if (this.reviewer?.set === this.set) return this.reviewer;
    const o = this.opts;
    return (this.reviewer = {
      set: this.set, breakGlassAnnotations: this.breakGlass, cluster: o.cluster, dryRunOnly: o.dryRunOnly,
      excludeNamespaces: o.excludeNamespaces, excludeLabels: o.excludeLabels, now: o.now,
    });
  }

  private validate(review: AdmissionReview, deadline: number): Answer | Promise<Answer> {
    const opts = this.reviewerOptions();
    const images = this.checkImages(review, deadline, opts);
    return isPromise(images) ? images.then((i) => reviewed(review, opts, i)) : reviewed(review, opts, images);
  }

  /** Image verdicts as refusals and warnings; unknown ones (timeout, error) follow the failure policy. */
  private checkImages(review: AdmissionReview, deadline: number, opts: ReviewerOptions): ImageChecks | Promise<ImageChecks> {
    const wiring = this.opts.imageTrust;
    const { request } = review;
    if (!wiring || !request.object || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return NO_IMAGE_CHECKS;
    if (exclusionOf(request, opts)) return NO_IMAGE_CHECKS;
    const images = wiring.imagesOf(request.object);
    if (images.length === 0) return NO_IMAGE_CHECKS;
    const result = wiring.gate.check(images, { deadline });
    return isPromise(result) ? result.then((r) => this.imageChecksOf(r)) : this.imageChecksOf(result);
  }

  private imageChecksOf({ verdicts, patches }: HookResult): ImageChecks {
    const out: ImageChecks = { denials: [], warnings: [], patches };
    for (const v of verdicts) {
      const what = `image ${v.image}${v.container ? ` (container ${v.container})` : ''}`;
      if (v.allowed) continue;
      const unknown = v.outcome === 'timeout' || v.outcome === 'error';
      const line = `image-trust: ${what} ${unknown ? 'could not be verified' : 'is not trusted'}${v.reason ? `: ${v.reason}` : ''}`;
      if (!unknown || this.failClosed) out.denials.push(line + (unknown ? ' (fail-closed)' : ''));
      else out.warnings.push(`${line}; admitted unverified (fail-open)`);
    }
    return out;
  }

  private mutate(review: AdmissionReview, deadline: number): Answer | Promise<Answer> {
    const images = this.checkImages(review, deadline, this.reviewerOptions());
    return isPromise(images) ? images.then((i) => this.pinned(review, i)) : this.pinned(review, images);
  }

  private pinned(review: AdmissionReview, images: ImageChecks): Answer {
    const { request } = review;
    const base: AdmissionReviewResponse = { apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: request.uid, allowed: true } };
    // Refusals are /validate's to give (after every mutation); /mutate only pins what verified.
    if (images.patches.length) {
      base.response = { ...base.response, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(images.patches)).toString('base64') } as typeof base.response;
    }
    return { response: base };
  }

  private record(endpoint: 'validate' | 'mutate', review: AdmissionReview, answer: Answer, extra: { timedOut: boolean; durationMs: number }): void {
    const outcome = answer.outcome;
    // Without an audit sink the record is only for the break-glass and budget log lines:
    // a plain answer builds none (it is per request, on the hot path).
    if (!this.opts.audit && !outcome?.breakGlass && !extra.timedOut) return;
    const { response } = answer.response;
    const { request } = review;
    const findings = outcome?.verdict.violations ?? [];
    const rec: AdmissionAuditRecord = {
      time: new Date().toISOString(),
      endpoint,
      uid: request.uid,
      operation: request.operation,
      resource: resourceWithSub({ request }),
      kind: request.kind.kind,
      namespace: request.namespace,
      name: request.name || (typeof (request.object?.metadata as { generateName?: unknown } | undefined)?.generateName === 'string' ? String((request.object!.metadata as { generateName: string }).generateName) : ''),
      user: request.userInfo.username,
      groups: request.userInfo.groups,
      dryRun: request.dryRun,
      allowed: response.allowed,
      decision: !response.allowed ? 'deny' : response.warnings?.length ? 'warn' : 'allow',
      ...(response.status?.message ? { message: response.status.message } : {}),
      warnings: response.warnings ?? [],
      policies: [...new Set(findings.map((f) => f.policy?.id ?? f.id))],
      findings,
      ...(outcome?.excludedBy ? { excludedBy: outcome.excludedBy } : {}),
      ...(outcome?.wouldDeny ? { wouldDeny: true } : {}),
      ...(extra.timedOut ? { timedOut: true } : {}),
      failClosed: this.failClosed,
      durationMs: extra.durationMs,
    };
    const bg = outcome?.breakGlass;
    if (bg) {
      rec.breakGlass = { annotation: bg.annotation, ticket: bg.ticket, overridden: [...new Set(bg.overridden.map((f) => f.policy?.id ?? f.id)), ...bg.overriddenOther], finding: bg.finding };
      // Every use is audited, whatever else is configured.
      this.log('warn', 'break-glass used', {
        ticket: bg.ticket, annotation: bg.annotation, user: rec.user, operation: rec.operation, resource: rec.resource,
        namespace: rec.namespace, name: rec.name, overridden: rec.breakGlass.overridden, uid: rec.uid,
      });
    }
    if (extra.timedOut) this.log('warn', `budget of ${this.budgetMs} ms ran out`, { uid: rec.uid, endpoint, allowed: rec.allowed, failClosed: this.failClosed });
    try {
      this.opts.audit?.write(rec);
    } catch (e) {
      this.log('error', `audit: ${describeError(e)}`);
    }
  }
}

/** What the image-trust hook adds to a review. */
interface ImageChecks {
  denials: string[];
  warnings: string[];
  patches: JsonPatchOperation[];
}

/** No image was checked (shared: nothing writes to it). */
const NO_IMAGE_CHECKS = Object.freeze({ denials: Object.freeze([]), warnings: Object.freeze([]), patches: Object.freeze([]) }) as unknown as ImageChecks;

function reviewed(review: AdmissionReview, opts: ReviewerOptions, extras: ImageChecks): Answer {
  const outcome = reviewAdmission(review, opts, extras);
  return { outcome, response: outcome.response };
}

const isPromise = <T>(v: T | Promise<T>): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';

/** A finished answer: a policy outcome, or a bare response (failure policy, /mutate). */
interface Answer {
  outcome?: ReviewOutcome;
  response: AdmissionReviewResponse;
}
