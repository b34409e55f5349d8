/**
 * Triggers (src/respond/responder.ts) with an injected clock: alerts judged by real runtime
 * policies (the policy engine and the runtime AlertJudge) reach respondTo; an alert storm
 * of 10,000 alerts gives exactly one action per target per cooldown; rate limits per target
 * and per policy, the kill switch (flag and file), never-touch namespaces/workloads/images,
 * dry runs through the runner, and audit records. The actions here are in-memory targets
 * (a map of states) so that the guards are what is measured; the real actions are tested
 * against podman and kube-apiserver in host-actions and kube-actions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { ActionSet } from '../../src/respond/action-sets.js';
import { JsonlAuditLog, MemoryAuditLog } from '../../src/respond/audit.js';
import { toRequest } from '../../src/respond/request.js';
import { Responder, type Decision } from '../../src/respond/responder.js';
import { runAction } from '../../src/respond/run.js';
import type { ContainerTarget, ResponseAction } from '../../src/respond/types.js';
import { alertFor, judgeFor, judged, packText, policyId } from './policy-helper.js';

/** Containers as a map of states; `kill` moves one to `killed` (and says "already" after). */
function memoryHost() {
  const state = new Map<string, string>();
  const applied: string[] = [];
  const make = (name: string, to: string): ResponseAction<ContainerTarget> => ({
    name,
    destructive: name === 'kill',
    async plan(t) {
      if (state.get(t.container) === to) return { state: 'already', detail: `${t.container} is ${to}` };
      return {
        state: 'todo',
        detail: `${name} ${t.container}`,
        async apply() {
          applied.push(`${name}:${t.container}`);
          state.set(t.container, to);
          return { detail: `${t.container} ${to}` };
        },
      };
    },
  });
  const actions = { kill: make('kill', 'killed'), pause: make('pause', 'paused'), isolate: make('isolate', 'isolated') };
  const set: ActionSet = {
    resolve(e, req) {
      if (e !== 'kill' && e !== 'pause' && e !== 'isolate') return undefined;
      if (!req.container) return 'no container';
      return { action: actions[e], target: { type: 'container', container: req.container.id } };
    },
  };
  return { state, applied, set };
}

const judge = judgeFor(packText([['Shell in app', ['kill']], ['Miner', ['kill', 'isolate']], ['Odd read', ['pause']], ['Just look', ['inform']]]));

