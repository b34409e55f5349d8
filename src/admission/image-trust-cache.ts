/**
 * A bounded cache with per-entry expiry and hit/miss counters, for image-trust verdicts
 * at admission. Least recently used goes first when it is full: a hit stamps its entry with
 * a use counter, and an insertion into a full cache drops the lowest stamp. (Re-inserting
 * every hit into the Map, to keep recency in insertion order, rebuilt the Map's table every
 * few hits, and those tables were promoted garbage that brought on major GCs at hundreds of
 * requests a second. A hit is the hot path; an insertion follows a registry round trip, so
 * its scan of the entries costs nothing that shows.) Small enough to write here rather
 * than pull in a dependency.
 */

export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries dropped because the cache was full. */
  evictions: number;
  /** Entries dropped because their time was up. */
  expirations: number;
  size: number;
  max: number;
}

interface Entry<V> {
  value: V;
  expiresAt: number;
  /** The use counter at the last hit or insertion. */
  usedAt: number;
}

export class TtlLruCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;
  private uses = 0;

  constructor(
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`cache size must be a positive integer, not ${max}`);
  }

  /** The live value under `key`, counted as a hit, or undefined, counted as a miss. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > this.now()) {
      entry.usedAt = ++this.uses;
      this.hits++;
      return entry.value;
    }
    if (entry) {
      this.entries.delete(key);
      this.expirations++;
    }
    this.misses++;
    return undefined;
  }

  /** Milliseconds until the live entry under `key` expires (undefined when there is none); counts nothing. */
  timeLeft(key: string): number | undefined {
    const entry = this.entries.get(key);
    const left = entry ? entry.expiresAt - this.now() : 0;
    return left > 0 ? left : undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    const existing = this.entries.get(key);
    if (existing) Object.assign(existing, { value, expiresAt: this.now() + ttlMs, usedAt: ++this.uses });
    else this.entries.set(key, { value, expiresAt: this.now() + ttlMs, usedAt: ++this.uses });
    while (this.entries.size > this.max) {
      let oldest: string | undefined;
      let oldestUse = Infinity;
      for (const [k, e] of this.entries) {
        if (e.usedAt < oldestUse) {
          oldest = k;
          oldestUse = e.usedAt;
        }
      }
      this.entries.delete(oldest!);
      this.evictions++;
    }
  }

  clear(): void {
    this.entries.clear();
  }

  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, evictions: this.evictions, expirations: this.expirations, size: this.entries.size, max: this.max };
  }
}
