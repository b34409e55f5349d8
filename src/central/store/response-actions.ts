/** Response actions Central ran, refused or dry-ran: the response engine's audit records, kept in the store. */
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { AuditRecord, AuditSink } from '../../respond/audit.js';
import type { Incident } from '../../runtime/incidents/types.js';
import { targetKey } from '../../respond/types.js';
import { chunks, fromJson, toJson } from './json.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

export interface StoredResponseAction extends AuditRecord {
  id: string;
  /** Central's name of the cluster it acted in. */
  cluster?: string;
}

/** An AuditSink over the store: every record the responder writes becomes one row, in its own statement. */
export class StoreAuditSink implements AuditSink {
  /** `onStored`: after each row (Central emits its 'response-actions' notice). */
  constructor(private readonly db: Kysely<Database>, private readonly cluster: string, private readonly onStored?: () => void) {}

  async append(record: AuditRecord): Promise<void> {
    const id = randomUUID();
    await this.db.insertInto('response_actions').values({
      id, time: record.time, action: record.action, outcome: record.outcome, dry_run: record.dryRun ? 1 : 0, cluster: this.cluster,
      target: targetKey(record.target), event_id: record.trigger.ref ?? null, incident_id: record.trigger.incident ?? null,
      body: toJson({ ...record, id, cluster: this.cluster } satisfies StoredResponseAction),
    }).execute();
    this.onStored?.();
  }
}

/** The ingest event ids of an incident's alerts (what its response actions name as trigger.ref). */
export function alertRefs(incident: Incident): string[] {
  return [...new Set(incident.timeline.filter((t) => t.kind === 'alert').map((t) => t.ref))];
}

export interface ResponseActionQuery {
  limit: number;
  /** Only actions triggered by these ingest events (an incident's alerts). */
  eventIds?: string[];
  cluster?: string;
  /** Newest first: actions before this (time, id). */
  cursor?: { time: string; id: string };
}

/** Newest first. */
export async function listResponseActions(db: Db, q: ResponseActionQuery): Promise<StoredResponseAction[]> {
  if (q.eventIds) {
    // An incident's alerts: a bounded list (the timeline is capped), read in chunks.
    const out: StoredResponseAction[] = [];
    for (const part of chunks(q.eventIds, 300)) {
      let sel = db.selectFrom('response_actions').select('body').where('event_id', 'in', part);
      if (q.cluster) sel = sel.where('cluster', '=', q.cluster);
      for (const r of await sel.execute()) out.push(fromJson<StoredResponseAction>(r.body, {} as StoredResponseAction));
    }
    return out.sort((a, b) => (b.time === a.time ? b.id.localeCompare(a.id) : b.time.localeCompare(a.time))).slice(0, q.limit);
  }
  let sel = db.selectFrom('response_actions').select('body');
  if (q.cluster) sel = sel.where('cluster', '=', q.cluster);
  if (q.cursor) {
    const { time, id } = q.cursor;
    sel = sel.where((eb) => eb.or([eb('time', '<', time), eb.and([eb('time', '=', time), eb('id', '<', id)])]));
  }
  const rows = await sel.orderBy('time', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  return rows.map((r) => fromJson<StoredResponseAction>(r.body, {} as StoredResponseAction));
}
