/**
 * A bounded cache with per-entry expiry and hit/miss counters, for image-trust verdicts
 * at admission. A Map keeps insertion order, so re-inserting on every hit makes its first
 * key the least recently used one: that is the whole LRU, which is why it is written here
 * rather than pulled in as a dependency.
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
}

export class TtlLruCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private expirations = 0;

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
      this.entries.delete(key);
      this.entries.set(key, entry);
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
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
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
