/**
 * storeEventBatches' insert path (issue 21, session 7: ON CONFLICT DO NOTHING RETURNING instead of
 * a look-up of known ids, PostgreSQL's unnest insert, alert owners looked up by namespace and
 * name) against a reference written one event at a time: the first copy of an id is stored,
 * every later one (same batch, a later batch of the call, a later call) is a duplicate, and an
 * alert gets the deployment AlertOwners.deploymentOf gives it; each stored flow's connections
 * are in the edges once. Generated fetches over a cluster where every pod name exists in two
 * namespaces under different controllers; both stores, and the two stores must hold the same
 * events, edges and edge-hours.
 */
import assert from 'node:assert/strict';
import { clusterObjects } from '../../bench/central/inventory.js';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { AlertOwners } from '../../src/central/live/alert-owner.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { storeEventBatches } from '../../src/central/store/events.js';
import { createSource } from '../../src/central/store/sources.js';
import { withFingerprint } from '../../src/findings/fingerprint.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { rng } from '../helpers/random.js';

type Objects = ReturnType<typeof clusterObjects>;
type Row = Record<string, unknown>;

/** The cluster again in namespaces `<ns>-b`: same pod names, controllers renamed `alt-…`, so a look-up that ignored the namespace would find the wrong owner. */
function withTwins(objects: Objects): Objects {
  const out: Objects = new Map([...objects].map(([k, list]) => [k, [...list]]));
  for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod']) {
    for (const o of objects.get(kind) ?? []) {
      const namespace = `${o.namespace}-b`;
      const name = kind === 'Pod' ? o.name : `alt-${o.name}`;
      const meta = o.body.metadata as { ownerReferences?: { name: string; uid: string }[] };
      const owners = meta.ownerReferences?.map((r) => ({ ...r, name: `alt-${r.name}`, uid: `b-${r.uid}` }));
      const body = { ...o.body, metadata: { ...meta, namespace, name, uid: `b-${o.uid}`, ...(owners ? { ownerReferences: owners } : {}) } };
      out.get(kind)!.push({ ...o, uid: `b-${o.uid}`, namespace, name, body });
    }
  }
  return out;
}

let sqlite: { rows: Row[]; flows: { edges: string[]; hours: string[] } } | undefined;

