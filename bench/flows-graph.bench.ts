/**
 * Central's network graph build (issue 23): 2,000 workloads (100 namespaces × 20 Deployments,
 * each with its ReplicaSet, running Pod and Service; per namespace a default-deny ingress
 * and two allow rules) and 100,000 flows (10,000 edges × 10 hours), ingested through
 * storeEventBatch into the aggregated edges; then `buildNetworkGraph` over everything,
 * timed (first build and the median of the next ones). Goal: ≤ 1 s.
 *
 * `node --import tsx bench/flows-graph.bench.ts [--store sqlite|postgres] [--quick]`
 * (PostgreSQL only when test/helpers/postgres.ts finds one).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCentralContext } from '../src/central/context.js';
import { deploymentId } from '../src/central/live/deployments.js';
import { networkIndexOf } from '../src/central/network/endpoints.js';
import { buildNetworkGraph } from '../src/central/network/graph-service.js';
import { storeEventBatch } from '../src/central/store/events.js';
import { chunks, toJson } from '../src/central/store/json.js';
import { openStore, type Store } from '../src/central/store/open.js';
import type { ObservedFlow } from '../src/network/flow.js';
import { freshDatabase, postgresAvailable } from '../test/helpers/postgres.js';

const quick = process.argv.includes('--quick');
/** --cpu-prof-dir DIR: a CPU profile of the second (warm) build per window, written there. */
const profDir = process.argv.includes('--cpu-prof-dir') ? process.argv[process.argv.indexOf('--cpu-prof-dir') + 1] : undefined;
const profile = profDir ? await profiler(profDir) : undefined;

async function profiler(dir: string) {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  return {
    start: () => session.post('Profiler.start'),
    stop: async (name: string) => {
      const { profile: p } = await session.post('Profiler.stop');
      writeFileSync(join(dir, `graph-${name}.cpuprofile`), JSON.stringify(p));
    },
  };
}
const only = process.argv.includes('--store') ? process.argv[process.argv.indexOf('--store') + 1] : undefined;
const NAMESPACES = quick ? 10 : 100;
const PER_NS = 20;
const PEERS = 5;
const HOURS = 10;
const GOAL_MS = 1000;
const NOW = new Date('2026-12-07T12:00:00.000Z');
const SOURCE = 'cluster-bench';
const TIERS = ['web', 'api', 'db', 'cache'];

const ip = (ns: number, i: number, base: number) => `10.${base}.${ns}.${10 + i}`;

