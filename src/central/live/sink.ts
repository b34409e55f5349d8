/**
 * The InventorySink over Central's store: every object a watcher reports is written with
 * first-seen and last-seen times (deletions keep the row with deleted_at), and the
 * deployments it touches are handed to the evaluator.
 */
import type { Kysely } from 'kysely';
import type { InventoryObject, InventorySink } from '../inventory/types.js';
import { chunks, toJson } from '../store/json.js';
import type { Database } from '../store/schema.js';

export interface ChangeListener {
  /** An object of `kind` in `namespace` changed on source `sourceId`. */
  changed(sourceId: string, kind: string, namespace: string, name: string): void;
}

export class StoreInventorySink implements InventorySink {
  constructor(private readonly db: Kysely<Database>, private readonly listener: ChangeListener, private readonly now: () => Date = () => new Date()) {}

  async upsert(obj: InventoryObject): Promise<void> {
    await this.write([obj]);
    this.listener.changed(obj.sourceId, obj.kind, obj.namespace ?? '', obj.name);
  }

  async remove(sourceId: string, kind: string, uid: string): Promise<void> {
    const at = this.now().toISOString();
    const row = await this.db.updateTable('objects').set({ deleted_at: at, last_seen: at })
      .where('source_id', '=', sourceId).where('kind', '=', kind).where('uid', '=', uid).where('deleted_at', 'is', null)
      .returning(['namespace', 'name']).executeTakeFirst();
    if (row) this.listener.changed(sourceId, kind, row.namespace, row.name);
  }

  async replaceKind(sourceId: string, kind: string, objects: InventoryObject[]): Promise<void> {
    const at = this.now().toISOString();
    const keep = new Set(objects.map((o) => o.uid));
    const gone: { uid: string; namespace: string; name: string }[] = [];
    await this.db.transaction().execute(async (trx) => {
      await this.write(objects, trx);
      const live = await trx.selectFrom('objects').select(['uid', 'namespace', 'name']).where('source_id', '=', sourceId).where('kind', '=', kind).where('deleted_at', 'is', null).execute();
      for (const r of live) if (!keep.has(r.uid)) gone.push(r);
      for (const part of chunks(gone.map((g) => g.uid), 500)) {
        await trx.updateTable('objects').set({ deleted_at: at, last_seen: at }).where('source_id', '=', sourceId).where('kind', '=', kind).where('uid', 'in', part).execute();
      }
    });
    for (const o of objects) this.listener.changed(sourceId, kind, o.namespace ?? '', o.name);
    for (const g of gone) this.listener.changed(sourceId, kind, g.namespace, g.name);
  }

  status(sourceId: string, state: { up: boolean; message?: string }): void {
    const at = this.now().toISOString();
    void this.db.updateTable('sources').set({ state: state.up ? 'up' : 'down', message: state.message ?? null, ...(state.up ? { last_seen: at } : {}) })
      .where('id', '=', sourceId).execute().catch(() => undefined);
  }

  private async write(objects: InventoryObject[], db: Kysely<Database> = this.db): Promise<void> {
    if (objects.length === 0) return;
    const at = this.now().toISOString();
    for (const part of chunks(objects, 200)) {
      await db.insertInto('objects').values(part.map((o) => ({
        source_id: o.sourceId, kind: o.kind, uid: o.uid, namespace: o.namespace ?? '', name: o.name,
        resource_version: o.resourceVersion ?? null, body: toJson(o.body), first_seen: at, last_seen: at, deleted_at: null,
      }))).onConflict((oc) => oc.columns(['source_id', 'kind', 'uid']).doUpdateSet((eb) => ({
        namespace: eb.ref('excluded.namespace'), name: eb.ref('excluded.name'), resource_version: eb.ref('excluded.resource_version'),
        body: eb.ref('excluded.body'), last_seen: eb.ref('excluded.last_seen'), deleted_at: null,
      }))).execute();
    }
  }
}
