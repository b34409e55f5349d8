/**
 * The inputs of policy from observation: the sensor's flow file (JSON lines of ObservedFlow:
 * bad lines counted; pods resolved to the manifests' workloads by their names; remote ends by
 * another flow's local address, a Service clusterIP, else external) and Central's network
 * graph (deployment, external, Service and namespace nodes; learning marks). Then the CLI's
 * local mode end to end (`netpol generate PATHS --observed --flows FILE`) and its usage errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { loadCluster, connlistFromPaths } from '../../src/kube/netpol/index.js';
import { loadManifests } from '../../src/kube/manifests.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import type { NetworkGraph } from '../../src/network/graph-types.js';
import { observedFromFlows, parseFlowLines, serviceIpsOf, workloadOfPod } from '../../src/network/observed-flows.js';
import { observedFromGraph } from '../../src/network/observed-graph.js';

const deploy = (ns: string, name: string, kind = 'Deployment', ports: Record<string, any>[] = [{ containerPort: 8080 }]) => ({
  apiVersion: 'apps/v1', kind, metadata: { name, namespace: ns },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x', ports }] } } },
});
const DOCS: Record<string, any>[] = [
  deploy('shop', 'web'),
  deploy('shop', 'web-api', 'Deployment', [{ containerPort: 9000, name: 'http' }]),
  deploy('shop', 'cache', 'StatefulSet', [{ containerPort: 6379 }]),
  deploy('shop', 'agent', 'DaemonSet'),
  { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'report', namespace: 'shop' }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { metadata: { labels: { app: 'report' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } } } } },
  { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'shop', labels: { app: 'debug' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-api', namespace: 'shop' }, spec: { clusterIP: '10.96.0.30', selector: { app: 'web-api' }, ports: [{ port: 80, targetPort: 'http' }] } },
];

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-observed-in-'));
  const file = join(dir, 'm.yaml');
  writeFileSync(file, DOCS.map((d) => stringify(d)).join('---\n'));
  const { model } = await loadCluster([file]);
  const { objects } = await loadManifests([file]);
  return { dir, file, model, objects };
}

const flow = (o: Partial<ObservedFlow> & Pick<ObservedFlow, 'direction' | 'local' | 'remote'>): ObservedFlow => ({
  protocol: 'TCP', firstSeen: '2026-12-07T08:00:00Z', lastSeen: '2026-12-07T09:00:00Z', connections: 1, observedBy: 'ebpf', ...o,
});

test('flow file lines: ObservedFlow objects kept, every other line counted with a reason', () => {
  const good = JSON.stringify(flow({ direction: 'egress', local: { ip: '10.1.0.1', port: 1234 }, remote: { ip: '10.1.0.2', port: 80 } }));
  const { flows, malformed } = parseFlowLines([
    good, '', 'not json', '[1]', JSON.stringify({ ...JSON.parse(good), protocol: 'ICMP' }), JSON.stringify({ ...JSON.parse(good), direction: 'sideways' }),
    JSON.stringify({ ...JSON.parse(good), remote: { ip: '1.2.3.4' } }), JSON.stringify({ ...JSON.parse(good), local: { ip: '10.1.0.1', port: 1, pod: { name: 'x' } } }), good,
  ].join('\n'));
  assert.equal(flows.length, 2);
  assert.deepEqual(malformed, [
    { line: 3, reason: 'not JSON' },
    { line: 4, reason: 'protocol is not TCP, UDP or SCTP' },
    { line: 5, reason: 'protocol is not TCP, UDP or SCTP' },
    { line: 6, reason: 'direction is not egress or ingress' },
    { line: 7, reason: 'remote.ip / remote.port missing' },
    { line: 8, reason: 'local.pod needs namespace and name' },
  ]);
});

test('pods resolve to their workloads by the names controllers give them (longest name wins)', async () => {
  const { dir, model } = await setup();
  try {
    const id = (pod: string) => workloadOfPod(model, 'shop', pod)?.id;
    assert.equal(id('web-5d8f7c9b4-x7k2p'), 'shop/web[Deployment]');
    assert.equal(id('web-api-5d8f7c9b4-x7k2p'), 'shop/web-api[Deployment]');
    assert.equal(id('cache-2'), 'shop/cache[StatefulSet]');
    assert.equal(id('agent-q8w2e'), 'shop/agent[DaemonSet]');
    assert.equal(id('report-29435520-abcde'), 'shop/report[CronJob]');
    assert.equal(id('debug'), 'shop/debug[Pod]');
    assert.equal(id('web'), undefined);
    assert.equal(id('other-5d8f7c9b4-x7k2p'), undefined);
    assert.equal(workloadOfPod(model, 'other', 'web-5d8f7c9b4-x7k2p'), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('flows to edges: peers by address, Services by clusterIP (named target port), the rest external; ingress keeps the local port', async () => {
  const { dir, model, objects } = await setup();
  try {
    const flows: ObservedFlow[] = [
      flow({ direction: 'egress', local: { ip: '10.1.0.5', port: 40000, pod: { namespace: 'shop', name: 'web-5d8f7c9b4-x7k2p' } }, remote: { ip: '10.96.0.30', port: 80 } }),
      flow({ direction: 'egress', local: { ip: '10.1.0.5', port: 40001, pod: { namespace: 'shop', name: 'web-5d8f7c9b4-x7k2p' } }, remote: { ip: '10.1.0.7', port: 6379 } }),
      flow({ direction: 'ingress', local: { ip: '10.1.0.7', port: 6379, pod: { namespace: 'shop', name: 'cache-0' } }, remote: { ip: '10.1.0.5', port: 40001 } }),
      flow({ direction: 'ingress', local: { ip: '10.1.0.5', port: 8080, pod: { namespace: 'shop', name: 'web-5d8f7c9b4-x7k2p' } }, remote: { ip: '203.0.113.9', port: 51515 } }),
      flow({ protocol: 'UDP', direction: 'egress', local: { ip: '10.1.0.7', port: 5353, pod: { namespace: 'shop', name: 'cache-0' } }, remote: { ip: '8.8.8.8', port: 53 } }),
      flow({ direction: 'egress', local: { ip: '10.1.0.99', port: 1, pod: { namespace: 'shop', name: 'ghost-5d8f7c9b4-x7k2p' } }, remote: { ip: '10.1.0.5', port: 8080 } }),
      flow({ direction: 'egress', local: { ip: '192.168.1.4', port: 1, container: { id: 'abc', name: 'plain' } }, remote: { ip: '10.1.0.5', port: 8080 } }),
      flow({ direction: 'egress', lastSeen: '2026-12-01T00:00:00Z', local: { ip: '10.1.0.5', port: 40002, pod: { namespace: 'shop', name: 'web-5d8f7c9b4-x7k2p' } }, remote: { ip: '198.51.100.1', port: 443 } }),
    ];
    const r = observedFromFlows(flows, model, { serviceIps: serviceIpsOf(objects), since: Date.parse('2026-12-06T00:00:00Z') });
    const show = (p: any) => (p.type === 'external' ? p.cidr : `${p.namespace}/${p.name}[${p.kind}]`);
    assert.deepEqual(r.edges.map((e) => `${show(e.src)} -> ${show(e.dst)} ${e.protocol} ${e.port}`), [
      'shop/web[Deployment] -> shop/web-api[Deployment] TCP 9000',
      'shop/web[Deployment] -> shop/cache[StatefulSet] TCP 6379',
      'shop/web[Deployment] -> shop/cache[StatefulSet] TCP 6379',
      '203.0.113.9 -> shop/web[Deployment] TCP 8080',
      'shop/cache[StatefulSet] -> 8.8.8.8 UDP 53',
    ]);
    assert.equal(r.unresolved, 2);
    assert.deepEqual(r.notes, [
      'flows of pod shop/ghost-5d8f7c9b4-x7k2p skipped: no workload in the manifests runs it',
      'flows of plain skipped: not a pod (NetworkPolicies apply to pods)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('graph to edges: deployment and external nodes, Services through their selector, learning marks; other nodes noted', async () => {
  const { dir, model } = await setup();
  try {
    const obs = { firstSeen: '2026-12-07T08:00:00Z', lastSeen: '2026-12-07T09:00:00Z', connections: 2 };
    const graph: NetworkGraph = {
      generatedAt: '2026-12-07T09:00:00Z',
      nodes: [
        { id: 'd1', kind: 'deployment', label: 'shop/web', namespace: 'shop', name: 'web', workloadKind: 'Deployment' },
        { id: 'd2', kind: 'deployment', label: 'shop/cache', namespace: 'shop', name: 'cache', workloadKind: 'StatefulSet', learning: true },
        { id: 's1', kind: 'service', label: 'shop/web-api', namespace: 'shop', name: 'web-api' },
        { id: 'external:93.184.216.34/32', kind: 'external', label: '93.184.216.34/32' },
        { id: 'namespace:prod/other', kind: 'namespace', label: 'other' },
        { id: 'h1', kind: 'deployment', label: 'host1/nginx', name: 'nginx', workloadKind: 'Container' },
      ],
      edges: [
        { id: 'e1', source: 'd1', target: 'd2', protocol: 'TCP', port: 6379, allowed: true, observed: obs },
        { id: 'e2', source: 'd1', target: 's1', protocol: 'TCP', port: 80, allowed: true, observed: obs },
        { id: 'e3', source: 'd2', target: 'external:93.184.216.34/32', protocol: 'TCP', port: 443, allowed: true, observed: obs },
        { id: 'e4', source: 'namespace:prod/other', target: 'd1', protocol: 'TCP', port: 8080, allowed: true, observed: obs },
        { id: 'e5', source: 'd1', target: 'd2', protocol: 'TCP', port: 7000, allowed: true },
        { id: 'e6', source: 'h1', target: 'd1', protocol: 'TCP', port: 8080, allowed: false, observed: obs },
      ],
      counts: { nodes: 6, edges: 6, observedNotAllowed: 1, allowedNotObserved: 1 },
    };
    const r = observedFromGraph(graph, model);
    assert.deepEqual(r.learning, ['shop/cache[StatefulSet]']);
    const show = (p: any) => (p.type === 'external' ? p.cidr : `${p.namespace}/${p.name}[${p.kind}]`);
    assert.deepEqual(r.edges.map((e) => `${show(e.src)} -> ${show(e.dst)} ${e.protocol} ${e.port}`), [
      'shop/web[Deployment] -> shop/cache[StatefulSet] TCP 6379',
      'shop/web[Deployment] -> shop/web-api[Deployment] TCP 9000',
      'shop/cache[StatefulSet] -> 93.184.216.34/32 TCP 443',
    ]);
    assert.deepEqual(r.notes, [
      'observed edge namespace:prod/other -> d1 skipped: other: a namespace node is not one workload',
      'observed edge h1 -> d1 skipped: host1/nginx: not a Kubernetes workload (no namespace)',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('netpol generate PATHS --observed --flows FILE: YAML, JSON and --simulate; the policies allow exactly the flows', async () => {
  const { dir, file } = await setup();
  try {
    const lines = [
      flow({ direction: 'egress', local: { ip: '10.1.0.5', port: 40000, pod: { namespace: 'shop', name: 'web-5d8f7c9b4-x7k2p' } }, remote: { ip: '10.96.0.30', port: 80 } }),
      flow({ direction: 'egress', local: { ip: '10.1.0.8', port: 40000, pod: { namespace: 'shop', name: 'web-api-5d8f7c9b4-x7k2p' } }, remote: { ip: '10.1.0.7', port: 6379 } }),
      flow({ direction: 'ingress', local: { ip: '10.1.0.7', port: 6379, pod: { namespace: 'shop', name: 'cache-0' } }, remote: { ip: '10.1.0.8', port: 40000 } }),
    ].map((f) => JSON.stringify(f));
    const flows = join(dir, 'flows.jsonl');
    writeFileSync(flows, `${lines.join('\n')}\n{"broken"\n`);
    const out = join(dir, 'policies.yaml');
    const r = await runCli(['netpol', 'generate', file, '--observed', '--flows', flows, '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: 1 line\(s\) of .*flows\.jsonl are not observed flows \(first: line 4: not JSON\)/);
    assert.match(r.stderr, /no connection observed for shop\/agent\[DaemonSet\], shop\/debug\[Pod\], shop\/report\[CronJob\]: only the default deny/);
    const got = (await connlistFromPaths([file, out], 'txt')).split('\n').filter(Boolean).sort();
    assert.deepEqual(got, ['shop/web-api[Deployment] => shop/cache[StatefulSet] : TCP 6379', 'shop/web[Deployment] => shop/web-api[Deployment] : TCP 9000']);

    const j = await runCli(['netpol', 'generate', file, '--observed', '--flows', flows, '--format', 'json']);
    assert.equal(j.code, 0, j.stderr);
    const doc = JSON.parse(j.stdout);
    assert.deepEqual(doc.intents.map((i: any) => `${i.src} ${i.dst} ${i.connections}`).sort(), ['shop/web-api[Deployment] shop/cache[StatefulSet] TCP 6379', 'shop/web[Deployment] shop/web-api[Deployment] TCP 9000']);
    assert.equal(doc.simulation.counts.cutObserved, 0);

    const s = await runCli(['netpol', 'generate', file, '--observed', '--flows', flows, '--simulate', '--exclude', 'shop/cache']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /observed connections that would be cut off: 1\n {4}shop\/web-api\[Deployment\] => shop\/cache\[StatefulSet\] : TCP 6379 \(excluded\)/);
    assert.doesNotMatch(s.stdout, /apiVersion/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('netpol generate --observed: usage and input errors are one line', async () => {
  const { dir, file } = await setup();
  try {
    const empty = join(dir, 'empty.jsonl');
    writeFileSync(empty, 'nothing here\n');
    const cases: [string[], RegExp][] = [
      [[file, '--flows', empty], /--flows applies with --observed only/],
      [[file, '--format', 'json'], /--format applies with --observed only/],
      [[file, '--observed', '--flows', join(dir, 'nope.jsonl')], /cannot read flow file .*nope\.jsonl/],
      [[file, '--observed', '--flows', empty], /empty\.jsonl holds no observed flow \(1 unreadable line\(s\)\)/],
      [[file, '--observed', '--flows', empty, '--since', 'soon'], /--since must look like 90s/],
      [[file, '--observed'], /with --observed and Central, the manifests are the ones Central stores/],
      [['--observed'], /no Central to talk to/],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(['netpol', 'generate', ...args], { env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined } });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(' '));
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
