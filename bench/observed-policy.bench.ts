/**
 * Policy from observation at scale (`node --import tsx bench/observed-policy.bench.ts`): a cluster of
 * WORKLOADS workloads in NAMESPACES namespaces, EDGES observed workload-to-workload edges and
 * EXTERNALS external addresses; generation plus the simulation (two full analyses over the
 * shared IP partition). Prints wall and CPU time and peak RSS.
 */
import { buildModel } from '../src/kube/netpol/model.js';
import { generateFromObserved, type ObservedEdge } from '../src/network/observed-policy.js';

const WORKLOADS = Number(process.env.WORKLOADS ?? 2000);
const NAMESPACES = Number(process.env.NAMESPACES ?? 50);
const EDGES = Number(process.env.EDGES ?? 10000);
const EXTERNALS = Number(process.env.EXTERNALS ?? 200);

let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
const objects: any[] = [];
const ws: { ns: string; name: string }[] = [];
for (let i = 0; i < WORKLOADS; i++) {
  const ns = `ns${i % NAMESPACES}`;
  const name = `w${i}`;
  ws.push({ ns, name });
  const raw = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns }, spec: { template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } };
  objects.push({ kind: 'Deployment', name, namespace: ns, labels: {}, raw, source: { file: 'bench', line: 1 } });
}
const model = buildModel(objects);
const edges: ObservedEdge[] = [];
for (let i = 0; i < EDGES; i++) {
  const a = ws[Math.floor(rand() * ws.length)]!;
  if (rand() < 0.1) {
    edges.push({ src: { type: 'workload', namespace: a.ns, name: a.name }, dst: { type: 'external', cidr: `93.184.${Math.floor(EXTERNALS / 250)}.${Math.floor(rand() * Math.min(EXTERNALS, 250))}` }, protocol: 'TCP', port: 443 });
    continue;
  }
  const b = ws[Math.floor(rand() * ws.length)]!;
  edges.push({ src: { type: 'workload', namespace: a.ns, name: a.name }, dst: { type: 'workload', namespace: b.ns, name: b.name }, protocol: 'TCP', port: 1000 + Math.floor(rand() * 50) });
}
const learning = ws.filter(() => rand() < 0.05).map((w) => `${w.ns}/${w.name}`);
const t0 = performance.now();
const c0 = process.cpuUsage();
const res = generateFromObserved(model, { edges, learning }, { limit: 100 });
const cpu = process.cpuUsage(c0);
const wall = performance.now() - t0;
console.log(JSON.stringify({
  workloads: WORKLOADS, namespaces: NAMESPACES, edges: EDGES, policies: res.policies.length,
  cut: res.simulation.counts.cutObserved, removed: res.simulation.counts.removed,
  wallMs: Math.round(wall), cpuMs: Math.round((cpu.user + cpu.system) / 1000), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
}));
