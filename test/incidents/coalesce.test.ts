/**
 * The incident service takes every ingest notice that arrived before its turn in one
 * correlation and one transaction (a bus fetch emits one notice per node's batch), and stores
 * the same incidents as feeding the batches one at a time — on both stores. Notices that come
 * after a write wait for the gap between writes, unless idle() is waiting.
 */
import assert from 'node:assert/strict';
import { alertEvent } from '../../src/cli/central-push.js';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import { batchInputs } from '../../src/central/incidents/feed.js';
import { EVENT_BATCH_NOTICE, incidentService } from '../../src/central/incidents/service.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { FalcoAlert, Incident } from '../../src/runtime/incidents/index.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { at, dbProcessAlert, shellAlert, T0, unrelatedA, unrelatedB } from './scenario.js';

function batches(): EventBatch[] {
  const out: EventBatch[] = [];
  const perHost: Array<[string, FalcoAlert[]]> = [
    ['node-a', [shellAlert(at(1))]], ['node-a', [unrelatedA(at(3))]], ['node-b', [unrelatedB(at(6))]], ['node-b', [dbProcessAlert(at(8))]],
  ];
  for (let round = 0; round < 5; round++) {
    for (const [host, alerts] of perHost) {
      out.push({ source: { kind: 'sensor', host }, events: alerts.map((a) => ({ ...alertEvent('sensor', a as Alert), id: `r${round}-${host}-${a.rule}` })) });
    }
  }
  return out;
}

async function stored(c: TestCentral): Promise<string[]> {
  const r = await c.api('GET', '/api/v1/incidents?limit=100');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body.items as Incident[]).map((i) => JSON.stringify([i.title, i.hosts, i.workloads, i.tactics, i.signals, i.timeline.map((e) => e.ref)])).sort();
}

await storeTest('notices of one turn are correlated and stored in one write, with the same incidents as batch by batch', async (dialect) => {
  const now = () => new Date(T0 + 120_000);
  const together = await startTestCentral({ dialect, now });
  const oneByOne = await startTestCentral({ dialect, now });
  try {
    const service = incidentService(together.ctx);
    let writes = 0;
    together.ctx.events.on('incidents', () => writes++);
    const all = batches();
    for (const b of all) together.ctx.events.emit(EVENT_BATCH_NOTICE, b);
    await service.idle();
    assert.equal(writes, 1, `${all.length} notices in one turn: one write`);

    const reference = incidentService(oneByOne.ctx);
    for (const b of all) await reference.feed(batchInputs(b));

    const got = await stored(together);
    assert.ok(got.length >= 2, 'the scenario makes incidents');
    assert.deepEqual(got, await stored(oneByOne));
  } finally {
    await together.close();
    await oneByOne.close();
  }
});

await storeTest('notices after a write wait for the gap between writes; idle() stores them at once, the same incidents as batch by batch', async (dialect) => {
  const now = () => new Date(T0 + 120_000);
  const gapped = await startTestCentral({ dialect, now });
  const oneByOne = await startTestCentral({ dialect, now });
  try {
    // An hour's gap: within the test, only idle() can make the second write happen.
    const service = incidentService(gapped.ctx);
    service.minWriteGapMs = 3_600_000;
    let writes = 0;
    gapped.ctx.events.on('incidents', () => writes++);
    const [first, ...rest] = batches();
    gapped.ctx.events.emit(EVENT_BATCH_NOTICE, first!);
    await service.idle();
    assert.equal(writes, 1, 'the first notice is written at once');
    for (const b of rest) gapped.ctx.events.emit(EVENT_BATCH_NOTICE, b);
    // Time for a write that should not happen (a correlation and a transaction take milliseconds).
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(writes, 1, 'notices after a write wait for the gap');
    await service.idle();
    assert.equal(writes, 2, 'idle() ends the wait: the waiting notices in one write');

    const reference = incidentService(oneByOne.ctx);
    for (const b of [first!, ...rest]) await reference.feed(batchInputs(b));
    assert.deepEqual(await stored(gapped), await stored(oneByOne));
  } finally {
    await gapped.close();
    await oneByOne.close();
  }
});

await storeTest('past maxQueuedInputs the oldest waiting inputs are not correlated, and counted', async (dialect) => {
  const now = () => new Date(T0 + 120_000);
  const capped = await startTestCentral({ dialect, now });
  const reference = await startTestCentral({ dialect, now });
  try {
    const service = incidentService(capped.ctx);
    service.minWriteGapMs = 3_600_000;
    service.maxQueuedInputs = 3;
    const [first, ...rest] = batches();
    capped.ctx.events.emit(EVENT_BATCH_NOTICE, first!);
    await service.idle();
    // These wait for the gap: one alert each, only the last three are kept.
    for (const b of rest) capped.ctx.events.emit(EVENT_BATCH_NOTICE, b);
    await service.idle();
    assert.equal(service.droppedInputs, rest.length - 3);
    // Operators see the loss: Central's /metrics counts it.
    const metrics = await capped.api('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.body), new RegExp(`^gatehouse_central_incident_inputs_dropped_total(?:\\{[^}]*\\})? ${rest.length - 3}$`, 'm'));
    const ref = incidentService(reference.ctx);
    for (const b of [first!, ...rest.slice(-3)]) await ref.feed(batchInputs(b));
    const got = await stored(capped);
    assert.ok(got.length >= 2, 'the kept inputs make incidents');
    assert.deepEqual(got, await stored(reference));
  } finally {
    await capped.close();
    await reference.close();
  }
});
