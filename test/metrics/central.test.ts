/**
 * Central's GET /metrics on both stores: a token is required (401 without, any reader role
 * will do, a push-only role is 403), the answer is the Prometheus text format, and the
 * counters follow real traffic: a pushed event batch moves the ingest and request counters.
 */
import assert from 'node:assert/strict';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { assertProcessMetrics, parseExposition, scrape } from './prom-text.js';

const alert = (id: string) => ({
  id, type: 'alert', time: '2026-12-07T01:00:00Z',
  finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'HIGH', title: 'A shell was spawned', resource: { container: { id: 'c1', name: 'web' } }, policy: { id: 'Terminal shell in container' } },
  data: { 'proc.cmdline': 'bash' },
});
const decision = (id: string) => ({ id, type: 'decision', time: '2026-12-07T01:00:00Z', data: { action: 'container.create', decision: 'allow' } });

await storeTest('GET /metrics needs a token and counts pushes, requests and latencies', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const url = `${c.url}/metrics`;
    const anon = await fetch(url);
    assert.equal(anon.status, 401);
    assert.match(await anon.text(), /API token is required/);
    const sensor = await c.token('sensor');
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${sensor}` } })).status, 403, 'a push-only token does not read metrics');
    const reader = await c.token('analyst');
    const auth = { headers: { authorization: `Bearer ${reader}` } };

    const before = await scrape(url, auth);
    assertProcessMetrics(before);
    assert.equal(before.types.get('gatehouse_central_http_requests_total'), 'counter');
    assert.equal(before.types.get('gatehouse_central_http_request_duration_seconds'), 'histogram');
    assert.equal(before.types.get('gatehouse_central_ingest_batches_total'), 'counter');
    assert.equal(before.types.get('gatehouse_central_image_pool_in_flight'), 'gauge');
    assert.equal(before.value('gatehouse_central_store_info', { dialect }), 1, 'the store dialect is a label');
    assert.equal(before.value('gatehouse_central_http_requests_total', { route: '/metrics', status: '401' }), 1, 'the refused scrape was counted under its route');
    assert.equal(before.value('gatehouse_central_ingest_batches_total', { kind: 'events' }), 0);

    const batch = { source: { kind: 'sensor', cluster: 'prod', node: 'n1' }, events: [alert('a1'), alert('a2'), decision('d1')] };
    assert.equal((await c.api('POST', '/api/v1/ingest/events', batch, sensor)).status, 200);
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { ...batch, events: [alert('a3')] }, sensor)).status, 200);
    assert.equal((await c.api('POST', '/api/v1/ingest/events', { ...batch, events: [{ ...alert('a4'), time: 'yesterday' }] }, sensor)).status, 400);

    const after = await scrape(url, auth);
    assert.equal(after.value('gatehouse_central_ingest_batches_total', { kind: 'events' }), 2, 'the refused batch is not counted');
    assert.equal(after.value('gatehouse_central_ingest_events_total', { type: 'alert' }), 3);
    assert.equal(after.value('gatehouse_central_ingest_events_total', { type: 'decision' }), 1);
    assert.equal(after.value('gatehouse_central_changes_total', { notice: 'events' }), 2, 'each stored batch notified background work once');
    const route = '/api/v1/ingest/events';
    assert.equal(after.value('gatehouse_central_http_requests_total', { method: 'POST', route, status: '200' }), 2);
    assert.equal(after.value('gatehouse_central_http_requests_total', { method: 'POST', route, status: '400' }), 1);
    assert.equal(after.value('gatehouse_central_http_request_duration_seconds_count', { method: 'POST', route }), 3);
    assert.equal(after.value('gatehouse_central_http_request_duration_seconds_bucket', { method: 'POST', route, le: '+Inf' }), 3);
    assert.ok(after.value('gatehouse_central_http_request_duration_seconds_sum', { method: 'POST', route }) > 0);
    assert.ok(after.value('gatehouse_central_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }) >= 1);
    assert.ok(!after.samples.some((s) => Object.values(s.labels).some((v) => v.includes('a1') || v === 'prod')), 'no ids or clusters as labels');
  } finally {
    await c.close();
  }
});

await storeTest('two Centrals in one process keep their own counters', async (dialect) => {
  const [a, b] = [await startTestCentral({ dialect }), await startTestCentral({ dialect })];
  const text = async (c: typeof a) => parseExposition(await (await fetch(`${c.url}/metrics`, { headers: { authorization: `Bearer ${c.adminToken}` } })).text());
  const counted = await (async () => {
    await a.api('GET', '/api/v1/summary');
    return [(await text(a)).value('gatehouse_central_http_requests_total', { route: '/api/v1/summary' }), (await text(b)).value('gatehouse_central_http_requests_total', { route: '/api/v1/summary' })];
  })().finally(async () => {
    // Both close even when one fails (an open pool would keep the test process alive).
    const closed = await Promise.allSettled([a.close(), b.close()]);
    const failed = closed.find((r) => r.status === 'rejected');
    if (failed) console.error(`# closing a test Central: ${String(failed.reason)}`);
  });
  assert.deepEqual(counted, [1, 0]);
});
