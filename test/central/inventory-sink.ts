/** An InventorySink in memory for the watcher tests: the store's contract, kept in maps. */
import type { InventoryObject, InventorySink } from '../../src/central/inventory/types.js';

export class MemorySink implements InventorySink {
  readonly objects = new Map<string, InventoryObject>();
  readonly statuses: { up: boolean; message?: string }[] = [];
  replaces = 0;

  private key(sourceId: string, kind: string, uid: string): string {
    return `${sourceId}\u0000${kind}\u0000${uid}`;
  }

  async upsert(obj: InventoryObject): Promise<void> {
    this.objects.set(this.key(obj.sourceId, obj.kind, obj.uid), obj);
  }

  async remove(sourceId: string, kind: string, uid: string): Promise<void> {
    this.objects.delete(this.key(sourceId, kind, uid));
  }

  async replaceKind(sourceId: string, kind: string, objects: InventoryObject[]): Promise<void> {
    this.replaces++;
    for (const [k, o] of this.objects) if (o.sourceId === sourceId && o.kind === kind) this.objects.delete(k);
    for (const o of objects) this.objects.set(this.key(sourceId, kind, o.uid), o);
  }

  status(_sourceId: string, state: { up: boolean; message?: string }): void {
    this.statuses.push(state);
  }

  /** Objects of a kind, by `namespace/name` (or `name`). */
  named(kind: string): Map<string, InventoryObject> {
    const out = new Map<string, InventoryObject>();
    for (const o of this.objects.values()) if (o.kind === kind) out.set(o.namespace ? `${o.namespace}/${o.name}` : o.name, o);
    return out;
  }

  get lastStatus(): { up: boolean; message?: string } | undefined {
    return this.statuses.at(-1);
  }
}

/** Polls `check` until it returns true; fails with `what` and the last state after `timeoutMs`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000, describe: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${describe() ? `: ${describe()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