describe('respondTo: policy-triggered actions with guards', () => {
  test('an alert storm of 10,000 alerts gives exactly one action per target per cooldown', async () => {
    const host = memoryHost();
    let now = Date.parse('2026-12-07T06:00:00Z');
    const audit = new MemoryAuditLog();
    const cooldownMs = 60_000;
    const r = new Responder({ actions: host.set, clock: () => now, cooldownMs, perTarget: { max: 1000, windowMs: 3_600_000 }, perPolicy: { max: 1000, windowMs: 3_600_000 }, audit });
    const targets = ['c1', 'c2', 'c3', 'c4', 'c5'];
    // 10,000 alerts over 5 targets, 10 ms apart: 100 s of storm = two cooldown periods (0–60 s, 60–100 s).
    const acting: Decision[] = [];
    for (let i = 0; i < 10_000; i++) {
      const id = targets[i % targets.length]!;
      // At the second period the targets are running again (as if resumed), so that the actions are `done`, not `already`.
      if (i === 6000) for (const t of targets) host.state.delete(t);
      for (const d of r.respondTo(judged(judge, 'Odd read', { 'container.id': id, 'container.name': `app-${id}` }))) if (d.kind === 'acting') acting.push(d);
      now += 10;
    }
    await r.idle();
    // Periods: [0, 60 s) and [60 s, 100 s): one action per target in each.
    assert.equal(acting.length, targets.length * 2);
    assert.equal(r.stats.acted, 10);
    assert.equal(r.stats.suppressed.cooldown, 10_000 - 10);
    assert.equal(r.stats.requests, 10_000);
    const results = await Promise.all(acting.map((d) => (d.kind === 'acting' ? d.result : undefined)));
    assert.deepEqual(results.map((x) => x?.outcome), Array(10).fill('done'));
    assert.equal(host.applied.length, 10);
    for (const t of targets) assert.equal(host.applied.filter((a) => a === `pause:${t}`).length, 2);
    // One audit record per action, not per alert; each names the policy, the trigger and the target.
    assert.equal(audit.records.length, 10);
    const first = audit.records[0]!;
    assert.equal(first.action, 'pause');
    assert.deepEqual(first.trigger.policies, [policyId('Odd read')]);
    assert.equal(first.trigger.alert?.rule, 'Odd read');
    assert.equal(first.outcome, 'done');
    assert.equal(first.target.type, 'container');
    assert.ok(Date.parse(first.time) >= Date.parse('2026-12-07T06:00:00Z'));
  });

  test('alerts arriving while an action is in flight do not start a second one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    let applied = 0;
    const slow: ResponseAction<ContainerTarget> = {
      name: 'kill',
      destructive: false,
      async plan() {
        return { state: 'todo', detail: 'kill', apply: async () => (await gate, applied++, { detail: 'killed' }) };
      },
    };
    const set: ActionSet = { resolve: (e, req) => (e === 'kill' && req.container ? { action: slow, target: { type: 'container', container: req.container.id } } : undefined) };
    const r = new Responder({ actions: set, clock: () => 1_000_000, cooldownMs: 1000 });
    for (let i = 0; i < 500; i++) r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'c1' }));
    release();
    await r.idle();
    assert.equal(applied, 1);
    assert.equal(r.stats.acted, 1);
  });

  test('per-target and per-policy rate limits hold across cooldowns', async () => {
    const host = memoryHost();
    let now = 0;
    const r = new Responder({ actions: host.set, clock: () => now, cooldownMs: 1000, perTarget: { max: 3, windowMs: 60_000 }, perPolicy: { max: 5, windowMs: 60_000 } });
    // One target: cooldown 1 s, but at most 3 actions a minute.
    for (let i = 0; i < 100; i++) {
      host.state.clear();
      r.respondTo(judged(judge, 'Odd read', { 'container.id': 'solo' }));
      now += 500;
    }
    await r.idle();
    assert.equal(host.applied.filter((a) => a === 'pause:solo').length, 3);
    assert.ok(r.stats.suppressed['rate-target'] > 0);
    // The window slides: a minute later the target may be acted on again.
    now += 60_000;
    host.state.clear();
    r.respondTo(judged(judge, 'Odd read', { 'container.id': 'solo' }));
    await r.idle();
    assert.equal(host.applied.filter((a) => a === 'pause:solo').length, 4);
    // Per policy: 20 different targets, at most 5 actions of this policy a minute; the one just above is in the window.
    for (let i = 0; i < 20; i++) r.respondTo(judged(judge, 'Odd read', { 'container.id': `many-${i}` }));
    await r.idle();
    assert.equal(host.applied.filter((a) => a.startsWith('pause:many-')).length, 4, 'the policy had 1 action in the window, 4 more allowed');
    assert.ok(r.stats.suppressed['rate-policy'] >= 16);
  });

  test('a policy asking for two actions gets both, each once; inform-only policies act on nothing', async () => {
    const host = memoryHost();
    const r = new Responder({ actions: host.set, clock: () => 0 });
    const ds = r.respondTo(judged(judge, 'Miner', { 'container.id': 'm1' }));
    assert.deepEqual(ds.map((d) => [d.kind, d.enforcement]).sort(), [['acting', 'isolate'], ['acting', 'kill']]);
    assert.deepEqual(r.respondTo(judged(judge, 'Just look', { 'container.id': 'm1' })), []);
    assert.deepEqual(r.respondTo(judged(judge, 'No policy for this', { 'container.id': 'm1' })), []);
    await r.idle();
    assert.deepEqual(host.applied.sort(), ['isolate:m1', 'kill:m1']);
  });

  test('the kill switch (a flag, or a file checked at most once a second) stops every action', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-ks-'));
    try {
      const file = join(dir, 'STOP');
      const host = memoryHost();
      let now = 0;
      const audit = new MemoryAuditLog();
      const r = new Responder({ actions: host.set, clock: () => now, cooldownMs: 1, killSwitch: { file }, audit });
      writeFileSync(file, '');
      for (let i = 0; i < 100; i++) r.respondTo(judged(judge, 'Shell in app', { 'container.id': `k${i % 3}` }));
      await r.idle();
      assert.equal(host.applied.length, 0);
      assert.equal(r.stats.suppressed['kill-switch'], 100);
      // Refusals are audited once per target and cooldown, not once per alert.
      assert.equal(audit.records.length, 3);
      assert.ok(audit.records.every((a) => a.outcome === 'refused' && /kill switch/.test(a.detail)));
      rmSync(file);
      now += 999;
      r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'k0' }));
      assert.equal(r.stats.suppressed['kill-switch'], 101, 'the file is looked at again only after a second');
      now += 2;
      r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'k0' }));
      await r.idle();
      assert.deepEqual(host.applied, ['kill:k0']);
      r.setKillSwitch(true);
      now += 10;
      r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'k1' }));
      await r.idle();
      assert.deepEqual(host.applied, ['kill:k0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('never-touch: kube-system, Gatehouse itself (by workload and image), configurable', async () => {
    const host = memoryHost();
    const r = new Responder({ actions: host.set, clock: () => 0 });
    r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'a', 'k8s.ns.name': 'kube-system', 'k8s.pod.name': 'coredns-1' }));
    r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'b', 'k8s.ns.name': 'prod', 'k8s.pod.name': 'gatehouse-sensor-x1' }));
    r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'c', 'container.image': 'registry.example/sec/gatehouse:1.0' }));
    r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'd', 'container.name': 'gatehouse' }));
    r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'e', 'k8s.ns.name': 'prod', 'k8s.pod.name': 'web-1' }));
    await r.idle();
    assert.deepEqual(host.applied, ['kill:e']);
    assert.equal(r.stats.suppressed['never-touch'], 4);
    const custom = memoryHost();
    const r2 = new Responder({ actions: custom.set, clock: () => 0, neverTouch: { namespaces: ['prod-*'], workloads: [], images: [] } });
    r2.respondTo(judged(judge, 'Shell in app', { 'container.id': 'x', 'k8s.ns.name': 'prod-eu', 'k8s.pod.name': 'api' }));
    r2.respondTo(judged(judge, 'Shell in app', { 'container.id': 'y', 'k8s.ns.name': 'kube-system', 'k8s.pod.name': 'api' }));
    await r2.idle();
    assert.deepEqual(custom.applied, ['kill:y'], 'the configured list replaces the defaults');
  });

  test('a dry-run responder decides and audits, and changes nothing', async () => {
    const host = memoryHost();
    const audit = new MemoryAuditLog();
    const r = new Responder({ actions: host.set, clock: () => 0, dryRun: true, audit });
    const [d] = r.respondTo(judged(judge, 'Shell in app', { 'container.id': 'z' }));
    assert.equal(d?.kind, 'acting');
    const result = await (d as Extract<Decision, { kind: 'acting' }>).result;
    assert.equal(result.outcome, 'dry-run');
    assert.match(result.detail, /^would kill z/);
    assert.deepEqual(host.applied, []);
    assert.equal(audit.records[0]?.dryRun, true);
  });

  test('the request shape: container, pod, process and per-policy enforcement from a judged alert; a Falco-JSON alert with its verdict', () => {
    const j = judged(judge, 'Miner', { 'container.id': 'abc', 'container.name': 'web', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1', 'proc.pid': 4242, 'proc.vpid': '7' });
    const req = toRequest(j);
    assert.equal(req.source, 'alert');
    assert.deepEqual(req.container, { id: 'abc', name: 'web' });
    assert.deepEqual(req.pod, { namespace: 'shop', name: 'web-1' });
    assert.deepEqual(req.process, { hostPid: 4242, pid: 7 });
    assert.deepEqual(req.policies, [{ id: policyId('Miner'), enforcement: ['kill', 'isolate'] }]);
    // As Falco JSON (what a webhook receives): the merged verdict.
    const plain = toRequest(JSON.parse(JSON.stringify(j.alert)));
    assert.deepEqual(plain.policies.map((p) => [p.id, [...p.enforcement].sort()]), [[policyId('Miner'), ['isolate', 'kill']]]);
    assert.throws(() => toRequest({} as never), /not an alert/);
    assert.deepEqual(toRequest(alertFor('x', { 'container.id': 'host' })).container, undefined);
  });
});

