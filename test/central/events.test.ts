import assert from 'node:assert/strict';
import { startTestCentral, storeTest } from '../helpers/central.js';

const alert = (id: string, severity = 'HIGH', time = '2026-12-07T01:00:00Z') => ({
  id, type: 'alert', time,
  finding: { id: 'Terminal shell in container', kind: 'runtime', severity, title: 'A shell was spawned', resource: { container: { id: 'c1', name: 'web' } }, policy: { id: 'Terminal shell in container' } },
  data: { 'proc.cmdline': 'bash' },
});

await storeTest('event batches are stored once per id, all or nothing', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const sensor = await c.token('sensor');
    const batch = { source: { kind: 'sensor', cluster: 'prod', node: 'n1' }, events: [alert('a1'), alert('a2', 'CRITICAL'), alert('a1')] };
    const r1 = await c.api('POST', '/api/v1/ingest/events', batch, sensor);
    assert.equal(r1.status, 200);
    assert.deepEqual(r1.body, { stored: 2, duplicates: 1 });
    const r2 = await c.api('POST', '/api/v1/ingest/events', { ...batch, events: [alert('a2'), alert('a3', 'LOW', '2026-12-07T02:00:00Z')] }, sensor);
    assert.deepEqual(r2.body, { stored: 1, duplicates: 1 });
    const bad = await c.api('POST', '/api/v1/ingest/events', { ...batch, events: [alert('a4'), { ...alert('a5'), time: 'yesterday' }] }, sensor);
    assert.equal(bad.status, 400);
    const list = await c.api('GET', '/api/v1/alerts');
    assert.deepEqual(list.body.items.map((x: { id: string }) => x.id), ['a3', 'a2', 'a1']);
    assert.equal(list.body.items[1].severity, 'CRITICAL');
    assert.equal(list.body.items[0].cluster, 'prod');
    assert.deepEqual((await c.api('GET', '/api/v1/alerts?severity=critical,high')).body.items.map((x: { id: string }) => x.id), ['a2', 'a1']);
    assert.equal((await c.api('GET', '/api/v1/alerts?severity=severe')).status, 400);
    const p1 = await c.api('GET', '/api/v1/alerts?limit=2');
    const p2 = await c.api('GET', `/api/v1/alerts?limit=2&cursor=${p1.body.nextCursor}`);
    assert.deepEqual(p2.body.items.map((x: { id: string }) => x.id), ['a1']);
    assert.equal(p2.body.nextCursor, null);
    assert.equal((await c.api('GET', '/api/v1/alerts', undefined, sensor)).status, 403, 'a sensor pushes but does not read');
  } finally {
    await c.close();
  }
});

await storeTest('a break-glass use opens a violation that stays active until reviewed', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const admission = await c.token('admission');
    const use = {
      id: 'bg-1', type: 'alert', time: '2026-12-07T03:00:00Z',
      finding: { id: 'break-glass', kind: 'policy', severity: 'HIGH', title: 'break-glass annotation let Pod prod/web through', resource: { k8s: { kind: 'Pod', namespace: 'prod', name: 'web' } }, policy: { id: 'break-glass' } },
      data: { needsReview: true, breakGlass: { ticket: 'INC-42' } },
    };
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'admission', cluster: 'prod' }, events: [use, { ...use, id: 'other', data: {} }] }, admission)).status, 200);
    await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'admission', cluster: 'prod' }, events: [use] }, admission);
    const open = (await c.api('GET', '/api/v1/violations?state=active')).body.items;
    assert.equal(open.length, 1, 'one violation per use, none for events without needsReview, none for a re-sent use');
    assert.equal(open[0].policyId, 'break-glass');
    assert.equal((await c.api('PATCH', `/api/v1/violations/${open[0].id}`, { state: 'resolved' }, await c.token('analyst'))).status, 403);
    const reviewed = await c.api('PATCH', `/api/v1/violations/${open[0].id}`, { state: 'resolved' });
    assert.equal(reviewed.status, 200);
    assert.equal(reviewed.body.state, 'resolved');
    assert.equal((await c.api('PATCH', '/api/v1/violations/nope', { state: 'resolved' })).status, 404);
    assert.equal((await c.api('PATCH', `/api/v1/violations/${open[0].id}`, { state: 'active' })).status, 400);
  } finally {
    await c.close();
  }
});
