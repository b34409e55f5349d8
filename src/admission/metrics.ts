/**
 * The admission webhook's Prometheus metrics, served at GET /metrics on the webhook's own
 * listener. Labels are fixed small sets: endpoint, operation (CREATE, UPDATE, DELETE,
 * CONNECT), decision (allow, warn, deny); never a uid, name or namespace.
 */
import { Counter, Histogram, LATENCY_BUCKETS, newRegistry, totalCounter, type Registry } from '../util/metrics.js';

/** What an image-trust hook may report about its caches (ImageTrustGate.stats() has this shape). */
export interface TrustCacheStats {
  verdicts: { hits: number; misses: number; size: number };
  tags: { hits: number; misses: number; size: number };
}

export class AdmissionMetrics {
  readonly registry: Registry;
  readonly reviews: Counter<'endpoint' | 'operation' | 'decision'>;
  readonly latency: Histogram<'endpoint'>;
  readonly errors: Counter<'kind'>;
  private trust?: () => TrustCacheStats;

  constructor(registry: Registry = newRegistry('admission')) {
    this.registry = registry;
    this.reviews = new Counter({ name: 'gatehouse_admission_reviews_total', help: 'AdmissionReviews answered, by endpoint, operation and decision', labelNames: ['endpoint', 'operation', 'decision'], registers: [registry] });
    this.latency = new Histogram({ name: 'gatehouse_admission_review_duration_seconds', help: 'Time from a review arriving to its answer', labelNames: ['endpoint'], buckets: LATENCY_BUCKETS, registers: [registry] });
    this.errors = new Counter({ name: 'gatehouse_admission_errors_total', help: 'Reviews answered by the failure policy (timeout: budget ran out; error: a check failed) and bad requests (4xx)', labelNames: ['kind'], registers: [registry] });
    totalCounter(registry, 'gatehouse_admission_image_trust_cache_total', 'Image-trust cache lookups, by cache (verdicts, tags) and result (hit, miss)', ['cache', 'result'], () => {
      const s = this.trust?.();
      if (!s) return [];
      return [
        [{ cache: 'verdicts', result: 'hit' }, s.verdicts.hits], [{ cache: 'verdicts', result: 'miss' }, s.verdicts.misses],
        [{ cache: 'tags', result: 'hit' }, s.tags.hits], [{ cache: 'tags', result: 'miss' }, s.tags.misses],
      ];
    });
  }

  private readonly counted = new Map<string, { inc(): void }>();
  private readonly timed = new Map<string, { observe(v: number): void }>();

  /**
   * One answered review: counted and its latency observed. The label sets are few and
   * fixed, so each one's child is looked up once and kept (prom-client otherwise hashes the
   * labels object on every call, per request).
   */
  answered(endpoint: string, operation: string, decision: 'allow' | 'warn' | 'deny', seconds: number): void {
    const key = `${endpoint} ${operation} ${decision}`;
    let count = this.counted.get(key);
    if (!count) this.counted.set(key, (count = this.reviews.labels({ endpoint, operation, decision })));
    count.inc();
    let time = this.timed.get(endpoint);
    if (!time) this.timed.set(endpoint, (time = this.latency.labels({ endpoint })));
    time.observe(seconds);
  }

  /** Reads the image-trust caches' counters at scrape time. */
  watchTrustCache(stats: () => TrustCacheStats): void {
    this.trust = stats;
  }
}