await storeTest('the insert path stores what one-event-at-a-time storing stores, duplicates and owners included', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const { ctx } = c;
    const source = (await createSource(ctx.db, { kind: 'cluster', name: 'prod', sealedConfig: ctx.secrets.seal('{}') }, '2026-12-07T09:00:00.000Z'))!;
    const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000 });
    const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
    for (const [kind, list] of withTwins(clusterObjects(source.id, 20, 5))) await sink.replaceKind(source.id, kind, list);
    await evaluator.settle();
    const pods = (await ctx.db.selectFrom('objects').select(['namespace', 'name']).where('kind', '=', 'Pod').orderBy('uid').execute());
    assert.equal(pods.length, 120);
    assert.equal(new Set(pods.map((p) => p.name)).size, 60, 'every pod name is in two namespaces');

    const random = rng(21);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    // Ids from a small pool, so copies fall in the same batch, a later batch and a later call.
    const event = (): IngestEvent => {
      const id = `e${Math.floor(random() * 400)}`;
      const time = `2026-12-07T10:${String(Math.floor(random() * 60)).padStart(2, '0')}:00Z`;
      const r = random();
      if (r >= 0.2 && r < 0.35) {
        const remote = { ip: pick(['192.0.2.1', '192.0.2.2', '10.0.0.2', '10.0.1.3']), port: pick([443, 8080, 15001]) };
        const bytes = random() < 0.5 ? { bytes: Math.floor(random() * 5000) } : {};
        return { id: `f${Math.floor(random() * 200)}`, type: 'flow', time, data: { protocol: 'TCP', direction: 'egress', local: { ip: '10.0.0.5', port: 40000 }, remote, firstSeen: time, lastSeen: time, connections: 1 + Math.floor(random() * 5), ...bytes, observedBy: 'ebpf' } };
      }
      if (r < 0.1) return { id, type: 'decision', time, data: { action: 'deny', rule: 'no-latest', ...(r < 0.03 ? { needsReview: true } : {}) } };
      const pod = r < 0.15 ? { namespace: 'team-0', name: 'not-there' } : pick(pods);
      return { id, type: 'alert', time, finding: { id: pick(['Terminal shell in container', 'Write below etc']), kind: 'runtime', severity: pick(['HIGH', 'MEDIUM']), title: 'runtime', resource: { k8s: { kind: 'Pod', namespace: pod.namespace, name: pod.name } }, ...(r > 0.9 ? { policy: { id: 'runtime-pack' } } : {}) }, data: { n: Math.floor(random() * 1000), ...(r > 0.15 && r < 0.2 ? { needsReview: true } : {}) } };
    };
    const owners = new AlertOwners(ctx.db);
    const expected = new Map<string, Row>();
    const flows = new Map<string, number>(); // stored flow id → its connections
    for (let call = 0; call < 4; call++) {
      const now = `2026-12-07T11:0${call}:00.000Z`;
      const batches: EventBatch[] = Array.from({ length: 12 }, (_, b) => ({
        source: b === 11 ? { kind: 'admission' as const, cluster: 'prod' } : { kind: 'sensor' as const, cluster: 'prod', host: `node-${b}`, node: `node-${b}` },
        events: Array.from({ length: 1 + Math.floor(random() * 25) }, event),
      }));
      // The reference: one event at a time, in order, against what is stored before the call.
      const want: { stored: number; duplicates: number; deployments: Set<string> }[] = [];
      for (const batch of batches) {
        const w = { stored: 0, duplicates: 0, deployments: new Set<string>() };
        for (const e of batch.events) {
          if (e.type === 'flow') {
            if (flows.has(e.id)) w.duplicates++;
            else {
              flows.set(e.id, Number(e.data!.connections));
              w.stored++;
            }
            continue;
          }
          if (expected.has(e.id)) {
            w.duplicates++;
            continue;
          }
          const finding = e.finding ? withFingerprint(e.finding) : undefined;
          const deployment = e.type === 'alert' ? await owners.deploymentOf(batch.source, e.finding) : undefined;
          expected.set(e.id, {
            id: e.id, type: e.type, source_kind: batch.source.kind, cluster: 'prod', host: batch.source.host ?? null,
            time: new Date(e.time).toISOString(), rule: finding?.policy?.id ?? finding?.id ?? String(e.data?.rule ?? e.data?.action ?? e.type),
            severity: finding?.severity ?? 'UNKNOWN', body: JSON.parse(JSON.stringify({ finding, data: e.data, source: batch.source })), received_at: now, deployment_id: deployment ?? null,
          });
          w.stored++;
          if (deployment) w.deployments.add(deployment);
        }
        want.push(w);
      }
      const got = await ctx.db.transaction().execute((trx) => storeEventBatches(trx, batches, now));
      assert.deepEqual(got.map((r) => ({ stored: r.stored, duplicates: r.duplicates, deployments: new Set(r.deployments) })), want, `call ${call}`);
    }
    const byId = (a: Row, b: Row) => (String(a.id) < String(b.id) ? -1 : 1);
    const rows: Row[] = (await ctx.db.selectFrom('events').selectAll().execute()).map((r) => ({ ...r, body: JSON.parse(r.body) as unknown })).sort(byId);
    assert.deepEqual(rows, [...expected.values()].sort(byId));
    const owned = rows.filter((r) => r.deployment_id);
    assert.ok(owned.some((r) => String((r.body as { finding: { resource: { k8s: { namespace: string } } } }).finding.resource.k8s.namespace).endsWith('-b')), 'alerts in the twin namespaces were owned');
    assert.ok(owned.length > 100 && rows.length - owned.length > 20, `owned ${owned.length} of ${rows.length}`);
    const reviews = await ctx.db.selectFrom('violations').select('subject_key').where('id', 'like', 'review-%').orderBy('subject_key').execute();
    assert.deepEqual(reviews.map((v) => v.subject_key), rows.filter((r) => (r.body as { data?: { needsReview?: boolean } }).data?.needsReview && (r.body as { finding?: unknown }).finding).map((r) => r.id));
    assert.ok(reviews.length > 0);
    // Flows: every stored flow's connections once in the edges and in the edge-hours.
    const sum = (xs: { connections: number | string }[]) => xs.reduce((n, x) => n + Number(x.connections), 0);
    const edges = await ctx.db.selectFrom('flow_edges').selectAll().execute();
    const hours = await ctx.db.selectFrom('flow_edge_hours').selectAll().execute();
    assert.ok(flows.size > 50);
    assert.equal(sum(edges), [...flows.values()].reduce((a, b) => a + b, 0));
    assert.equal(sum(hours), sum(edges));
    // Portable: without the keys and workload ids (hashes of the source's random id), numbers as numbers.
    const keyless = (x: Record<string, unknown>) => JSON.stringify(Object.entries(x).filter(([k]) => k !== 'edge_key' && k !== 'source_id')
      .map(([k, v]) => [k, typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : typeof v === 'string' && /^[0-9a-f]{32}$/.test(v) ? '<hash>' : v]));
    const flowRows = { edges: edges.map(keyless).sort(), hours: hours.map(keyless).sort() };
    // The two stores' paths differ (unnest and a LATERAL look-up on PostgreSQL): same rows
    // (a deployment's id hashes the source's random id: compared by kind, namespace and name).
    const names = new Map((await ctx.db.selectFrom('deployments').select(['id', 'kind', 'namespace', 'name']).execute()).map((d) => [d.id, `${d.kind}/${d.namespace}/${d.name}`]));
    const portable = rows.map((r) => ({ ...r, deployment_id: r.deployment_id === null ? null : names.get(String(r.deployment_id)) }));
    if (dialect === 'sqlite') sqlite = { rows: portable, flows: flowRows };
    else if (sqlite) {
      assert.deepEqual(portable, sqlite.rows, 'PostgreSQL stored the events SQLite stored');
      assert.deepEqual(flowRows, sqlite.flows, 'PostgreSQL stored the flow edges and hours SQLite stored');
    }
  } finally {
    await c.close();
  }
});
