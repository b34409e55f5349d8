/**
 * Review violations (one per stored event that says it needs review: a break-glass use) are
 * read from the event's finding and data as it is stored, no longer by parsing the stored
 * body back (issue 21, session 8). Differential: generated batches with every shape that
 * matters — decisions and alerts, with and without a finding, a policy, needsReview true or
 * only truthy, titles that JSON escapes, copies in the same and later calls — and the
 * violations must be exactly what the previous formula, applied to the stored rows, gives.
 * Both stores.
 */
import assert from 'node:assert/strict';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { storeEventBatches } from '../../src/central/store/events.js';
import type { Finding } from '../../src/findings/finding.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { rng } from '../helpers/random.js';

await storeTest('review violations: what parsing each stored body gave, for every event shape', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const { ctx } = c;
    const random = rng(8);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    const event = (): IngestEvent => {
      const id = `r${Math.floor(random() * 300)}`;
      const time = '2026-12-07T22:00:00Z';
      const review = pick([{ needsReview: true }, { needsReview: 'yes' }, { needsReview: 1 }, {}, {}]);
      const finding: Finding | undefined = random() < 0.8
        ? { id: pick(['break-glass', 'no-latest']), kind: 'policy', severity: pick(['HIGH', 'CRITICAL', 'LOW']), title: pick(['Break glass used', 'quote " backslash \\ é \u2028 😀']), resource: { k8s: { kind: 'Deployment', namespace: 'ns', name: `app-${Math.floor(random() * 5)}` } }, ...(random() < 0.5 ? { policy: { id: 'admission-pack' } } : {}) } as Finding
        : undefined;
      return { id, type: random() < 0.5 ? 'decision' : 'alert', time, ...(finding ? { finding } : {}), data: { action: 'allow', rule: 'r', ...review } };
    };
    for (let call = 0; call < 4; call++) {
      const now = `2026-12-07T22:0${call}:00.000Z`;
      const batches: EventBatch[] = Array.from({ length: 5 }, (_, b) => ({ source: b % 2 ? { kind: 'admission' as const, cluster: 'prod' } : { kind: 'sensor' as const, host: `node-${b}` }, events: Array.from({ length: 1 + Math.floor(random() * 30) }, event) }));
      await ctx.db.transaction().execute((trx) => storeEventBatches(trx, batches, now));
    }
    // The previous formula, on the rows as stored.
    const expected = [];
    for (const r of await ctx.db.selectFrom('events').selectAll().orderBy('id').execute()) {
      const body = JSON.parse(r.body) as { finding?: Finding; data?: { needsReview?: unknown } };
      if (body.data?.needsReview !== true || !body.finding) continue;
      expected.push({
        id: `review-${r.id}`, policy_id: body.finding.policy?.id ?? body.finding.id, stage: r.source_kind === 'admission' ? 'deploy' : 'runtime',
        subject_kind: 'event', subject_key: r.id, severity: body.finding.severity, title: body.finding.title, body: r.body, state: 'active', first_seen: r.received_at, last_seen: r.received_at,
      });
    }
    const got = await ctx.db.selectFrom('violations').select(['id', 'policy_id', 'stage', 'subject_kind', 'subject_key', 'severity', 'title', 'body', 'state', 'first_seen', 'last_seen']).where('id', 'like', 'review-%').orderBy('subject_key').execute();
    assert.deepEqual(got, expected);
    // The mix reached every branch: reviews of both stages, and events that needed none.
    assert.ok(new Set(got.map((v) => v.stage)).size === 2 && got.length > 10, `${got.length} reviews`);
    assert.ok(Number((await ctx.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n) > got.length * 2);
  } finally {
    await c.close();
  }
});
