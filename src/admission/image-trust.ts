/**
 * Image trust at admission: every container image of a pod or workload template is held to
 * the trust policy `gatehouse image verify --policy` uses (src/trust: cosign `.sig`
 * signatures and sigstore bundles, k of n keys), tags are resolved to digests through the
 * registry client, and the verified digest is what `/mutate` pins, so what runs is what was
 * verified.
 *
 * Verdicts are cached by repository and digest (a digest's signatures are about its
 * repository) in a bounded LRU with a TTL; tag resolutions get a shorter TTL of their own.
 * A tag moved inside that window still runs the digest that was verified, because the patch
 * pins it. Work that cannot finish by the caller's deadline becomes a 'timeout' verdict; the
 * caller applies fail-closed or fail-open. The work itself carries on and fills the cache,
 * so the next request for the image is answered from it.
 */
import { formatReference, type RegistryReference } from '../image/reference.js';
import { registryReference } from '../trust/image-target.js';
import { decide, findRule, ruleKeys, type TrustPolicy, type TrustRule } from '../trust/policy.js';
import { RegistryStore } from '../trust/registry-write.js';
import { verifyImageSignatures } from '../trust/verify.js';
import { describeError, isUserError } from '../util/errors.js';
import { TtlLruCache, type CacheStats } from './image-trust-cache.js';
import type { ContainerImage } from './image-trust-images.js';

/** An image as containerImagesOf gives it; path and container are optional (no path, no patch). */
export type ImageToCheck = Pick<ContainerImage, 'image'> & Partial<Omit<ContainerImage, 'image'>>;

/**
 * verified: signatures satisfy a `require` rule. exempt: the policy lets the image through
 * unsigned. rejected: the policy or the evidence says no (always deny). timeout / error:
 * nothing could be decided (by the deadline, or the registry failed): the caller's failure
 * policy decides.
 */
export type ImageTrustOutcome = 'verified' | 'exempt' | 'rejected' | 'timeout' | 'error';

export interface ImageTrustVerdict {
  image: string;
  /** JSON pointer of the image field, when the caller gave one. */
  path?: string;
  container?: string;
  /** The manifest digest the image resolved to (and was verified at). */
  digest?: string;
  /** The trust policy admits the image. */
  allowed: boolean;
  /** Signatures by the required keys verified. */
  verified: boolean;
  /** The keys whose signatures verified, comma-separated. */
  signer?: string;
  /** Why: the policy's reason, the timeout, or the registry error. */
  reason?: string;
  outcome: ImageTrustOutcome;
  /** Answered from the verdict cache. */
  cached: boolean;
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export interface ImageTrustResult {
  verdicts: ImageTrustVerdict[];
  /** Replaces each verified image that has a path by `image@digest`. */
  patches: JsonPatchOp[];
}

export interface ImageTrustCheckOptions {
  /** Absolute time (Date.now() milliseconds) by which the verdicts are due. */
  deadline: number;
}

export interface ImageTrustGateOptions {
  policy: TrustPolicy;
  /** Opens the store for one registry (credentials, --insecure); one is kept per registry. */
  openStore?: (registry: string) => RegistryStore;
  /** Most verdicts kept (default 10 000); tag resolutions keep as many. */
  cacheSize?: number;
  /** How long an admitted verdict is reused (default 5 minutes). */
  verdictTtlMs?: number;
  /** How long a refusal is reused, shorter so a newly signed image gets in soon (default 30 s). */
  negativeTtlMs?: number;
  /** How long a tag → digest resolution is reused (default 30 s). */
  tagTtlMs?: number;
  now?: () => number;
}

export interface ImageTrustStats {
  verdicts: CacheStats;
  tags: CacheStats;
  /** Tag resolutions and verifications under way (each shared by every request waiting for it). */
  inFlight: number;
}

type Decided = Omit<ImageTrustVerdict, 'image' | 'path' | 'container'>;

/** An image decided by the policy alone: an unreadable reference, or no `require` rule. */
interface FixedPlan {
  fixed: Decided;
}

/** An image under a `require` rule: its verdict is the registry's evidence, cached by digest. */
interface RequiredPlan {
  fixed?: undefined;
  ref: RegistryReference;
  rule: TrustRule;
  /** The tag cache's key (the reference as written out). */
  tagKey: string;
  /** The verdict cache's key for a digest (`registry/repository@digest`), the last one kept. */
  verdictKey(digest: string): string;
}

type ImagePlan = FixedPlan | RequiredPlan;

function planFor(policy: TrustPolicy, image: string): ImagePlan {
  let ref: RegistryReference;
  try {
    ref = registryReference(image);
  } catch (e) {
    return { fixed: { allowed: false, verified: false, outcome: 'rejected', reason: describeError(e), cached: false } };
  }
  const repo = `${ref.registry}/${ref.repository}`;
  const rule = findRule(policy, repo);
  if (rule?.action !== 'require') {
    const d = decide(policy, rule);
    return { fixed: { digest: ref.digest, allowed: d.allowed, verified: false, outcome: d.allowed ? 'exempt' : 'rejected', reason: d.reason, cached: false } };
  }
  // A tag's digest changes rarely: keeping the last key saves building it per lookup.
  let lastDigest = '';
  let lastKey = '';
  const verdictKey = (digest: string): string => {
    if (digest !== lastDigest) [lastDigest, lastKey] = [digest, `${repo}@${digest}`];
    return lastKey;
  };
  return { ref, rule, tagKey: formatReference(ref), verdictKey };
}

/** Pins each verified image that has a path and no digest yet to `image@digest`. */
function withPatches(verdicts: ImageTrustVerdict[]): ImageTrustResult {
  const patches: JsonPatchOp[] = [];
  for (const v of verdicts) {
    if (v.outcome !== 'verified' || !v.path || !v.digest || v.image.includes('@')) continue;
    patches.push({ op: 'replace', path: v.path, value: `${v.image}@${v.digest}` });
  }
  return { verdicts, patches };
}

const TIMEOUT = Symbol('timeout');

/** The fraction of a tag's TTL, at its end, in which a lookup also re-resolves it in the background. */
const TAG_REFRESH_AHEAD = 0.2;

/** Admission is a hot path: one quick retry, not the pull path's patient backoff. */
function defaultStore(registry: string): RegistryStore {
  return new RegistryStore(registry, { retry: { attempts: 2, baseDelayMs: 100, maxDelayMs: 250 } });
}

export class ImageTrustGate {
  private readonly verdicts: TtlLruCache<Decided>;
  private readonly tags: TtlLruCache<string>;
  private readonly inFlight = new Map<string, Promise<Decided>>();
  private readonly resolving = new Map<string, Promise<string>>();
  private readonly stores = new Map<string, RegistryStore>();
  private readonly now: () => number;
  private readonly verdictTtl: number;
  private readonly negativeTtl: number;
  private readonly tagTtl: number;
  private readonly plans = new Map<string, ImagePlan>();
  private readonly planLimit: number;

