/**
 * Connection policies evaluated as flows arrive (src/central/network/connection-policies.ts),
 * through the real HTTP API on SQLite and PostgreSQL: a pack of subject `connection` ("only
 * shop/web may call the payments namespace") is uploaded; sensors' flows are pushed to the
 * ingest API; the violations API then shows one active violation per offending edge — not
 * per flow or batch (a repeated batch changes nothing), none for the allowed caller nor for
 * traffic outside the policy's scope; an exception makes its edge's violation excepted and
 * later flows do not re-open it; a policy change resolves the edge it now allows.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectionPolicyEvaluator } from '../../src/central/network/connection-policies.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import { DIALECTS, dialectSkip, startTestCentral, type TestCentral } from '../helpers/central.js';

let uid = 0;
function workload(ns: string, name: string, ip: string) {
  const labels = { app: name };
  const spec = { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: `r.example/${name}:1` }] } } };
  return [
    { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, uid: `u${++uid}` }, spec },
    { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-aa11`, namespace: ns, uid: `u${++uid}`, ownerReferences: [{ kind: 'Deployment', name, controller: true }] }, spec },
    {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: `${name}-aa11-zz`, namespace: ns, uid: `u${++uid}`, labels: { ...labels, 'pod-template-hash': 'aa11' }, ownerReferences: [{ kind: 'ReplicaSet', name: `${name}-aa11`, controller: true }] },
      spec: spec.template.spec, status: { phase: 'Running', podIP: ip },
    },
  ];
}
const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: `u${++uid}`, labels: { 'kubernetes.io/metadata.name': name } } });

const pack = (allowed: string[]) => `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: payments-callers }
subject: connection
policies:
  - id: payments-unexpected-caller
    name: Unexpected caller of the payments namespace
    severity: HIGH
    stages: [runtime]
    scope: { namespaces: [payments] }
    criteria: { field: source.workload, op: notIn, value: [${allowed.join(', ')}] }
    enforcement: [inform]
`;

const IPS = { web: '10.1.0.1', batch: '10.1.0.2', ledger: '10.1.0.3', cron: '10.1.0.4' } as const;

for (const dialect of DIALECTS) {
  describe(`connection policies on ingested flows [${dialect}]`, { skip: await dialectSkip(dialect) }, () => {
    test('one violation per offending edge, exceptions and policy changes apply', async () => {
      const c: TestCentral = await startTestCentral({ dialect });
      const live = new LiveEvaluator(c.db(), c.ctx.policies, () => c.ctx.now());
      const sink = new StoreInventorySink(c.db(), live, () => c.ctx.now());
      const evaluator = connectionPolicyEvaluator(c.ctx, { debounceMs: 20, onError: (e) => assert.fail(String(e)) });
      try {
        const now = c.ctx.now().toISOString();
        await c.db().insertInto('sources').values({ id: 'cluster-k', kind: 'cluster', name: 'k', config: '{}', state: 'up', message: null, first_seen: now, last_seen: now }).execute();
        live.track('cluster-k');
        const objects = [ns('shop'), ns('payments'), ...workload('shop', 'web', IPS.web), ...workload('shop', 'batch', IPS.batch), ...workload('shop', 'cron', IPS.cron), ...workload('payments', 'ledger', IPS.ledger)];
        for (const o of objects) await sink.upsert({ sourceId: 'cluster-k', kind: o.kind, uid: o.metadata.uid, namespace: (o.metadata as { namespace?: string }).namespace, name: o.metadata.name, body: o });
        await live.settle();

        const uploaded = await c.api('POST', '/api/v1/policies', { pack: 'payments-callers', yaml: pack(['web']) });
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
        const sensor = await c.token('sensor');
        const analyst = await c.token('analyst');
        let seq = 0;
        const push = async (pairs: [keyof typeof IPS, keyof typeof IPS, number][]) => {
          const t = new Date(Date.now() - 60_000).toISOString();
          const flows: ObservedFlow[] = pairs.map(([from, to, port]) => ({
            protocol: 'TCP', direction: 'egress', local: { ip: IPS[from], port: 0, pod: { namespace: from === 'ledger' ? 'payments' : 'shop', name: `${from}-aa11-zz` } },
            remote: { ip: IPS[to], port }, firstSeen: t, lastSeen: t, connections: 1, observedBy: 'ebpf',
          }));
          const before = evaluator.evaluations;
          const r = await c.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'k' }, events: flows.map((data) => ({ id: `cp-${++seq}`, type: 'flow', time: data.firstSeen, data })) }, sensor);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          // the evaluator hears of the batch after the response; wait until it ran
          for (let i = 0; evaluator.evaluations === before; i++) {
            if (i > 500) assert.fail('no evaluation after the batch');
            await new Promise((res) => setTimeout(res, 10));
          }
          await evaluator.idle();
        };
        const violations = async (state?: string) => {
          const r = await c.api('GET', `/api/v1/violations?subjectKind=connection${state ? `&state=${state}` : ''}&limit=100`, undefined, analyst);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          return (r.body.items as { policyId: string; subject: string; severity: string; state: string; stage: string }[]).map((v) => `${v.subject} ${v.policyId} ${v.severity} ${v.stage} ${v.state}`).sort();
        };
        const dep = (space: string, n: string) => deploymentId('cluster-k', 'Deployment', space, n);
        const edge = (from: string, to: string, port: number) => `${dep('shop', from)}>${dep('payments', to)}:TCP/${port}`;

        await push([['web', 'ledger', 5432], ['batch', 'ledger', 5432], ['batch', 'web', 80], ['cron', 'ledger', 5432]]);
        const expected = [
          `${edge('batch', 'ledger', 5432)} payments-unexpected-caller HIGH runtime active`,
          `${edge('cron', 'ledger', 5432)} payments-unexpected-caller HIGH runtime active`,
        ].sort();
        assert.deepEqual(await violations(), expected, 'batch and cron call payments; web may; batch → web is out of scope');

        // The same edges again (a later interval): still one violation each.
        await push([['batch', 'ledger', 5432], ['cron', 'ledger', 5432], ['web', 'ledger', 5432]]);
        assert.deepEqual(await violations(), expected);
        // A new port is a new edge.
        await push([['batch', 'ledger', 6432]]);
        assert.deepEqual(await violations('active'), [...expected, `${edge('batch', 'ledger', 6432)} payments-unexpected-caller HIGH runtime active`].sort());

        // An exception for cron: its violation is excepted, and stays so as its flows go on.
        const exc = await c.api('POST', '/api/v1/exceptions', { policy: 'payments-unexpected-caller', namespace: 'shop', workload: 'cron', owner: 'team-cron', reason: 'nightly reconciliation until the API exists', expires: '2099-01-01' });
        assert.equal(exc.status, 201, JSON.stringify(exc.body));
        await push([['cron', 'ledger', 5432]]);
        assert.deepEqual(await violations('excepted'), [`${edge('cron', 'ledger', 5432)} payments-unexpected-caller HIGH runtime excepted`]);

        // The policy now allows batch too: its edges resolve (the policy change re-evaluates).
        const before = evaluator.evaluations;
        assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'payments-callers', yaml: pack(['web', 'batch']) })).status, 200);
        for (let i = 0; evaluator.evaluations === before; i++) {
          if (i > 500) assert.fail('no evaluation after the policy change');
          await new Promise((res) => setTimeout(res, 10));
        }
        await evaluator.idle();
        assert.deepEqual(await violations('active'), []);
        assert.deepEqual(await violations('resolved'), [
          `${edge('batch', 'ledger', 5432)} payments-unexpected-caller HIGH runtime resolved`,
          `${edge('batch', 'ledger', 6432)} payments-unexpected-caller HIGH runtime resolved`,
        ].sort());
      } finally {
        await evaluator.stop();
        live.stop();
        await c.close();
      }
    });
  });
}
