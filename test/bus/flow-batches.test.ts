/**
 * The flows of a whole bus fetch stored together (storeFlowBatches through storeEventBatches):
 * per-batch counts as if each batch were stored in turn, an id seen in an earlier batch is
 * the later batch's duplicate, the same edge from two fetches' batches adds up, and the
 * result equals storing the batches one by one — on both stores.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import { storeEventBatch, storeEventBatches } from '../../src/central/store/events.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';

const now = new Date().toISOString();
const t = new Date(Date.now() - 60_000).toISOString();
const flow = (id: string, remote: string, connections: number): EventBatch['events'][number] => ({
  id, type: 'flow', time: t,
  data: { protocol: 'TCP', direction: 'egress', local: { ip: '10.0.0.5', port: 40000 }, remote: { ip: remote, port: 443 }, firstSeen: t, lastSeen: t, connections, observedBy: 'ebpf' },
});
const alert = (id: string): EventBatch['events'][number] => ({ id, type: 'alert', time: t, finding: { id: 'r', kind: 'runtime', severity: 'LOW', title: 'x', resource: { host: 'h' } } });

const batches = (): EventBatch[] => [
  { source: { kind: 'sensor', host: 'node-a' }, events: [flow('f1', '192.0.2.1', 1), alert('a1'), flow('f2', '192.0.2.1', 2)] },
  { source: { kind: 'sensor', host: 'node-b' }, events: [alert('a2')] },
  { source: { kind: 'sensor', host: 'node-b' }, events: [flow('f3', '192.0.2.2', 4), flow('f1', '192.0.2.1', 100)] },
  { source: { kind: 'sensor', host: 'node-a' }, events: [flow('f4', '192.0.2.1', 8)] },
];

async function edges(c: Awaited<ReturnType<typeof startTestCentral>>): Promise<string[]> {
  const rows = await c.db().selectFrom('flow_edges').select(['host', 'dst_id', 'connections']).execute();
  return rows.map((r) => `${r.host} ${r.dst_id} ${Number(r.connections)}`).sort();
}

for (const dialect of DIALECTS) {
  test(`flows of several batches stored together equal the batches stored in turn [${dialect}]`, { skip: await dialectSkip(dialect) }, async () => {
    const together = await startTestCentral({ dialect });
    const inTurn = await startTestCentral({ dialect });
    try {
      const r = await storeEventBatches(together.db(), batches(), now);
      assert.deepEqual(r.map((x) => [x.stored, x.duplicates]), [[3, 0], [1, 0], [1, 1], [1, 0]], 'f1 again in the third batch is its duplicate');
      const one = [];
      for (const b of batches()) one.push(await storeEventBatch(inTurn.db(), b, now));
      assert.deepEqual(one.map((x) => [x.stored, x.duplicates]), r.map((x) => [x.stored, x.duplicates]));
      assert.deepEqual(await edges(together), ['node-a external:192.0.2.1/32 11', 'node-b external:192.0.2.2/32 4']);
      assert.deepEqual(await edges(together), await edges(inTurn));
      // A second fetch: the same edge adds up, known ids are duplicates.
      const again = await storeEventBatches(together.db(), [{ source: { kind: 'sensor', host: 'node-a' }, events: [flow('f5', '192.0.2.1', 16), flow('f2', '192.0.2.1', 2)] }], now);
      assert.deepEqual(again.map((x) => [x.stored, x.duplicates]), [[1, 1]]);
      assert.deepEqual(await edges(together), ['node-a external:192.0.2.1/32 27', 'node-b external:192.0.2.2/32 4']);
    } finally {
      await together.close();
      await inTurn.close();
    }
  });
}
