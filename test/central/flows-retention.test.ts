/**
 * A flow that ended before the flow retention (30 days) is accepted and deduplicated by id
 * but leaves no edge, on both stores, whenever the process last pruned. Before, such a flow
 * left an edge only when the once-a-minute prune had already run (bus.md's "on SQLite a flow
 * via the bus was recorded in flow_ids without a flow_edges row": the prune, not SQLite).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import { storeEventBatch } from '../../src/central/store/events.js';
import { FLOW_RETENTION_MS } from '../../src/central/store/flows.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';

const NOW = '2026-03-01T00:00:00.000Z';
const daysBefore = (d: number) => new Date(Date.parse(NOW) - d * 86_400_000).toISOString();

const flow = (id: string, lastSeen: string, remote: string): EventBatch['events'][number] => ({
  id, type: 'flow', time: lastSeen,
  data: { protocol: 'TCP', direction: 'egress', local: { ip: '10.0.0.5', port: 40000 }, remote: { ip: remote, port: 5432 }, firstSeen: lastSeen, lastSeen, connections: 2, observedBy: 'ebpf' },
});

for (const dialect of DIALECTS) {
  test(`flows past the retention leave no edge, within it they do [${dialect}]`, { skip: await dialectSkip(dialect) }, async () => {
    const central = await startTestCentral({ dialect });
    try {
      assert.equal(FLOW_RETENTION_MS, 30 * 86_400_000);
      const source: EventBatch['source'] = { kind: 'sensor', cluster: 'retention', host: 'node-1' };
      // Twice, with the prune's once-a-minute throttle in both states: the outcome must not depend on it.
      for (const [i, now] of [NOW, new Date(Date.parse(NOW) + 1000).toISOString()].entries()) {
        const batch: EventBatch = { source, events: [flow(`old-${i}`, daysBefore(40), `10.1.0.${i}`), flow(`recent-${i}`, daysBefore(2), `10.2.0.${i}`)] };
        const r = await storeEventBatch(central.db(), batch, now);
        assert.deepEqual([r.stored, r.duplicates], [2, 0]);
        const again = await storeEventBatch(central.db(), batch, now);
        assert.deepEqual([again.stored, again.duplicates], [0, 2], 'both ids are kept: a retry adds nothing');
      }
      const ids = (await central.db().selectFrom('flow_ids').select('id').execute()).map((r) => r.id).sort();
      assert.deepEqual(ids, ['old-0', 'old-1', 'recent-0', 'recent-1']);
      const edges = (await central.db().selectFrom('flow_edges').select('dst_id').execute()).map((r) => r.dst_id).sort();
      assert.deepEqual(edges, ['external:10.2.0.0/32', 'external:10.2.0.1/32']);
    } finally {
      await central.close();
    }
  });
}
