/**
 * `node --max-old-space-size=6000 --import tsx bench/fleet/heap-summary.ts FILE.heapsnapshot [N]`:
 * what a Central heap snapshot (bench:scale with GATEHOUSE_BENCH_HEAP_DIR) holds — self size by
 * node type and by constructor, and for each instance of the classes named below (Central's
 * parts: correlator, incident service, network index, NATS consumer) the size reachable from it
 * without passing through closures, code, weak edges or another of those instances: an
 * approximation of what each part keeps (not V8's retained size, which needs dominators).
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [N]');
const top = Number(process.argv[3] ?? 25);
const snap = JSON.parse(readFileSync(file, 'utf8')) as {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[]; edges: number[]; strings: string[];
};
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const [nType, nName, nSize, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
const [eType, eTo] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const count = snap.nodes.length / NF;
const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += snap.nodes[i * NF + nEdges!]! * EF;
  firstEdge[i + 1] = e;
}
const type = (i: number) => nodeTypes[snap.nodes[i * NF + nType!]!]!;
const name = (i: number) => snap.strings[snap.nodes[i * NF + nName!]!]!;
const size = (i: number) => snap.nodes[i * NF + nSize!]!;

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
let total = 0;
const byType = new Map<string, number>();
const byCtor = new Map<string, { n: number; bytes: number }>();
for (let i = 0; i < count; i++) {
  const s = size(i);
  total += s;
  byType.set(type(i), (byType.get(type(i)) ?? 0) + s);
  const key = type(i) === 'object' || type(i) === 'closure' ? `${type(i)} ${name(i)}` : type(i);
  const c = byCtor.get(key) ?? { n: 0, bytes: 0 };
  c.n++;
  c.bytes += s;
  byCtor.set(key, c);
}
console.log(`${file}: ${count} nodes, ${mib(total)} MiB self size in all`);
console.log(`by type: ${[...byType].sort((a, b) => b[1] - a[1]).map(([t, b]) => `${t} ${mib(b)}`).join(', ')} MiB`);
console.log(`\ntop ${top} by self size (type and constructor):`);
for (const [k, v] of [...byCtor].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)) console.log(`  ${mib(v.bytes).padStart(8)} MiB  ${String(v.n).padStart(9)}  ${k}`);

/** Central's parts, by their class names (a minifier does not run on the compiled CLI). */
const PARTS = ['IncidentCorrelator', 'IncidentService', 'StoredIncidents', 'Texts', 'NetworkIndex', 'FlowAddressBook', 'AlertOwners', 'ImageCatalog', 'LiveEvaluator', 'StoreInventorySink', 'ConnectionPolicyEvaluator', 'BusConsumer', 'EventConsumer', 'Pool', 'Client'];
const roots: number[] = [];
for (let i = 0; i < count; i++) if (type(i) === 'object' && PARTS.includes(name(i))) roots.push(i);
const isRoot = new Set(roots);
const skipTypes = new Set(['closure', 'code', 'hidden', 'synthetic']);
console.log(`\nreachable from each part (not through closures, code, weak edges or another part):`);
const rows: Array<[string, number, number]> = [];
for (const root of roots) {
  const seen = new Set<number>([root]);
  const stack = [root];
  let bytes = 0;
  while (stack.length) {
    const i = stack.pop()!;
    bytes += size(i);
    for (let e = firstEdge[i]!; e < firstEdge[i + 1]!; e += EF) {
      if (edgeTypes[snap.edges[e + eType!]!] === 'weak') continue;
      const to = snap.edges[e + eTo!]! / NF;
      if (seen.has(to) || isRoot.has(to) || skipTypes.has(type(to))) continue;
      seen.add(to);
      stack.push(to);
    }
  }
  rows.push([name(root), bytes, seen.size]);
}
for (const [n, b, k] of rows.sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${mib(b).padStart(8)} MiB  ${String(k).padStart(9)} nodes  ${n}`);
