/**
 * A map bounded by the summed weight of its values (packages of a list, characters of a text),
 * not by their count: one value may weigh a hundred others. The oldest entries go first
 * (insertion order; a hit does not renew an entry). A value heavier than the whole budget is
 * not kept and evicts nothing: its caller uses it once. Hand-written because the image worker's
 * three memories need only this (get, add-if-absent, evict by weight), not a cache library.
 */
export class WeightedMemory<V> {
  private readonly map = new Map<string, V>();
  private held = 0;

  constructor(private readonly budget: number, private readonly weightOf: (value: V) => number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Keeps `value` under `key` unless the key is already kept, evicting the oldest to fit. */
  remember(key: string, value: V): void {
    const weight = this.weightOf(value);
    if (this.map.has(key) || weight > this.budget) return;
    for (const [oldest, old] of this.map) {
      if (this.held + weight <= this.budget) break;
      this.map.delete(oldest);
      this.held -= this.weightOf(old);
    }
    this.map.set(key, value);
    this.held += weight;
  }
}
