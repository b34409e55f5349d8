/**
 * What alert resolution found for each (kind, namespace, name) — the controller of the first
 * live object of that name, or none — kept between fetches per Central and source. Each fetch first reads which objects of the source changed since its
 * last look (index objects_by_source_seen: kind, namespace and name only, no bodies) and
 * forgets those names; only names not known go to the store (their bodies then to OWNERS). Before, every fetch looked up
 * each of its alerts' pods, their ReplicaSets and their Deployments again (bench:scale at 15k:
 * 1,734 look-ups of ~320 names each, 4.8 s of PostgreSQL's time in a 30-s run).
 *
 * The inventory is followed through last_seen, as the network index follows it (deletions set
 * last_seen too), with the same assumption: writers' clocks agree with Central's within
 * REREAD_MS, and a write commits within REREAD_MS of its stamp.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

/** A workload's controller: what alert resolution moves to at each hop. */
export type OwnerRef = { kind: string; name: string } | undefined;
/** get() of a name not known. */
export const UNKNOWN = Symbol('unknown');

const REREAD_MS = 5000;
// ~300 B a name (measured: 22 MiB for the ~75,000 pods, ReplicaSets and Deployments a 15k-deployment fleet's alerts name).
const MAX_NAMES = 200_000;

const key = (kind: string, namespace: string, name: string) => `${kind}\u001f${namespace}\u001f${name}`;

class SourceNames {
  /** Central's clock when the last look began; the next look reads from REREAD_MS before it. */
  mark = '';
  /** Bumped by every look that found a change: a fetch that read names before it may hold stale rows. */
  generation = 0;
  /** The controller of the first live object of each name (undefined: none, or no live object). */
  readonly names = new Map<string, OwnerRef>();
  looking: Promise<void> = Promise.resolve();
}

export class OwnerNames {
  private readonly sources = new Map<string, SourceNames>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Brings the source's names up to date (one look at a time) and returns a view for one fetch:
   * known names, and a way to keep the rows the fetch reads for the others.
   */
  async begin(db: Db, sourceId: string): Promise<{ get(kind: string, namespace: string, name: string): OwnerRef | typeof UNKNOWN; keep(kind: string, found: readonly { namespace: string; name: string; owner: OwnerRef }[]): void }> {
    let s = this.sources.get(sourceId);
    if (!s) this.sources.set(sourceId, (s = new SourceNames()));
    const src = s;
    const look = src.looking.catch(() => undefined).then(() => this.look(db, sourceId, src));
    src.looking = look;
    await look;
    const generation = src.generation;
    return {
      get: (kind, namespace, name) => {
        const k = key(kind, namespace, name);
        return src.names.has(k) ? src.names.get(k) : UNKNOWN;
      },
      keep: (kind, found) => {
        // A look since this fetch's own found changes: what the fetch read may predate them.
        if (src.generation !== generation) return;
        if (src.names.size + found.length > MAX_NAMES) src.names.clear();
        for (const f of found) src.names.set(key(kind, f.namespace, f.name), f.owner);
      },
    };
  }

  private async look(db: Db, sourceId: string, s: SourceNames): Promise<void> {
    const started = new Date(this.now()).toISOString();
    if (s.mark) {
      const since = new Date(Date.parse(s.mark) - REREAD_MS).toISOString();
      const changed = await db.selectFrom('objects').select(['kind', 'namespace', 'name'])
        .where('source_id', '=', sourceId).where('last_seen', '>', since).execute();
      if (changed.length) {
        s.generation++;
        for (const r of changed) s.names.delete(key(r.kind, r.namespace, r.name));
      }
    }
    s.mark = started;
  }
}
