/**
 * Incidents through a real Central (SQLite and PostgreSQL): the issue's two-host scenario
 * with the exec coming from the real kube-apiserver's audit webhook, alerts pushed as the
 * sensor pushes them (POST /api/v1/ingest/events, one batch per host name), a flow through
 * /api/v1/ingest/flows; the CLI reads the result. Malformed audit bodies are 400s that
 * leave nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeTest, startTestCentral, type Dialect, type TestCentral } from '../helpers/central.js';
import { missing } from '../helpers/components.js';
import { kubeBinariesPresent, kubeRequest } from '../helpers/kube-cluster.js';
import { runCli } from '../helpers/cli.js';
import { alertEvent } from '../../src/cli/central-push.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { FalcoAlert, Incident } from '../../src/runtime/incidents/index.js';
import { startAuditCluster, type AuditCluster } from './audit-cluster.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { issueServerCert, makeLocalCa, serverNames } from '../../src/central/tls/issue.js';
import { dbProcessAlert, DB_WORKLOAD, execAudit, flow, shellAlert, unrelatedA, unrelatedB, WEB_POD, WEB_WORKLOAD } from './scenario.js';

const kubeSkip = missing(kubeBinariesPresent(), 'kube-apiserver and kine are not built (.ci/setup.d/66-kube.sh)');

async function pushAlerts(central: TestCentral, token: string, host: string, alerts: FalcoAlert[], cluster?: string): Promise<void> {
  const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host, ...(cluster ? { cluster } : {}) }, events: alerts.map((a) => alertEvent('sensor', a as Alert)) }, token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.stored, alerts.length);
}

async function incidents(central: TestCentral, query = ''): Promise<Incident[]> {
  const res = await central.api('GET', `/api/v1/incidents${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.items as Incident[];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const SCENARIO = 'exec through the real apiserver, shell on host A, flow, new process on host B: ONE incident with the right tactics';

if (kubeSkip) test(SCENARIO, { skip: kubeSkip }, () => undefined);
else {
  await storeTest(SCENARIO, async (dialect) => {
    const open: Array<{ stop(): Promise<void> } | TestCentral> = [];
    try {
      await scenario(dialect, open);
    } finally {
      for (const o of open.reverse()) await ('close' in o ? o.close() : o.stop());
    }
  });
}

async function scenario(dialect: Dialect, open: Array<{ stop(): Promise<void> } | TestCentral>): Promise<void> {
  // Central over HTTPS: the apiserver's webhook client sends its bearer token over TLS only.
  const ca = await makeLocalCa(new Date(), 'incidents-test');
  const pair = await issueServerCert(ca, serverNames('127.0.0.1'), new Date());
  const plain = await startTestCentral({ dialect, build: { https: { key: pair.keyPem, cert: pair.certPem } } });
  open.push(plain);
  const url = plain.url.replace(/^http:/, 'https:');
  const agent = new Agent({ connect: { ca: ca.certPem } });
  const central: TestCentral = {
    ...plain, url,
    api: async (method, path, body, token = plain.adminToken) => {
      const res = await undiciFetch(url + path, {
        method, dispatcher: agent,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  };
  const caDir = mkdtempSync(join(tmpdir(), 'gatehouse-incidents-ca-'));
  open.push({ stop: async () => rmSync(caDir, { recursive: true, force: true }) });
  const caFile = join(caDir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const sensor = await central.token('sensor');
  // The cluster in the path: the apiserver's webhook client drops a configured query (?cluster=).
  const cluster: AuditCluster = await startAuditCluster(`${url}/api/v1/ingest/audit/default`, sensor, ca.certPem);
  open.push(cluster);
  const kube = { server: cluster.server, adminToken: cluster.adminToken };
  assert.equal((await kubeRequest(kube, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } })).status, 201);
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: WEB_POD, namespace: 'shop' }, spec: { nodeName: 'node-a', containers: [{ name: 'web', image: 'registry.local/web:1' }] } };
  assert.equal((await kubeRequest(kube, 'POST', '/api/v1/namespaces/shop/pods', pod)).status, 201);
  // kubectl exec -it web-… -c web -- sh (no kubelet answers: the request is audited all the same)
  const exec = await kubeRequest(kube, 'POST', `/api/v1/namespaces/shop/pods/${WEB_POD}/exec?command=sh&container=web&stdin=true&stdout=true&tty=true`);
  assert.ok(exec.status >= 400, `exec without a kubelet fails (${exec.status})`);

  const t = Date.now();
  const iso = (s: number) => new Date(t + s * 1000).toISOString();
  await pushAlerts(central, sensor, 'node-a', [shellAlert(iso(1)), unrelatedA(iso(3))]);
  const flows = await central.api('POST', '/api/v1/ingest/flows', { flows: [{ id: 'flow-1', ...flow(iso(5)) }] }, sensor);
  assert.equal(flows.status, 200, JSON.stringify(flows.body));
  await pushAlerts(central, sensor, 'node-b', [unrelatedB(iso(6)), dbProcessAlert(iso(8))]);

  const inc = await waitFor('the exec audit event in the incident', async () => {
    const found = (await incidents(central)).find((i) => i.workloads.includes(DB_WORKLOAD));
    return found?.timeline.some((e) => e.layer === 'api') ? found : undefined;
  });
  assert.deepEqual(inc.timeline.map((e) => [e.layer, e.kind]), [['api', 'audit'], ['runtime', 'alert'], ['network', 'flow'], ['runtime', 'alert']]);
  assert.match(inc.timeline[0]!.title, new RegExp(`^admin exec into pod shop/${WEB_POD} \\(container web\\): sh$`));
  assert.deepEqual(inc.timeline.filter((e) => e.kind === 'alert').map((e) => e.title), ['Terminal shell in container', 'Anomalous process execution']);
  assert.deepEqual(inc.tactics.map((x) => x.name), ['Execution', 'Lateral Movement']);
  assert.deepEqual(inc.techniques.map((x) => x.id), ['T1059', 'T1210', 'T1609']);
  assert.equal(inc.stage, 'Lateral Movement');
  assert.deepEqual(inc.hosts, ['node-a', 'node-b']);
  assert.deepEqual(inc.workloads, [WEB_WORKLOAD, DB_WORKLOAD]);
  assert.equal(inc.severity, 'HIGH');

  const all = await incidents(central);
  assert.equal(all.length, 3, all.map((i) => i.title).join('\n'));
  for (const other of all.filter((i) => i.id !== inc.id)) {
    assert.equal(other.signals, 1, `unrelated ${other.title} stays on its own`);
    assert.ok(!other.timeline.some((e) => e.layer === 'api' || e.layer === 'network'));
  }
  // filters and paging
  assert.deepEqual((await incidents(central, '?severity=HIGH')).map((i) => i.id), [inc.id]);
  assert.deepEqual(await incidents(central, '?state=closed'), []);
  const p1 = await central.api('GET', '/api/v1/incidents?limit=2');
  assert.equal(p1.body.items.length, 2);
  const p2 = await central.api('GET', `/api/v1/incidents?limit=2&cursor=${p1.body.nextCursor}`);
  assert.equal(p2.body.items.length, 1);
  assert.equal(p2.body.nextCursor, null);
  assert.deepEqual([...p1.body.items, ...p2.body.items].map((i: Incident) => i.id).sort(), all.map((i) => i.id).sort());
  assert.equal((await central.api('GET', '/api/v1/incidents?severity=SEVERE')).status, 400);
  assert.equal((await central.api('GET', `/api/v1/incidents/${inc.id}`)).body.id, inc.id);
  assert.equal((await central.api('GET', '/api/v1/incidents/inc-0000000000000000')).status, 404);
  // a sensor token pushes but does not read
  assert.equal((await central.api('GET', '/api/v1/incidents', undefined, sensor)).status, 403);

  // the CLI
  const analyst = await central.token('analyst');
  const cliEnv = { env: { GATEHOUSE_CA: caFile } };
  const list = await runCli(['incidents', 'list', '--server', central.url, '--token', analyst, '--format', 'json', '--severity', 'HIGH'], cliEnv);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as Incident[]).map((i) => i.id), [inc.id]);
  const table = await runCli(['incidents', 'list', '--server', central.url, '--token', analyst], cliEnv);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /ID\s+SEVERITY\s+STATE\s+STAGE/);
  assert.ok(table.stdout.includes(inc.id) && table.stdout.includes('Execution, Lateral Movement'));
  const show = await runCli(['incidents', 'show', inc.id, '--server', central.url, '--token', analyst], cliEnv);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /stage: +Lateral Movement/);
  assert.match(show.stdout, /lateral movement: a flow from the incident reached/);
  const missingOne = await runCli(['incidents', 'show', 'inc-nope', '--server', central.url, '--token', analyst], cliEnv);
  assert.notEqual(missingOne.code, 0);
  assert.match(missingOne.stderr, /404 no incident inc-nope/);
  assert.equal(missingOne.stderr.trim().split('\n').length, 1, missingOne.stderr);
  assert.doesNotMatch(missingOne.stderr, /\n\s+at /);
}

storeTest('malformed audit bodies are a 400 with nothing correlated or stored', async (dialect) => {
  const central = await startTestCentral({ dialect });
  try {
    const sensor = await central.token('sensor');
    const t = Date.now();
    const good = execAudit(new Date(t).toISOString(), 'aud-good');
    const list = (items: unknown[], extra: Record<string, unknown> = {}) => ({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items, ...extra });
    const bad: Array<[string, unknown]> = [
      ['not JSON', '{"kind": "EventList", '],
      ['wrong kind', { ...list([good]), kind: 'PodList' }],
      ['wrong apiVersion', { ...list([good]), apiVersion: 'audit.k8s.io/v1beta1' }],
      ['unknown top-level field', list([good], { extra: 1 })],
      ['items not a list', { ...list([]), items: {} }],
      ['a good event beside one without auditID', list([good, { ...good, auditID: undefined }])],
      ['a good event beside one with an unknown field', list([good, { ...good, auditID: 'aud-2', surprise: true }])],
      ['a bad timestamp', list([{ ...good, auditID: 'aud-3', requestReceivedTimestamp: 'yesterday' }])],
      ['a bad stage', list([{ ...good, auditID: 'aud-4', stage: 'Whenever' }])],
      ['a bad objectRef', list([{ ...good, auditID: 'aud-5', objectRef: { resource: 'pods', evil: 1 } }])],
    ];
    for (const [what, body] of bad) {
      const res = await central.api('POST', '/api/v1/ingest/audit', body, sensor);
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(typeof res.body.message, 'string', what);
      assert.doesNotMatch(res.body.message, /\n/, what);
    }
    assert.equal((await central.api('POST', '/api/v1/ingest/audit?surprise=1', list([good]), sensor)).status, 400);
    assert.equal((await central.api('POST', '/api/v1/ingest/audit', list([good]), await central.token('analyst'))).status, 403);
    assert.equal((await central.api('POST', '/api/v1/ingest/audit', list([good]), '')).status, 401);
    // An alert in the pod the refused batches named: its incident holds no exec, and nothing else was stored.
    await pushAlerts(central, sensor, 'node-a', [shellAlert(new Date(t + 1000).toISOString())]);
    const items = await incidents(central);
    assert.equal(items.length, 1);
    assert.deepEqual(items[0]!.timeline.map((e) => e.layer), ['runtime']);
    // the same exec in a well-formed batch (as the admission role may send it) joins
    const ok = await central.api('POST', '/api/v1/ingest/audit', list([good]), await central.token('admission'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual((await incidents(central))[0]!.timeline.map((e) => e.layer), ['api', 'runtime']);
    // the apiserver's webhook client appends ?timeout=; anything else there is refused above
    assert.equal((await central.api('POST', '/api/v1/ingest/audit?timeout=30s&cluster=prod', list([good]), sensor)).status, 200);
    // the cluster in the path (what the apiserver keeps): a name, and only ?timeout= beside it
    assert.equal((await central.api('POST', '/api/v1/ingest/audit/prod?timeout=30s', list([good]), sensor)).status, 200);
    assert.equal((await central.api('POST', '/api/v1/ingest/audit/prod?cluster=other', list([good]), sensor)).status, 400);
    assert.equal((await central.api('POST', '/api/v1/ingest/audit/..%2Fx', list([good]), sensor)).status, 400);
    assert.equal((await central.api('POST', '/api/v1/ingest/audit/prod', list([good]), await central.token('analyst'))).status, 403);
    // …and that cluster is the exec's: it joins a shell in cluster prod's web pod, not default's
    const prodExec = execAudit(new Date(t + 60_000).toISOString(), 'aud-prod');
    assert.equal((await central.api('POST', '/api/v1/ingest/audit/prod', list([prodExec]), sensor)).status, 200);
    await pushAlerts(central, sensor, 'node-c', [shellAlert(new Date(t + 61_000).toISOString())], 'prod');
    const prodIncident = await waitFor('the prod exec in the prod shell incident', async () =>
      (await incidents(central)).find((i) => i.workloads.includes(WEB_WORKLOAD.replace('k8s:default/', 'k8s:prod/')) && i.timeline.some((e) => e.layer === 'api')));
    assert.ok(!prodIncident.workloads.includes(WEB_WORKLOAD));
    const doc = await central.api('GET', '/api/v1/openapi.json');
    assert.equal(doc.status, 200);
    for (const path of ['/api/v1/ingest/audit', '/api/v1/ingest/audit/{cluster}', '/api/v1/ingest/flows', '/api/v1/incidents', '/api/v1/incidents/{id}']) assert.ok(doc.body.paths[path], `OpenAPI lists ${path}`);
  } finally {
    await central.close();
  }
});