describe('runAction and the audit log', () => {
  test('idempotent: the second run says already; both are appended to the JSONL log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-audit-'));
    try {
      const host = memoryHost();
      const log = new JsonlAuditLog(join(dir, 'sub', 'audit.jsonl'));
      const [act] = [host.set.resolve('kill', { source: 'alert', name: 'x', policies: [], container: { id: 'c9' } })];
      assert.ok(act && typeof act !== 'string');
      const trigger = { by: 'user', user: 'alice', incident: 'INC-7' };
      const first = await runAction(act.action, act.target, { trigger, audit: log });
      const second = await runAction(act.action, act.target, { trigger, audit: log });
      assert.equal(first.outcome, 'done');
      assert.equal(second.outcome, 'already');
      const records = log.read();
      assert.deepEqual(records.map((r) => r.outcome), ['done', 'already']);
      assert.equal(records[0]?.trigger.incident, 'INC-7');
      assert.equal(records[0]?.trigger.user, 'alice');
      assert.ok(records.every((r) => typeof r.durationMs === 'number' && r.time.endsWith('Z')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('evidence is captured before a destructive action (and never in a dry run); a failed capture is recorded, or refuses when required', async () => {
    const host = memoryHost();
    const act = host.set.resolve('kill', { source: 'alert', name: 'x', policies: [], container: { id: 'e1' } });
    assert.ok(act && typeof act !== 'string');
    const order: string[] = [];
    const evidence = async () => {
      order.push(`evidence:${host.state.get('e1') ?? 'running'}`);
      return { location: '/bundles/e1' };
    };
    const dry = await runAction(act.action, act.target, { trigger: { by: 'test' }, dryRun: true, evidence });
    assert.equal(dry.outcome, 'dry-run');
    assert.deepEqual(order, []);
    const done = await runAction(act.action, act.target, { trigger: { by: 'test' }, evidence });
    assert.deepEqual(order, ['evidence:running'], 'captured while the target still ran');
    assert.equal(done.evidence, '/bundles/e1');
    const act2 = host.set.resolve('kill', { source: 'alert', name: 'x', policies: [], container: { id: 'e2' } });
    assert.ok(act2 && typeof act2 !== 'string');
    const broken = async () => {
      throw new Error('disk full');
    };
    const refused = await runAction(act2.action, act2.target, { trigger: { by: 'test' }, evidence: broken, requireEvidence: true });
    assert.equal(refused.outcome, 'refused');
    assert.match(refused.detail, /disk full/);
    const went = await runAction(act2.action, act2.target, { trigger: { by: 'test' }, evidence: broken });
    assert.equal(went.outcome, 'done');
    assert.equal(went.data?.evidenceError, 'disk full');
  });
});
