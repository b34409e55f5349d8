/**
 * Sensors' flows as correlator inputs (src/central/incidents/flow-feed.ts): the local end's
 * workload identity is the one its container's alerts get, and the remote address is
 * resolved through the other sensor's report of the same connection, in either order.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlowAddressBook, sensorFlowInputs } from '../../src/central/incidents/flow-feed.js';
import type { EventBatch } from '../../src/central/client/ingest-types.js';
import type { ObservedFlow } from '../../src/network/flow.js';
import { IncidentCorrelator, type FalcoAlert, type FlowRecord } from '../../src/runtime/incidents/index.js';
import { workloadOf } from '../../src/runtime/baseline/identity.js';
import type { RuntimeEvent } from '../../src/runtime/event.js';

const T = '2026-03-02T10:00:00.000Z';
const A = { ip: '10.88.0.5', container: { id: 'aaaaaaaaaaaa', name: 'k8s_web_a', image: 'localhost/gatehouse-net:1' }, pod: { namespace: 'shop', name: 'web-7d9f8b6c5d-x2k4p' } };
const B = { ip: '10.88.0.6', container: { id: 'bbbbbbbbbbbb', name: 'k8s_db_b', image: 'localhost/gatehouse-net:1' }, pod: { namespace: 'shop', name: 'db-0' } };

function batch(host: string, flow: ObservedFlow, id: string): EventBatch {
  return { source: { kind: 'sensor', host, cluster: 'lab' }, events: [{ id, type: 'flow', time: T, data: flow as unknown as Record<string, unknown> }] };
}
const egress: ObservedFlow = { protocol: 'TCP', direction: 'egress', local: { ...A, port: 0 }, remote: { ip: B.ip, port: 6379 }, firstSeen: T, lastSeen: T, connections: 1, observedBy: 'ebpf' };
const ingress: ObservedFlow = { protocol: 'TCP', direction: 'ingress', local: { ...B, port: 6379 }, remote: { ip: A.ip, port: 41000 }, firstSeen: T, lastSeen: T, connections: 1, observedBy: 'ebpf' };

/** The identity an alert from this container gets (the fields the sensor's alerts carry). */
function alertWorkload(end: typeof A): string {
  const ev: RuntimeEvent = { 'container.id': end.container.id, 'container.name': end.container.name, 'container.image.repository': 'localhost/gatehouse-net', 'k8s.pod.name': end.pod.name, 'k8s.ns.name': end.pod.namespace };
  return workloadOf(ev, { cluster: 'lab' }).id;
}

describe('sensor flows into incidents', () => {
  it('resolves the second report of a connection by the first, whichever comes first', () => {
    for (const order of [['a', 'b'], ['b', 'a']]) {
      const book = new FlowAddressBook();
      const out: FlowRecord[] = [];
      for (const who of order) {
        const [input] = who === 'a' ? sensorFlowInputs(batch('node-a', egress, 'fa'), book) : sensorFlowInputs(batch('node-b', ingress, 'fb'), book);
        assert.equal(input?.kind, 'flow');
        if (input?.kind === 'flow') out.push(input.flow);
      }
      const second = out[1]!;
      assert.equal(second.src.workload, alertWorkload(A), order.join());
      assert.equal(second.dst.workload, alertWorkload(B), order.join());
      assert.equal(second.src.host, 'node-a', 'the client end is on node-a');
      assert.equal(second.dst.host, 'node-b');
      const first = out[0]!;
      // the first report knows only its own end
      assert.equal(order[0] === 'a' ? first.dst.workload : first.src.workload, undefined);
    }
  });

  it('ignores what is not a sensor flow', () => {
    const book = new FlowAddressBook();
    assert.deepEqual(sensorFlowInputs({ ...batch('node-a', egress, 'f'), source: { kind: 'engine-proxy', host: 'node-a' } }, book), []);
    assert.deepEqual(sensorFlowInputs({ source: { kind: 'sensor', host: 'node-a' }, events: [{ id: 'x', type: 'alert', time: T }] }, book), []);
    assert.equal(book.size, 0);
  });

  it('a shell in A, A connects to B, a new process in B: one incident, lateral movement', () => {
    const engine = new IncidentCorrelator({ now: () => new Date(T) });
    const alert = (end: typeof A, rule: string, tags: string[], pid: number): FalcoAlert => ({
      time: T, rule, priority: 'Notice', source: 'syscall',
      output_fields: { 'container.id': end.container.id, 'container.name': end.container.name, 'container.image.repository': 'localhost/gatehouse-net', 'k8s.pod.name': end.pod.name, 'k8s.ns.name': end.pod.namespace, 'proc.pid': pid, 'proc.ppid': 1 },
      tags,
    });
    engine.ingest({ kind: 'alert', id: 'a1', alert: alert(A, 'Terminal shell in container', ['mitre_execution', 'T1059'], 100), cluster: 'lab', host: 'node-a' });
    const book = new FlowAddressBook();
    for (const i of [...sensorFlowInputs(batch('node-a', egress, 'fa'), book), ...sensorFlowInputs(batch('node-b', ingress, 'fb'), book)]) engine.ingest(i);
    engine.ingest({ kind: 'alert', id: 'b1', alert: alert(B, 'Terminal shell in container', ['mitre_execution', 'T1059'], 200), cluster: 'lab', host: 'node-b' });
    const [inc, ...rest] = engine.incidents();
    assert.equal(rest.length, 0);
    assert.deepEqual(inc!.hosts, ['node-a', 'node-b']);
    assert.deepEqual(inc!.tactics.map((t) => t.name), ['Execution', 'Lateral Movement']);
    assert.match(inc!.timeline.find((e) => e.ref === 'b1')!.reason, /^lateral movement: a flow from the incident reached k8s:lab\/shop\/StatefulSet\/db\//);
  });
});
