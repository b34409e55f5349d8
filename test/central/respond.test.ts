/**
 * Central's cluster response (src/central/respond) against the real kube-apiserver: alerts a
 * sensor pushes through Central's real ingest route are judged by Central's own runtime
 * policies (uploaded through the API; the sensor's verdict is ignored), and the action the
 * policy asks for takes effect on the cluster — checked through the API server — with each
 * attempt stored and served by GET /api/v1/response-actions (also by incident). An alert
 * storm gives one action; kube-system is never touched; an exception stops the action; a
 * dry run changes nothing; replays, plain hosts and unknown clusters are not acted on.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fetch as undiciFetch } from 'undici';
import { alertEvent } from '../../src/cli/central-push.js';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import { CentralResponse, type CentralResponseOptions } from '../../src/central/respond/response-service.js';
import { incidentService } from '../../src/central/incidents/service.js';
import { QUARANTINE_LABEL, quarantinePolicyName } from '../../src/respond/kube-isolate.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { missing } from '../helpers/components.js';
import { createObjects, insecureAgent, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { alertFor, packText, policyId } from '../respond/policy-helper.js';
import { runCli } from '../helpers/cli.js';
import { verifyEvidence } from '../../src/respond/evidence/verify.js';
import { createPublicKey } from 'node:crypto';

const NS = 'shop';
const podSpec = { containers: [{ name: 'app', image: 'registry.example/app:1' }] };
const SHELL = 'Terminal shell in container';
const MINER = 'Detect crypto miners using the Stratum protocol';
const DROPPED = 'Drop and execute new binary in container';

describe('Central carries out cluster response (real kube-apiserver)', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)') }, () => {
  let cluster: TestCluster;
  let central: TestCentral;
  let sensorToken: string;
  const services: CentralResponse[] = [];
  const get = async (path: string): Promise<any> => {
    const res = await undiciFetch(`${cluster.server}${path}`, { headers: { authorization: `Bearer ${cluster.adminToken}`, accept: 'application/json' }, dispatcher: insecureAgent() });
    return res.status === 404 ? undefined : res.json();
  };
  const fields = (pod: string, namespace = NS) => ({ 'container.id': `c-${pod}`.slice(0, 12), 'container.name': 'app', 'k8s.ns.name': namespace, 'k8s.pod.name': pod, 'proc.cmdline': 'sh -i' });
  let seq = 0;
  // Alert times near the clock: the correlator closes incidents idle for 30 min by the clock.
  const started = Date.now();
  /** Pushes alerts as the sensor does: POST /api/v1/ingest/events with a sensor token. */
  const push = async (rule: string, pods: string[], source: Partial<EventBatch['source']> = {}) => {
    const events = pods.map((pod) => alertEvent('sensor', alertFor(rule, fields(pod.includes('/') ? pod.split('/')[1]! : pod, pod.includes('/') ? pod.split('/')[0]! : NS), new Date(started + ++seq).toISOString())));
    const r = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'prod', host: 'node1', ...source }, events }, sensorToken);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return events.map((e) => e.id);
  };
  const respond = (o: CentralResponseOptions = {}) => {
    const s = new CentralResponse(central.ctx, { onError: (m) => errors.push(m), ...o }).start();
    services.push(s);
    return s;
  };
  const errors: string[] = [];

  before(async () => {
    cluster = await startCluster();
    await createObjects(cluster, [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } },
      ...['api-1', 'api-2', 'api-3', 'api-4', 'web-1'].map((name) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels: { app: name.split('-')[0] } }, spec: podSpec })),
    ]);
    for (let i = 0; i < 100 && !(await get('/api/v1/namespaces/kube-system')); i++) await new Promise((r) => setTimeout(r, 100));
    await createObjects(cluster, [{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns-1', namespace: 'kube-system' }, spec: podSpec }]);
    central = await startTestCentral();
    sensorToken = await central.token('sensor');
    const added = await central.api('POST', '/api/v1/clusters', { name: 'prod', kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const pack = await central.api('POST', '/api/v1/policies', { pack: 'respond-test', yaml: packText([[SHELL, ['isolate']], [MINER, ['label']], [DROPPED, ['kill']]]) });
    assert.equal(pack.status, 200, JSON.stringify(pack.body));
  });
  after(async () => {
    for (const s of services) await s.stop();
    await central?.close();
    await cluster?.stop();
  });

  test('an alert storm on one pod isolates it once; the action is stored and served by incident', async () => {
    const service = respond({ cooldownMs: 60_000 });
    const ids = await push(SHELL, Array.from({ length: 200 }, () => 'api-1'));
    await service.idle();
    const pod = await get(`/api/v1/namespaces/${NS}/pods/api-1`);
    assert.equal(pod.metadata.labels[QUARANTINE_LABEL], pod.metadata.uid, JSON.stringify(pod.metadata.labels));
    const np = await get(`/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies/${quarantinePolicyName("api-1")}`);
    assert.ok(np, 'the quarantine NetworkPolicy exists');
    const other = await get(`/api/v1/namespaces/${NS}/pods/api-2`);
    assert.equal(other.metadata.labels?.[QUARANTINE_LABEL], undefined, 'only the alerting pod is quarantined');

    const listed = await central.api('GET', '/api/v1/response-actions?cluster=prod');
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    const isolations = listed.body.items.filter((a: any) => a.action === 'isolate' && a.target.name === 'api-1');
    assert.equal(isolations.length, 1, 'one action for 200 alerts (cooldown)');
    assert.equal(isolations[0].outcome, 'done', isolations[0].detail);
    assert.deepEqual(isolations[0].trigger.policies, [policyId(SHELL)]);
    assert.ok(ids.includes(isolations[0].trigger.ref), 'the trigger names the ingest event of the alert');
    assert.equal(isolations[0].trigger.by, 'central');

    // The incident the correlator opened from these alerts lists the action.
    await incidentService(central.ctx).idle();
    const incidents = await central.api('GET', '/api/v1/incidents?limit=1000');
    const inc = incidents.body.items.find((i: any) => i.timeline.some((t: any) => t.ref === isolations[0].trigger.ref));
    assert.ok(inc, `an incident holds the triggering alert (${incidents.body.items.length} incidents)`);
    assert.equal(inc.signals, 200, 'the storm is one incident');
    const byIncident = await central.api('GET', `/api/v1/response-actions?incident=${encodeURIComponent(inc.id)}`);
    assert.equal(byIncident.status, 200, JSON.stringify(byIncident.body));
    assert.deepEqual(byIncident.body.items.map((a: any) => a.id), [isolations[0].id]);
    assert.equal((await central.api('GET', '/api/v1/response-actions?incident=nope')).status, 404);
    assert.equal((await central.api('GET', '/api/v1/response-actions?incident=x&cursor=abc')).status, 400);
    assert.equal((await central.api('GET', '/api/v1/response-actions?bogus=1')).status, 400, 'unknown query parameters are refused');
    assert.equal((await central.api('GET', '/api/v1/response-actions', undefined, sensorToken)).status, 403, 'a sensor token cannot read the audit trail');
    await service.stop();
  });

  test('Central judges with its own policies: a sensor verdict asking for more is ignored; kube-system is never touched', async () => {
    const service = respond();
    // The sensor claims a verdict that asks to scale the workload to zero: Central's policies do not, so nothing happens.
    const alert = alertFor('Some rule Central has no policy for', fields('api-3'));
    const forged = alertEvent('sensor', { ...alert, gatehouse: { decision: 'deny', enforcement: ['scale-to-zero', 'kill'], policies: ['forged'] } });
    const r = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'prod', host: 'node1' }, events: [forged] }, sensorToken);
    assert.equal(r.status, 200);
    await push(SHELL, ['kube-system/coredns-1']);
    await service.idle();
    assert.ok(await get(`/api/v1/namespaces/${NS}/pods/api-3`), 'the pod is still there');
    const coredns = await get('/api/v1/namespaces/kube-system/pods/coredns-1');
    assert.equal(coredns.metadata.labels?.[QUARANTINE_LABEL], undefined);
    const listed = (await central.api('GET', '/api/v1/response-actions?cluster=prod')).body.items;
    assert.equal(listed.filter((a: any) => a.target.name === 'api-3').length, 0);
    const refused = listed.filter((a: any) => a.target.name === 'coredns-1');
    assert.equal(refused.length, 1);
    assert.equal(refused[0].outcome, 'refused');
    assert.match(refused[0].detail, /namespace kube-system is never touched/);
    await service.stop();
  });

  test('an exception stops the action; a dry run changes nothing; replays, hosts and unknown clusters are not acted on', async () => {
    const exception = await central.api('POST', '/api/v1/exceptions', { policy: policyId(MINER), namespace: NS, workload: 'web-*', owner: 'sre', reason: 'load test', expires: '2099-01-01' });
    assert.equal(exception.status, 201, JSON.stringify(exception.body));
    const dry = respond({ dryRun: true });
    await push(MINER, ['web-1', 'api-4']);
    await push(SHELL, ['api-2'], { kind: 'runtime-replay' });
    await push(SHELL, ['api-2'], { cluster: undefined, host: 'plain-host' });
    await push(SHELL, ['api-2'], { cluster: 'elsewhere' });
    await dry.idle();
    const web = await get(`/api/v1/namespaces/${NS}/pods/web-1`);
    const api4 = await get(`/api/v1/namespaces/${NS}/pods/api-4`);
    assert.equal(web.metadata.labels['gatehouse.dev/flagged'], undefined, 'excepted: not labelled');
    assert.equal(api4.metadata.labels['gatehouse.dev/flagged'], undefined, 'dry run: not labelled');
    const api2 = await get(`/api/v1/namespaces/${NS}/pods/api-2`);
    assert.equal(api2.metadata.labels?.[QUARANTINE_LABEL], undefined, 'replay, host and unknown-cluster alerts are not acted on');
    const listed = (await central.api('GET', '/api/v1/response-actions?cluster=prod&limit=1000')).body.items;
    assert.equal(listed.filter((a: any) => a.target.name === 'web-1').length, 0, 'nothing for the excepted pod');
    const dryRun = listed.filter((a: any) => a.target.name === 'api-4');
    assert.equal(dryRun.length, 1);
    assert.equal(dryRun[0].outcome, 'dry-run');
    assert.equal(dryRun[0].dryRun, true);
    assert.equal(listed.filter((a: any) => a.target.name === 'api-2').length, 0);
    assert.ok(errors.some((m) => /cluster elsewhere, which Central does not know/.test(m)), errors.join('\n'));
    await dry.stop();
  });

  test('before deleting a pod Central captures a signed evidence bundle; the incident offers it; it downloads and verifies', async () => {
    const service = respond();
    const ids = await push(DROPPED, ['api-4']);
    await service.idle();
    assert.equal(await get(`/api/v1/namespaces/${NS}/pods/api-4`), undefined, 'kill on a cluster deletes the pod (its controller replaces it)');
    const action = (await central.api('GET', '/api/v1/response-actions?cluster=prod&limit=1000')).body.items.find((a: any) => a.target.name === 'api-4' && a.action === 'delete');
    assert.ok(action, 'the kill is recorded');
    assert.equal(action.outcome, 'done', action.detail);
    assert.ok(action.evidence, 'evidence was captured before the delete');
    const evidenceDir = join(central.ctx.dataDir!, 'evidence');
    const publicKey = createPublicKey(readFileSync(join(evidenceDir, 'signing.pub')));
    const verified = await verifyEvidence(action.evidence, { publicKey });
    assert.ok(verified.ok, verified.problems.join('\n'));
    assert.equal(verified.signature, 'trusted-key');
    assert.equal(verified.manifest?.pod?.name, 'api-4');
    assert.equal(verified.manifest?.pod?.namespace, NS);
    const kinds = new Set(verified.manifest!.parts.map((p) => p.path));
    for (const part of ['inspect.json', 'owners.json', 'events.json', 'k8s-events.json', 'network.json']) assert.ok(kinds.has(part), `${part} in ${[...kinds].join(', ')}`);
    const inspect = JSON.parse(readFileSync(join(action.evidence, 'inspect.json'), 'utf8'));
    assert.equal(inspect.metadata.name, 'api-4', 'the pod as it was before the delete');
    assert.equal(inspect.metadata.managedFields, undefined);
    const trigger = JSON.parse(readFileSync(join(action.evidence, 'events.json'), 'utf8'));
    assert.equal(trigger[0]?.rule, DROPPED, 'the triggering alert is in the bundle');
    // No kubelet runs in this cluster: the API server answers the never-started container's log empty; it is still a part.
    assert.ok(kinds.has('log-app.txt'));
    assert.deepEqual(verified.manifest!.unavailable.map((u) => u.part).sort(), ['changes.json', 'processes.json'], 'what only the node can read is listed as unavailable');

    await incidentService(central.ctx).idle();
    const incidents = (await central.api('GET', '/api/v1/incidents?limit=1000')).body.items;
    const inc = incidents.find((i: any) => i.timeline.some((t: any) => ids.includes(t.ref)));
    assert.ok(inc);
    const detail = await central.api('GET', `/api/v1/incidents/${encodeURIComponent(inc.id)}`);
    assert.equal(detail.body.evidence.length, 1, JSON.stringify(detail.body.evidence));
    const offered = detail.body.evidence[0];
    assert.match(offered.path, /^\/api\/v1\/evidence\//);
    assert.equal(offered.container, `${NS}/api-4`);

    // Download as the console does, unpack with the real tar, verify with the real CLI.
    const res = await fetch(central.url + offered.path, { headers: { authorization: `Bearer ${await central.token('analyst')}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/gzip');
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-central-evidence-'));
    writeFileSync(join(work, 'bundle.tar.gz'), Buffer.from(await res.arrayBuffer()));
    const untar = spawnSync('tar', ['-xzf', 'bundle.tar.gz'], { cwd: work, encoding: 'utf8' });
    assert.equal(untar.status, 0, untar.stderr);
    const unpacked = join(work, offered.id);
    assert.deepEqual(readdirSync(unpacked).sort(), readdirSync(action.evidence).sort());
    const ok = await runCli(['evidence', 'verify', unpacked, '--key', join(evidenceDir, 'signing.pub')]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
    appendFileSync(join(unpacked, 'inspect.json'), ' ');
    const tampered = await runCli(['evidence', 'verify', unpacked, '--key', join(evidenceDir, 'signing.pub')]);
    assert.notEqual(tampered.code, 0, 'a tampered bundle fails');
    assert.match(tampered.stdout + tampered.stderr, /inspect\.json/);

    assert.equal((await central.api('GET', '/api/v1/evidence/..%2F..%2Fdata.key')).status, 400, 'a path is not an id');
    assert.equal((await central.api('GET', '/api/v1/evidence/no-such-bundle')).status, 404);
    assert.equal((await fetch(central.url + offered.path)).status, 401, 'evidence needs a token');
    await service.stop();
  });
});
