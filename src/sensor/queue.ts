/**
 * A bounded FIFO between the probe reader and the (sometimes waiting) event pipeline.
 * When full, new items are dropped and counted: a flood costs events, never memory, and
 * the drop count is reported.
 */
export class BoundedQueue<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  dropped = 0;
  private waiter: (() => void) | undefined;

  constructor(readonly capacity: number) {
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Returns false (and counts a drop) when the queue is full. */
  push(item: T): boolean {
    if (this.count >= this.capacity) {
      this.dropped++;
      return false;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    return true;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Resolves when an item is available (or immediately if one is). */
  wait(): Promise<void> {
    if (this.count > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Wakes a waiting consumer without an item (used to stop). */
  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