  constructor(private readonly opts: ImageTrustGateOptions) {
    this.now = opts.now ?? Date.now;
    const size = opts.cacheSize ?? 10_000;
    this.verdicts = new TtlLruCache(size, this.now);
    this.tags = new TtlLruCache(size, this.now);
    this.planLimit = size;
    this.verdictTtl = opts.verdictTtlMs ?? 5 * 60_000;
    this.negativeTtl = opts.negativeTtlMs ?? 30_000;
    this.tagTtl = opts.tagTtlMs ?? 30_000;
  }

  /**
   * Verdicts for `images` (strings or images with their JSON pointer) and the pinning
   * patches. When every verdict is in the caches (the common case at admission) the result
   * comes at once, not as a promise: the webhook then answers without a timer or a race.
   */
  check(images: readonly (string | ImageToCheck)[], opts: ImageTrustCheckOptions): ImageTrustResult | Promise<ImageTrustResult> {
    const verdicts: ImageTrustVerdict[] = new Array<ImageTrustVerdict>(images.length);
    let pending: Promise<void>[] | undefined;
    for (let i = 0; i < images.length; i++) {
      const given = images[i]!;
      const item = typeof given === 'string' ? { image: given } : given;
      const plan = this.planOf(item.image);
      if (plan.fixed) {
        verdicts[i] = { image: item.image, path: item.path, container: item.container, ...plan.fixed };
        continue;
      }
      // Each cache is looked up once either way; a miss carries the digest found on.
      const digest = plan.ref.digest ?? this.cachedTag(plan);
      const hit = digest === undefined ? undefined : this.verdicts.get(plan.verdictKey(digest));
      if (hit) verdicts[i] = { image: item.image, path: item.path, container: item.container, ...hit, cached: true };
      else (pending ??= []).push(this.checkUncached(item, plan, digest, opts.deadline).then((v) => void (verdicts[i] = v)));
    }
    return pending ? Promise.all(pending).then(() => withPatches(verdicts)) : withPatches(verdicts);
  }

  stats(): ImageTrustStats {
    return { verdicts: this.verdicts.stats(), tags: this.tags.stats(), inFlight: this.inFlight.size + this.resolving.size };
  }

  /** Closes the registry connections (waits for requests under way). */
  async close(): Promise<void> {
    const stores = [...this.stores.values()];
    this.stores.clear();
    await Promise.all(stores.map((s) => s.close()));
  }