function objects(): { kind: string; namespace: string; name: string; body: Record<string, any> }[] {
  const out: { kind: string; namespace: string; name: string; body: Record<string, any> }[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `ns${n}`;
    out.push({ kind: 'Namespace', namespace: '', name: ns, body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: `ns-${n}`, labels: { 'kubernetes.io/metadata.name': ns } } } });
    for (let i = 0; i < PER_NS; i++) {
      const name = `app${i}`;
      const labels = { app: name, tier: TIERS[i % TIERS.length]! };
      const spec = { selector: { matchLabels: { app: name } }, template: { metadata: { labels }, spec: { containers: [{ name, image: `registry.example/${name}:1`, ports: [{ containerPort: 8080 }] }] } } };
      out.push({ kind: 'Deployment', namespace: ns, name, body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, uid: `d-${n}-${i}`, labels }, spec } });
      out.push({ kind: 'ReplicaSet', namespace: ns, name: `${name}-6b7c8`, body: { apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: `${name}-6b7c8`, namespace: ns, uid: `rs-${n}-${i}`, ownerReferences: [{ kind: 'Deployment', name, controller: true }] }, spec } });
      out.push({ kind: 'Pod', namespace: ns, name: `${name}-6b7c8-q1w2e`, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${name}-6b7c8-q1w2e`, namespace: ns, uid: `p-${n}-${i}`, labels, ownerReferences: [{ kind: 'ReplicaSet', name: `${name}-6b7c8`, controller: true }] }, spec: spec.template.spec, status: { phase: 'Running', podIP: ip(n, i, 244) } } });
      out.push({ kind: 'Service', namespace: ns, name, body: { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, uid: `s-${n}-${i}` }, spec: { selector: { app: name }, clusterIP: ip(n, i, 96), ports: [{ port: 80, targetPort: 8080 }] } } });
    }
    const np = (name: string, spec: Record<string, unknown>) => ({ kind: 'NetworkPolicy', namespace: ns, name, body: { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns, uid: `np-${n}-${name}` }, spec } });
    out.push(np('default-deny', { podSelector: {}, policyTypes: ['Ingress'] }));
    out.push(np('web-to-api', { podSelector: { matchLabels: { tier: 'api' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'web' } } }], ports: [{ port: 8080 }] }] }));
    out.push(np('api-to-db', { podSelector: { matchLabels: { tier: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { tier: 'api' } } }], ports: [{ port: 5432 }, { port: 6379 }] }] }));
  }
  return out;
}

async function seed(store: Store): Promise<void> {
  const at = '2026-12-07T00:00:00.000Z';
  await store.db.insertInto('sources').values({ id: SOURCE, kind: 'cluster', name: 'bench', config: '{}', state: 'up', message: null, first_seen: at, last_seen: at }).execute();
  const objs = objects();
  for (const part of chunks(objs, 200)) {
    await store.db.insertInto('objects').values(part.map((o) => ({
      source_id: SOURCE, kind: o.kind, uid: o.body.metadata.uid, namespace: o.namespace, name: o.name, resource_version: '1', body: toJson(o.body), first_seen: at, last_seen: at, deleted_at: null,
    }))).execute();
  }
  const deps = objs.filter((o) => o.kind === 'Deployment');
  for (const part of chunks(deps, 300)) {
    await store.db.insertInto('deployments').values(part.map((o) => ({
      id: deploymentId(SOURCE, 'Deployment', o.namespace, o.name), source_id: SOURCE, namespace: o.namespace, kind: 'Deployment', name: o.name,
      labels: toJson(o.body.metadata.labels), images: '[]', risk_score: 1, risk: '{}', first_seen: at, last_seen: at, deleted_at: null,
    }))).execute();
  }
}

/** 10,000 edges (each workload to 5 peers, a few across namespaces or to the internet) × 10 hours. */
function* flowBatches(size: number): Generator<{ id: string; data: ObservedFlow }[]> {
  let batch: { id: string; data: ObservedFlow }[] = [];
  let seq = 0;
  for (let h = 0; h < HOURS; h++) {
    const t = new Date(NOW.getTime() - (HOURS - h) * 3_600_000);
    for (let n = 0; n < NAMESPACES; n++) {
      for (let i = 0; i < PER_NS; i++) {
        for (let k = 1; k <= PEERS; k++) {
          const j = (i + k) % PER_NS;
          const remote = k === 5 ? { ip: `93.184.${n}.${i}`, port: 443, dns: `api${i}.example.com` }
            : k === 4 ? { ip: ip((n + 1) % NAMESPACES, j, 96), port: 8080 }
              : { ip: ip(n, j, k === 3 ? 96 : 244), port: [8080, 5432, 6379][k - 1]! };
          batch.push({
            id: `f${seq++}`,
            data: {
              protocol: 'TCP', direction: 'egress', firstSeen: t.toISOString(), lastSeen: new Date(t.getTime() + 30_000).toISOString(), connections: 1 + (seq % 7), bytes: 1000, observedBy: 'ebpf',
              local: { ip: ip(n, i, 244), port: 40000 + k, pod: { namespace: `ns${n}`, name: `app${i}-6b7c8-q1w2e` }, process: { name: 'app' } }, remote,
            },
          });
          if (batch.length === size) {
            yield batch;
            batch = [];
          }
        }
      }
    }
  }
  if (batch.length) yield batch;
}

async function run(dialect: 'sqlite' | 'postgres'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-flows-bench-'));
  const pg = dialect === 'postgres' ? await freshDatabase() : undefined;
  const store = await openStore({ dataDir: dir, database: pg?.url });
  try {
    const ctx = await createCentralContext(store, () => NOW);
    await seed(store);
    const network = networkIndexOf(ctx);
    let flows = 0;
    const t0 = performance.now();
    for (const events of flowBatches(5000)) {
      const batch = { source: { kind: 'sensor' as const, cluster: 'bench' }, events: events.map((e) => ({ id: e.id, type: 'flow' as const, time: e.data.firstSeen, data: e.data as unknown as Record<string, unknown> })) };
      const r = await store.db.transaction().execute((trx) => storeEventBatch(trx, batch, NOW.toISOString(), network));
      flows += r.stored;
    }
    const ingestMs = performance.now() - t0;
    const rows = (await store.db.selectFrom('flow_edges').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    const hours = (await store.db.selectFrom('flow_edge_hours').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n;
    console.log(`[${dialect}] ${NAMESPACES * PER_NS} workloads, ${flows} flows ingested in ${(ingestMs / 1000).toFixed(1)} s (${Math.round(flows / (ingestMs / 1000))} flows/s) into ${rows} edges, ${hours} edge-hours`);
    // since=24h: every edge began inside the window (all-time counts); since=6h: every edge began before it (hour sums).
    for (const since of ['24h', '6h']) {
      const times: number[] = [];
      const cpu: number[] = [];
      let graph;
      for (let i = 0; i < (quick ? 2 : 4); i++) {
        const s = performance.now();
        const c = process.cpuUsage();
        if (profile && i === 1) await profile.start();
        graph = await buildNetworkGraph(ctx, { since });
        if (profile && i === 1) await profile.stop(`${since}`);
        const d = process.cpuUsage(c);
        times.push(performance.now() - s);
        cpu.push((d.user + d.system) / 1000);
      }
      const cpuMedian = [...cpu.slice(1)].sort((a, b) => a - b)[Math.floor((cpu.length - 1) / 2)]!;
      const first = times[0]!;
      const median = [...times.slice(1)].sort((a, b) => a - b)[Math.floor((times.length - 1) / 2)]!;
      const rss = process.memoryUsage().rss / 2 ** 20;
      console.log(`[${dialect}] since=${since}: ${graph!.counts.nodes} nodes, ${graph!.counts.edges} edges (${graph!.counts.observedNotAllowed} observed-not-allowed, ${graph!.counts.allowedNotObserved} allowed-not-observed)`);
      console.log(`[${dialect}] since=${since}: graph build first ${first.toFixed(0)} ms wall, ${cpu[0]!.toFixed(0)} ms CPU${since === '24h' ? ' (with the policy analysis, kept for later builds)' : ''}, then median ${median.toFixed(0)} ms wall, ${cpuMedian.toFixed(0)} ms CPU; goal ≤ ${GOAL_MS} ms: ${median <= GOAL_MS ? 'met' : cpuMedian <= GOAL_MS ? `met on CPU time, wall missed (load average ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores)` : 'MISSED'}; RSS ${rss.toFixed(0)} MiB`);
    }
  } finally {
    await store.close();
    await pg?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const dialects: ('sqlite' | 'postgres')[] = only ? [only as 'sqlite' | 'postgres'] : ['sqlite', 'postgres'];
for (const d of dialects) {
  if (d === 'postgres' && !(await postgresAvailable())) {
    console.log('[postgres] skipped: no PostgreSQL found (test/helpers/postgres.ts)');
    continue;
  }
  await run(d);
}
