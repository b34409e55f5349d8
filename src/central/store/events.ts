/**
 * Alerts and decisions. Each event carries its sender's idempotency key as its id; a batch
 * is stored in one transaction and keys already stored are dropped, so at-least-once
 * delivery stores every event once.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import type { EventBatch } from '../client/ingest-types.js';
import { chunks, toJson } from './json.js';
import { AlertOwners } from '../live/alert-owner.js';
import { NetworkIndex } from '../network/endpoints.js';
import type { ObservedFlow } from '../../network/flow.js';
import { storeFlowEvents } from './flows.js';
import type { Database, EventsTable } from './schema.js';

/**
 * Flow events (type `flow`) are not rows of `events`: they are resolved and added to the
 * aggregated observed edges (store/flows.ts), in the same transaction, deduplicated by id
 * through `flow_ids`. Pass Central's NetworkIndex (networkIndexOf(ctx)) so endpoint
 * resolution reuses its inventory index; without one a fresh index is built for the batch.
 */
export async function storeEventBatch(db: Transaction<Database> | Kysely<Database>, batch: EventBatch, now: string, network?: NetworkIndex): Promise<{ stored: number; duplicates: number; deployments: string[] }> {
  const flows = batch.events.filter((e) => e.type === 'flow').map((e) => ({ id: e.id, data: e.data as unknown as ObservedFlow }));
  const flowsStored = flows.length ? await storeFlowEvents(db, batch.source, flows, now, network ?? new NetworkIndex()) : 0;
  // Within one batch the first event of a key wins, as across batches.
  const unique = new Map(batch.events.filter((e) => e.type !== 'flow').map((e) => [e.id, e]));
  const ids = [...unique.keys()];
  const known = new Set<string>();
  for (const part of chunks(ids, 500)) {
    for (const r of await db.selectFrom('events').select('id').where('id', 'in', part).execute()) known.add(r.id);
  }
  const rows: EventsTable[] = [];
  const owners = new AlertOwners(db);
  for (const e of unique.values()) {
    if (known.has(e.id)) continue;
    const finding = e.finding ? withFingerprint(e.finding) : undefined;
    const deployment = e.type === 'alert' ? await owners.deploymentOf(batch.source, finding) : undefined;
    rows.push({
      id: e.id,
      type: e.type,
      source_kind: batch.source.kind,
      cluster: batch.source.cluster ?? null,
      host: batch.source.host ?? null,
      time: new Date(e.time).toISOString(),
      rule: finding?.policy?.id ?? finding?.id ?? String(e.data?.rule ?? e.data?.action ?? e.type),
      severity: finding?.severity ?? 'UNKNOWN',
      body: toJson({ finding, data: e.data, source: batch.source }),
      received_at: now,
      deployment_id: deployment ?? null,
    });
  }
  for (const part of chunks(rows, 300)) await db.insertInto('events').values(part).execute();
  await openReviewViolations(db, rows, now);
  const deployments = [...new Set(rows.map((r) => r.deployment_id).filter((d): d is string => d !== null))];
  const stored = rows.length + flowsStored;
  return { stored, duplicates: batch.events.length - stored, deployments };
}

/**
 * An event that says it needs review (a break-glass use at admission) opens a violation of
 * its own, active until someone resolves it: every use is reviewed once.
 */
async function openReviewViolations(db: Transaction<Database> | Kysely<Database>, rows: readonly EventsTable[], now: string): Promise<void> {
  for (const r of rows) {
    const body = JSON.parse(r.body) as { finding?: Finding; data?: { needsReview?: unknown } };
    if (body.data?.needsReview !== true || !body.finding) continue;
    await db.insertInto('violations').values({
      id: `review-${r.id}`.slice(0, 200), policy_id: body.finding.policy?.id ?? body.finding.id, stage: r.source_kind === 'admission' ? 'deploy' : 'runtime',
      subject_kind: 'event', subject_key: r.id, severity: body.finding.severity, title: body.finding.title, body: r.body,
      state: 'active', exception_id: null, first_seen: now, last_seen: now, resolved_at: null,
    }).execute();
  }
}