  /** An image under a `require` rule whose verdict the caches did not hold: the registry, within the deadline. */
  private async checkUncached(item: ImageToCheck, plan: RequiredPlan, digest: string | undefined, deadline: number): Promise<ImageTrustVerdict> {
    const where = { image: item.image, path: item.path, container: item.container };
    const work = this.decideRequired(plan.ref, plan.rule, digest);
    const remaining = deadline - this.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof TIMEOUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMEOUT), Math.max(0, remaining));
    });
    try {
      const decided = await Promise.race([work, late]);
      if (decided === TIMEOUT) {
        return { ...where, allowed: false, verified: false, outcome: 'timeout', reason: `verification of ${item.image} did not finish within the ${Math.max(0, Math.round(remaining))} ms admission budget`, cached: false };
      }
      return { ...where, ...decided };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * What an image reference means under the policy, worked out once per distinct image
   * text: its parse, its rule and, without a `require` rule, its verdict (the policy alone
   * decides, no registry). The policy is fixed for the gate's life, so this never goes
   * stale; the table is bounded and simply starts over when full.
   */
  private planOf(image: string): ImagePlan {
    let plan = this.plans.get(image);
    if (plan) return plan;
    plan = planFor(this.opts.policy, image);
    if (this.plans.size >= this.planLimit) this.plans.clear();
    this.plans.set(image, plan);
    return plan;
  }

  /** The verdict under a `require` rule: tag resolved, cache consulted, else verified once for all waiters. */
  /** After check's cache lookups missed: `digest` is the one they found (its verdict was not cached), or none. */
  private async decideRequired(ref: RegistryReference, rule: TrustRule, digest: string | undefined): Promise<Decided> {
    const repo = `${ref.registry}/${ref.repository}`;
    if (digest === undefined) {
      try {
        digest = await this.resolveTag(ref);
      } catch (e) {
        return failure(e, ref.digest);
      }
      const hit = this.verdicts.get(`${repo}@${digest}`);
      if (hit) return { ...hit, cached: true };
    }
    const key = `${repo}@${digest}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.verify(ref, digest, rule, key).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async verify(ref: RegistryReference, digest: string, rule: TrustRule, key: string): Promise<Decided> {
    try {
      const evidence = await verifyImageSignatures(this.store(ref.registry), { ref, digest }, ruleKeys(this.opts.policy, rule), { annotations: rule.annotations });
      const d = decide(this.opts.policy, rule, evidence);
      const decided: Decided = {
        digest,
        allowed: d.allowed,
        verified: d.allowed,
        signer: d.satisfiedKeys.length ? d.satisfiedKeys.join(', ') : undefined,
        reason: d.reason,
        outcome: d.allowed ? 'verified' : 'rejected',
        cached: false,
      };
      this.verdicts.set(key, decided, d.allowed ? this.verdictTtl : this.negativeTtl);
      return decided;
    } catch (e) {
      return failure(e, digest);
    }
  }

  /** The live digest of a tag from the cache (counted as a hit or a miss), or undefined. */
  private cachedTag(plan: RequiredPlan): string | undefined {
    const key = plan.tagKey;
    const known = this.tags.get(key);
    if (known) {
      // Refresh ahead: in the last part of its TTL a tag is re-resolved in the background
      // while the live digest still answers, so with steady traffic no request waits on
      // the registry when the TTL runs out. A failed refresh changes nothing: the entry
      // expires as before and the next request resolves it (and reports the failure).
      const left = this.tags.timeLeft(key);
      if (left !== undefined && left <= this.tagTtl * TAG_REFRESH_AHEAD && !this.resolving.has(key)) this.startResolve(plan.ref, key).catch(() => undefined);
    }
    return known;
  }

  /** A tag the cache did not have: one registry lookup at a time. */
  private resolveTag(ref: RegistryReference): Promise<string> {
    const key = formatReference(ref);
    return this.resolving.get(key) ?? this.startResolve(ref, key);
  }

  /** One registry lookup of a tag at a time; its digest goes into the cache. */
  private startResolve(ref: RegistryReference, key: string): Promise<string> {
    const pending = this.store(ref.registry)
      .resolveDigest(ref.repository, ref.tag ?? 'latest')
      .then((digest) => {
        this.tags.set(key, digest, this.tagTtl);
        return digest;
      })
      .finally(() => this.resolving.delete(key));
    this.resolving.set(key, pending);
    return pending;
  }

  private store(registry: string): RegistryStore {
    let store = this.stores.get(registry);
    if (!store) {
      store = (this.opts.openStore ?? defaultStore)(registry);
      this.stores.set(registry, store);
    }
    return store;
  }
}

/** A registry failure: an image that does not exist is refused; anything else is undecided. */
function failure(e: unknown, digest: string | undefined): Decided {
  const notFound = isUserError(e) && e.code === 'not-found';
  return { digest, allowed: false, verified: false, outcome: notFound ? 'rejected' : 'error', reason: describeError(e), cached: false };
}
