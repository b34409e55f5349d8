/** The incident correlator on recorded-shape inputs (test/incidents/scenario.ts): grouping, ATT&CK, bounds, determinism. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  IncidentCorrelator, auditEventsOf, auditLogEvents, parseAttackMap, type AuditEvent, type CorrelationInput, type Incident, type FalcoAlert,
} from '../../src/runtime/incidents/index.js';
import { UserError } from '../../src/util/errors.js';
import { at, dbProcessAlert, DB_WORKLOAD, execAudit, flow, shellAlert, T0, unrelatedA, unrelatedB, WEB_WORKLOAD } from './scenario.js';

function scenarioInputs(): CorrelationInput[] {
  return [
    { kind: 'audit', event: execAudit(at(0), 'aud-1', 'RequestReceived') as unknown as AuditEvent },
    { kind: 'audit', event: execAudit(at(0), 'aud-1') as unknown as AuditEvent },
    { kind: 'alert', id: 'a-shell', alert: shellAlert(at(2)), host: 'node-a' },
    { kind: 'alert', id: 'a-unrelated-1', alert: unrelatedA(at(10)), host: 'node-a' },
    { kind: 'flow', id: 'f-1', flow: flow(at(20)) },
    { kind: 'alert', id: 'a-unrelated-2', alert: unrelatedB(at(25)), host: 'node-b' },
    { kind: 'alert', id: 'a-db', alert: dbProcessAlert(at(40)), host: 'node-b' },
  ];
}

function run(inputs: CorrelationInput[], options: ConstructorParameters<typeof IncidentCorrelator>[0] = {}): { engine: IncidentCorrelator; all: Map<string, Incident>; removed: string[] } {
  const engine = new IncidentCorrelator({ now: () => new Date(T0 + 60_000), ...options });
  const all = new Map<string, Incident>();
  const removed: string[] = [];
  for (const i of inputs) {
    const ch = engine.ingest(i);
    for (const inc of ch.updated) all.set(inc.id, inc);
    for (const id of ch.removed) {
      all.delete(id);
      removed.push(id);
    }
  }
  return { engine, all, removed };
}

function alert(id: string, a: FalcoAlert, host = a.hostname): CorrelationInput {
  return { kind: 'alert', id, alert: a, ...(host ? { host } : {}) };
}

describe('incident correlator', () => {
  it('puts exec (API), shell (runtime, host A), flow (network) and a new process on host B into ONE incident; unrelated alerts stay out', () => {
    const { all } = run(scenarioInputs());
    assert.equal(all.size, 3, [...all.values()].map((i) => i.title).join('\n'));
    const inc = [...all.values()].find((i) => i.workloads.includes(DB_WORKLOAD))!;
    assert.ok(inc, 'the database alert joined an incident');
    assert.deepEqual(inc.timeline.map((e) => e.ref), ['aud-1', 'a-shell', 'f-1', 'a-db']);
    assert.deepEqual(inc.timeline.map((e) => e.layer), ['api', 'runtime', 'network', 'runtime']);
    assert.match(inc.timeline[0]!.reason, /exec through the API into pod default\/shop\/web-/);
    assert.match(inc.timeline[0]!.title, /mallory exec into pod shop\/web-7d9f8b6c5d-x2k4p \(container web\): sh/);
    assert.match(inc.timeline[2]!.reason, /flow from flagged workload/);
    assert.match(inc.timeline[3]!.reason, /^lateral movement/);
    assert.deepEqual(inc.tactics.map((t) => t.name), ['Execution', 'Lateral Movement']);
    assert.deepEqual(inc.techniques.map((t) => t.id), ['T1059', 'T1210', 'T1609']);
    assert.equal(inc.stage, 'Lateral Movement');
    assert.deepEqual(inc.hosts, ['node-a', 'node-b']);
    assert.deepEqual(inc.workloads, [WEB_WORKLOAD, DB_WORKLOAD]);
    assert.deepEqual(inc.layers, ['api', 'network', 'runtime']);
    // max of the members (Warning → MEDIUM), raised one step by the lateral, multi-stage spread
    assert.equal(inc.severity, 'HIGH');
    assert.equal(inc.signals, 2);
    for (const other of all.values()) {
      if (other === inc) continue;
      assert.equal(other.timeline.length, 1, `${other.title} stays alone`);
      assert.ok(!other.timeline.some((e) => ['aud-1', 'a-shell', 'f-1', 'a-db'].includes(e.ref)));
    }
  });

  it('is deterministic: the same inputs and clock give the same incidents', () => {
    const a = [...run(scenarioInputs()).all.values()];
    const b = [...run(scenarioInputs()).all.values()];
    assert.deepEqual(a, b);
    assert.match(a[0]!.id, /^inc-[0-9a-f]{16}$/);
  });

  it('ignores a repeated input id (at-least-once delivery)', () => {
    const inputs = scenarioInputs();
    const { all } = run([...inputs, ...inputs]);
    assert.equal(all.size, 3);
    assert.equal([...all.values()].reduce((n, i) => n + i.timeline.length, 0), 6);
  });

  it('joins a child of an alerting process by lineage', () => {
    const parent = shellAlert(at(0), 'web-7d9f8b6c5d-x2k4p', 'web', 500, 400);
    const child: FalcoAlert = { ...shellAlert(at(5), 'web-7d9f8b6c5d-x2k4p', 'web', 501, 500), rule: 'Read sensitive file untrusted', tags: ['maturity_stable', 'filesystem', 'mitre_credential_access', 'T1555'] };
    const { all } = run([alert('p', parent), alert('c', child)]);
    assert.equal(all.size, 1);
    const inc = [...all.values()][0]!;
    assert.match(inc.timeline[1]!.reason, /process lineage: child of alerting process node-a\/.+\/500/);
    assert.deepEqual(inc.tactics.map((t) => t.name), ['Execution', 'Credential Access']);
    assert.equal(inc.stage, 'Credential Access');
  });

  it('joins different workloads on a shared public remote endpoint, not on an internal one', () => {
    const c2 = (t: string, pod: string, ip: string): FalcoAlert => {
      const a = shellAlert(t, pod, pod.split('-')[0]!, 10, 9);
      return { ...a, rule: 'Outbound Connection to C2 Servers', tags: ['mitre_command_and_control', 'T1071'], output_fields: { ...a.output_fields, 'fd.rip': ip, 'fd.rport': 4444 } };
    };
    assert.equal(run([alert('x', c2(at(0), 'alpha-7d9f8b6c5d-aaaaa', '203.0.113.7')), alert('y', c2(at(30), 'beta-7d9f8b6c5d-bbbbb', '203.0.113.7'))]).all.size, 1);
    assert.equal(run([alert('x', c2(at(0), 'alpha-7d9f8b6c5d-aaaaa', '10.1.2.3')), alert('y', c2(at(30), 'beta-7d9f8b6c5d-bbbbb', '10.1.2.3'))]).all.size, 2);
  });

  it('merges two incidents that a later signal links, keeping the older id', () => {
    const a = shellAlert(at(0), 'alpha-7d9f8b6c5d-aaaaa', 'alpha', 10, 9);
    const b = { ...shellAlert(at(10), 'beta-7d9f8b6c5d-bbbbb', 'beta', 20, 19) };
    b.output_fields = { ...b.output_fields, 'fd.rip': '198.51.100.4', 'fd.rport': 443 };
    const c = { ...shellAlert(at(20), 'alpha-7d9f8b6c5d-aaaaa', 'alpha', 30, 29) };
    c.output_fields = { ...c.output_fields, 'fd.rip': '198.51.100.4', 'fd.rport': 443 };
    const { all, removed } = run([alert('a', a), alert('b', b), alert('c', c)]);
    assert.equal(all.size, 1);
    assert.equal(removed.length, 1);
    const inc = [...all.values()][0]!;
    assert.deepEqual(inc.timeline.map((e) => e.ref), ['a', 'b', 'c']);
    assert.equal(inc.signals, 3);
  });

  it('keeps signals further apart than the window in separate incidents', () => {
    const { all } = run([alert('a', shellAlert(at(0))), alert('b', shellAlert(at(20 * 60), undefined, undefined, 99, 98))], { now: () => new Date(T0 + 21 * 60_000) });
    assert.equal(all.size, 2);
  });

  it('an exec or a flow alone opens nothing, and waiting context is bounded', () => {
    const engine = new IncidentCorrelator({ now: () => new Date(T0), maxPending: 5 });
    for (let i = 0; i < 20; i++) {
      assert.deepEqual(engine.ingest({ kind: 'audit', event: execAudit(at(i), `aud-${i}`) as unknown as AuditEvent }).updated, []);
      engine.ingest({ kind: 'flow', id: `f-${i}`, flow: flow(at(i)) });
    }
    assert.equal(engine.openCount, 0);
    assert.equal(engine.pendingCount, 5);
  });

  it('closes idle incidents by the injected clock and caps open incidents', () => {
    let now = T0;
    const engine = new IncidentCorrelator({ now: () => new Date(now), idleMs: 60_000, maxOpen: 2 });
    const pods = ['a1-7d9f8b6c5d-aaaaa', 'b2-7d9f8b6c5d-bbbbb', 'c3-7d9f8b6c5d-ccccc'];
    const out: Incident[] = [];
    pods.forEach((p, i) => out.push(...engine.ingest(alert(`x${i}`, shellAlert(at(i), p, p.slice(0, 2), i + 10, 1000))).updated));
    assert.equal(engine.openCount, 2);
    const capped = out.filter((i) => i.state === 'closed');
    assert.equal(capped.length, 1);
    assert.match(capped[0]!.workloads[0]!, /a1/);
    now = T0 + 10 * 60_000;
    const swept = engine.sweep().updated;
    assert.equal(swept.length, 2);
    assert.ok(swept.every((i) => i.state === 'closed' && i.closedAt === new Date(now).toISOString()));
    assert.equal(engine.openCount, 0);
  });

  it('caps the timeline and counts what it dropped', () => {
    const inputs = Array.from({ length: 12 }, (_, i) => alert(`s${i}`, shellAlert(at(i), undefined, undefined, 100 + i, 50)));
    const inc = [...run(inputs, { maxTimeline: 5 }).all.values()][0]!;
    assert.equal(inc.timeline.length, 5);
    assert.equal(inc.timelineDropped, 7);
    assert.equal(inc.signals, 12);
  });

  it('a denial opens an incident with the deploy technique; sensor drop alerts are ignored', () => {
    const { all } = run([
      { kind: 'denial', id: 'd1', denial: { time: at(0), layer: 'admission', rule: 'no-privileged', severity: 'HIGH', namespace: 'shop', name: 'evil', kind: 'Pod', user: 'mallory' } },
      alert('drop', { ...shellAlert(at(1)), rule: 'Gatehouse sensor dropped events' }),
    ]);
    assert.equal(all.size, 1);
    const inc = [...all.values()][0]!;
    assert.deepEqual(inc.techniques.map((t) => t.id), ['T1610']);
    assert.deepEqual(inc.layers, ['admission']);
  });
});

describe('ATT&CK map and audit input', () => {
  it('rejects unknown fields and unknown techniques', () => {
    assert.throws(() => parseAttackMap('tactics: []\nextra: 1\n'), (e: unknown) => e instanceof UserError && /unknown field "extra"/.test(e.message));
    assert.throws(() => parseAttackMap('tactics:\n  - { tag: mitre_execution, id: TA0002, name: Execution }\nrules:\n  X: [T9999]\n'), /unknown technique T9999/);
    assert.throws(() => parseAttackMap('tactics: []\ntechniques:\n  T1: { name: x, tactics: [mitre_nope] }\n'), /unknown tactic mitre_nope/);
  });

  it('reads an EventList, one Event, and log lines; anything else is a one-line error', () => {
    const ev = execAudit(at(0));
    assert.equal(auditEventsOf({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [ev, ev] }).length, 2);
    assert.equal(auditEventsOf(ev).length, 1);
    assert.equal(auditLogEvents(`${JSON.stringify(ev)}\n\n${JSON.stringify(ev)}\n`).length, 2);
    assert.throws(() => auditEventsOf({ kind: 'EventList', items: [{ auditID: 1 }] }), /item 0 is not an audit.k8s.io\/v1 Event/);
    assert.throws(() => auditEventsOf([]), UserError);
    assert.throws(() => auditLogEvents('{"auditID":"x"}\nnot json\n'), /line 1 is not an audit/);
  });
});

describe('audit IDs per cluster', () => {
  it('the same audit ID from two clusters is two audit entries, each in its own cluster\'s incident; a repeat in one cluster stays one', () => {
    const inputs: CorrelationInput[] = [];
    for (const cluster of ['east', 'west']) {
      inputs.push({ kind: 'audit', event: execAudit(at(0), 'aud-same', 'RequestReceived') as unknown as AuditEvent, cluster });
      inputs.push({ kind: 'audit', event: execAudit(at(0), 'aud-same') as unknown as AuditEvent, cluster });
      inputs.push({ kind: 'alert', id: `shell-${cluster}`, alert: shellAlert(at(2)), cluster, host: `node-${cluster}` });
    }
    const { all } = run(inputs);
    const withShell = (id: string) => [...all.values()].find((i) => i.timeline.some((e) => e.ref === id));
    for (const cluster of ['east', 'west']) {
      const inc = withShell(`shell-${cluster}`);
      assert.ok(inc, `an incident holds ${cluster}'s shell alert`);
      assert.equal(inc.timeline.filter((e) => e.kind === 'audit').length, 1, `${cluster}'s incident has its exec audit entry once`);
    }
    assert.notEqual(withShell('shell-east')!.id, withShell('shell-west')!.id);
  });
});
