/**
 * GET /api/v1/incidents?host=&workload=&tactic= on both stores, and `gatehouse incidents list
 * --host --workload --tactic`: incidents made by Central's real ingest path and correlator
 * (the two-host scenario's alerts and flow, plus an unrelated alert per host). Each filter
 * answers exactly the incidents of the full list that hold the value as an element (not a
 * host named inside a title, not a workload whose name only starts the same), filters
 * combine, paging keeps the filter, and bad values are one-line 400s.
 */
import assert from 'node:assert/strict';
import { alertEvent } from '../../src/cli/central-push.js';
import { incidentService } from '../../src/central/incidents/service.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { FalcoAlert, Incident } from '../../src/runtime/incidents/index.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { at, dbProcessAlert, DB_WORKLOAD, flow, shellAlert, T0, unrelatedA, unrelatedB, WEB_WORKLOAD } from './scenario.js';

async function push(c: TestCentral, token: string, host: string, alerts: FalcoAlert[]): Promise<void> {
  const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host }, events: alerts.map((a) => alertEvent('sensor', a as Alert)) }, token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

const ids = (list: Incident[]) => list.map((i) => i.id).sort();

await storeTest('incidents filtered by host, workload and ATT&CK tactic (API and CLI)', async (dialect) => {
  const c = await startTestCentral({ dialect, now: () => new Date(T0 + 120_000) });
  try {
    const sensor = await c.token('sensor');
    await push(c, sensor, 'node-a', [shellAlert(at(1)), unrelatedA(at(3))]);
    assert.equal((await c.api('POST', '/api/v1/ingest/flows', { flows: [{ id: 'flow-1', ...flow(at(5)) }] }, sensor)).status, 200);
    await push(c, sensor, 'node-b', [unrelatedB(at(6)), dbProcessAlert(at(8))]);
    await incidentService(c.ctx).idle();

    const analyst = await c.token('analyst');
    const get = async (q: string) => {
      const r = await c.api('GET', `/api/v1/incidents${q}`, undefined, analyst);
      assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
      return r.body.items as Incident[];
    };
    const all = await get('?limit=100');
    assert.equal(all.length, 3, all.map((i) => `${i.title} ${i.hosts}`).join('\n'));
    const expect = (keep: (i: Incident) => boolean) => ids(all.filter(keep));

    // host: an element of hosts, never a substring
    const onB = expect((i) => i.hosts.includes('node-b'));
    assert.equal(onB.length, 2, 'the correlated incident and the exporter one touch node-b');
    assert.deepEqual(ids(await get('?host=node-b')), onB);
    assert.deepEqual(ids(await get('?host=node-a')), expect((i) => i.hosts.includes('node-a')));
    assert.deepEqual(await get('?host=node'), []);
    assert.deepEqual(await get('?host=node-c'), []);

    // workload: the identity itself, or any container under a workload given without one
    const withDb = expect((i) => i.workloads.includes(DB_WORKLOAD));
    assert.equal(withDb.length, 1);
    assert.deepEqual(ids(await get(`?workload=${encodeURIComponent(DB_WORKLOAD)}`)), withDb);
    const web = WEB_WORKLOAD.slice(0, WEB_WORKLOAD.lastIndexOf('/'));
    assert.deepEqual(ids(await get(`?workload=${encodeURIComponent(web)}`)), expect((i) => i.workloads.some((w) => w.startsWith(`${web}/`))));
    assert.deepEqual(ids(await get(`?workload=${encodeURIComponent(`${web}/`)}`)), ids(await get(`?workload=${encodeURIComponent(web)}`)));
    assert.deepEqual(await get(`?workload=${encodeURIComponent(web.slice(0, -1))}`), [], 'a name that only starts the same is another workload');
    assert.deepEqual(await get(`?workload=${encodeURIComponent('k8s:default/shop/%')}`), [], 'LIKE wildcards are literal');

    // tactic: by id, name or tag, any case
    const c2 = expect((i) => i.tactics.some((t) => t.id === 'TA0011'));
    assert.equal(c2.length, 1);
    for (const t of ['TA0011', 'Command and Control', 'command and control', 'mitre_command_and_control']) {
      assert.deepEqual(ids(await get(`?tactic=${encodeURIComponent(t)}`)), c2, t);
    }
    const exec = expect((i) => i.tactics.some((t) => t.name === 'Execution'));
    assert.equal(exec.length, 2);
    assert.deepEqual(ids(await get('?tactic=Execution')), exec);
    assert.deepEqual(await get('?tactic=Impact'), []);

    // combined, with paging
    const both = expect((i) => i.hosts.includes('node-a') && i.tactics.some((t) => t.name === 'Lateral Movement'));
    assert.equal(both.length, 1);
    assert.deepEqual(ids(await get('?host=node-a&tactic=Lateral%20Movement')), both);
    const p1 = await c.api('GET', '/api/v1/incidents?tactic=Execution&limit=1', undefined, analyst);
    assert.equal(p1.body.items.length, 1);
    assert.ok(p1.body.nextCursor);
    const p2 = await c.api('GET', `/api/v1/incidents?tactic=Execution&limit=1&cursor=${p1.body.nextCursor}`, undefined, analyst);
    assert.equal(p2.body.nextCursor, null);
    assert.deepEqual(ids([...p1.body.items, ...p2.body.items]), exec);

    // bad values
    const bad = await c.api('GET', '/api/v1/incidents?tactic=Sneaking', undefined, analyst);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /^unknown ATT&CK tactic "Sneaking" \(known: TA0043 Reconnaissance, /);
    assert.equal((await c.api('GET', '/api/v1/incidents?host=', undefined, analyst)).status, 400);
    assert.equal((await c.api('GET', '/api/v1/incidents?hostname=node-a', undefined, analyst)).status, 400, 'unknown parameters are errors');
    assert.equal((await c.api('GET', '/api/v1/incidents?host=node-a', undefined, sensor)).status, 403);

    // the CLI
    const cli = (...args: string[]) => runCli(['incidents', 'list', '--server', c.url, '--token', analyst, ...args]);
    const json = await cli('--format', 'json', '--host', 'node-b', '--tactic', 'Execution');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(ids(JSON.parse(json.stdout) as Incident[]), expect((i) => i.hosts.includes('node-b') && i.tactics.some((t) => t.name === 'Execution')));
    const table = await cli('--workload', DB_WORKLOAD);
    assert.equal(table.code, 0, table.stderr);
    assert.ok(table.stdout.includes(withDb[0]!), table.stdout);
    assert.equal(table.stdout.trim().split('\n').length, 2, 'header and one incident');
    const wrong = await cli('--tactic', 'Sneaking');
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown ATT&CK tactic "Sneaking"/);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
  } finally {
    await c.close();
  }
});
