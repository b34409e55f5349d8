/**
 * Response actions against real podman containers (the Docker Engine API at podman's
 * socket), checked through `podman inspect`: policy-triggered kill, pause and isolate take
 * effect (real runtime policies judging alerts, the Responder with the host action set),
 * with a signed evidence bundle captured before the kill; a second run is `already`; dry
 * runs change nothing; stop and kill-process; restart from the signed image (an unsigned
 * one is refused); the CLI, and its one-line errors for bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { hostActionSet } from '../../src/respond/action-sets.js';
import { sensorResponder } from '../../src/respond/alert-sink.js';
import { Engine, ruleSetFromText } from '../../src/runtime/rules/index.js';
import { JsonlAuditLog } from '../../src/respond/audit.js';
import { containerIsolate } from '../../src/respond/container-isolate.js';
import { containerKill } from '../../src/respond/container-kill.js';
import { containerPause } from '../../src/respond/container-pause.js';
import { containerRestart } from '../../src/respond/container-restart.js';
import { containerStop } from '../../src/respond/container-stop.js';
import { EngineApi } from '../../src/respond/engine.js';
import { evidenceCapture } from '../../src/respond/evidence-hook.js';
import { verifyEvidence } from '../../src/respond/evidence/verify.js';
import { trustedKeysCheck } from '../../src/respond/image-trust.js';
import { processKill } from '../../src/respond/process-kill.js';
import { Responder, type Decision } from '../../src/respond/responder.js';
import { runAction } from '../../src/respond/run.js';
import type { ResponseAction } from '../../src/respond/types.js';
import { loadPublicKey } from '../../src/trust/keys.js';
import { isUserError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing, podmanSocket, testRegistry } from '../helpers/components.js';
import { judgeFor, judged, packText } from './policy-helper.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const SOURCE = `${testRegistry}/gatehouse-test/ep-busybox:1`;
const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const suffix = randomBytes(4).toString('hex');
const endpoint = `unix://${podmanSocket}`;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
const podmanPresent = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const inspect = (name: string): any => JSON.parse(podman('inspect', '--type', 'container', name))[0];
const names: string[] = [];
/** A running busybox container (two sleeps: pid 1 and a child). */
function start(role: string, image = IMAGE): string {
  const name = `gh-respond-${role}-${suffix}`;
  names.push(name);
  podman('run', '-d', ...RUN_FLAGS, '--name', name, image, 'sh', '-c', 'sleep 600 & exec sleep 600');
  return name;
}
/** What a dry run must leave alone. */
const snapshot = (name: string) => {
  const c = inspect(name);
  return { status: c.State.Status, pid: c.State.Pid, networks: Object.keys(c.NetworkSettings.Networks ?? {}), id: c.Id };
};

describe('response actions on real podman containers', { skip: missing(podmanPresent, `podman, its socket ${podmanSocket} and the image ${IMAGE} (bash .ci/setup)`) }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-host-'));
  const engine = new EngineApi(endpoint);
  after(async () => {
    for (const n of names) spawnSync('podman', ['rm', '-f', '-t', '0', n]);
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('policy-triggered kill, pause and isolate take effect (podman inspect), evidence first; a second run is already', async (t) => {
    const [k, p, i] = [start('kill'), start('pause'), start('isolate')];
    assert.ok(Object.keys(inspect(i).NetworkSettings.Networks ?? {}).length > 0, 'the isolate target starts on a network');
    const judge = judgeFor(packText([['Shell in app', ['kill']], ['Odd read', ['pause']], ['Exfil', ['isolate']]]));
    const audit = new JsonlAuditLog(join(dir, 'audit.jsonl'));
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let now = Date.now();
    const evidence = evidenceCapture({ dir: join(dir, 'evidence'), host: endpoint, signingKey: privateKey });
    t.after(() => evidence.close());
    const responder = new Responder({
      actions: hostActionSet(engine),
      clock: () => now,
      audit,
      evidence,
      component: 'sensor',
    });
    const fire = () => [
      ...responder.respondTo(judged(judge, 'Shell in app', { 'container.id': inspect(k).Id, 'container.name': k })),
      ...responder.respondTo(judged(judge, 'Odd read', { 'container.id': inspect(p).Id, 'container.name': p })),
      ...responder.respondTo(judged(judge, 'Exfil', { 'container.id': inspect(i).Id, 'container.name': i })),
    ];
    const results = await Promise.all(fire().map((d) => (d as Extract<Decision, { kind: 'acting' }>).result));
    assert.deepEqual(results.map((r) => [r.action, r.outcome]), [['kill', 'done'], ['pause', 'done'], ['isolate', 'done']], JSON.stringify(results));
    assert.equal(inspect(k).State.Running, false);
    assert.match(inspect(k).State.Status, /exited|stopped/);
    assert.equal(inspect(p).State.Status, 'paused');
    assert.deepEqual(Object.keys(inspect(i).NetworkSettings.Networks ?? {}), []);
    assert.equal(inspect(i).State.Status, 'running', 'an isolated container keeps running');
    // Evidence was taken before the kill: the bundle's inspect shows the container running, and it verifies.
    const bundle = results[0]!.evidence!;
    assert.ok(bundle && existsSync(bundle), 'an evidence bundle was written');
    assert.equal(JSON.parse(readFileSync(join(bundle, 'inspect.json'), 'utf8')).State.Running, true);
    const verdict = await verifyEvidence(bundle, { publicKey });
    assert.equal(verdict.ok, true, verdict.problems.join('; '));
    assert.equal(results[1]!.evidence, undefined, 'pause destroys nothing: no bundle');
    // After the cooldown, the same alerts find nothing to do.
    now += 3_600_000;
    const again = await Promise.all(fire().map((d) => (d as Extract<Decision, { kind: 'acting' }>).result));
    assert.deepEqual(again.map((r) => r.outcome), ['already', 'already', 'already'], JSON.stringify(again));
    const records = audit.read();
    assert.equal(records.length, 6);
    assert.deepEqual(records.map((r) => r.trigger.by), Array(6).fill('sensor'));
    assert.ok(records.every((r) => r.trigger.policies?.length === 1 && r.target.type === 'container'));
    assert.equal(records.find((r) => r.action === 'kill' && r.outcome === 'done')?.evidence, bundle);
    assert.equal(readdirSync(join(dir, 'evidence')).length, 1, 'no evidence for an action with nothing to do');
  });

  test("the sensor's alert path: a Falco rule's alert, judged by a runtime policy, reaches the responder sink and the container is stopped", async () => {
    const name = start('sink');
    const id = inspect(name).Id as string;
    const rules = ruleSetFromText([{ name: 'r.yaml', text: `
- rule: Package manager in container
  desc: test
  condition: evt.type = execve and evt.dir = < and container.id != host and proc.name = apk
  output: apk ran (container.id=%container.id container.name=%container.name)
  priority: ERROR
` }]);
    const judge = judgeFor(packText([['Package manager in container', ['stop']]]));
    const killSwitch = join(dir, 'sink-stop');
    const sink = sensorResponder({ endpoint, auditLog: join(dir, 'sink-audit.jsonl'), killSwitchFile: killSwitch, cooldownSeconds: 60 });
    // As the sensor does: alerts are annotated with their verdict, then written to every sink.
    const engine = new Engine(rules, [sink], { annotate: (a, ev) => judge.judge(a, ev).alert });
    for (let i = 0; i < 20; i++) engine.push({ 'evt.type': 'execve', 'evt.dir': '<', 'container.id': id.slice(0, 12), 'container.name': name, 'proc.name': 'apk' });
    engine.push({ 'evt.type': 'execve', 'evt.dir': '<', 'container.id': id.slice(0, 12), 'proc.name': 'ls' });
    await engine.close();
    assert.equal(sink.failedActions, 0);
    assert.notEqual(inspect(name).State.Status, 'running');
    const records = new JsonlAuditLog(join(dir, 'sink-audit.jsonl')).read();
    assert.deepEqual(records.map((r) => [r.action, r.outcome, r.trigger.by]), [['stop', 'done', 'sensor']], 'twenty alerts, one action');
  });

  test('with killProcess, a policy kill ends the alert\'s process (its host pid) and the container keeps running', async () => {
    const name = start('killproc');
    const [, child] = podman('top', name, 'pid', 'hpid').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    assert.ok(child, podman('top', name, 'pid', 'hpid'));
    const [vpid, hpid] = child.map(Number) as [number, number];
    const judge = judgeFor(packText([['Miner started', ['kill']]]));
    const r = new Responder({ actions: hostActionSet(engine, { killProcess: true }), clock: () => 0 });
    const [d] = r.respondTo(judged(judge, 'Miner started', { 'container.id': inspect(name).Id, 'proc.pid': hpid, 'proc.vpid': vpid }));
    const result = await (d as Extract<Decision, { kind: 'acting' }>).result;
    assert.equal(result.action, 'kill-process');
    assert.equal(result.outcome, 'done', result.detail);
    assert.equal(inspect(name).State.Status, 'running');
    const left = podman('top', name, 'pid', 'hpid').split('\n').slice(1).map((l) => l.trim().split(/\s+/)[1]);
    assert.ok(!left.includes(String(hpid)), `process ${hpid} is gone: ${left.join(' ')}`);
  });

  test('dry runs change nothing', async () => {
    const name = start('dry');
    // A drifted file, so that restart has something to do.
    podman('exec', name, 'sh', '-c', 'echo x > /tmp/drift');
    const before = snapshot(name);
    const actions: [ResponseAction<any>, Record<string, unknown>][] = [
      [containerKill(engine), {}],
      [containerStop(engine), {}],
      [containerPause(engine), {}],
      [containerIsolate(engine), {}],
      [processKill(engine), { pid: 1 }],
      // Trust always says yes here: even then a dry run does not replace the container.
      [containerRestart(engine, async () => ({ allowed: true, reason: 'test' })), {}],
    ];
    for (const [action, extra] of actions) {
      const r = await runAction(action, { type: 'container', container: name, endpoint, ...extra }, { trigger: { by: 'test' }, dryRun: true });
      assert.equal(r.outcome, 'dry-run', `${action.name}: ${r.detail}`);
      assert.match(r.detail, /^would /);
      assert.deepEqual(snapshot(name), before, `${action.name} --dry-run changed the container`);
    }
  });

  test('stop and kill-process (a pid in the container, a host pid) take effect; a second run is already', async () => {
    const name = start('proc');
    const t = { type: 'container' as const, container: name, endpoint };
    const byPid = await runAction(processKill(engine), { ...t, pid: 3 }, { trigger: { by: 'test' } });
    // Pid 3 may not be the child sleep; find it from the process table instead.
    const top = podman('top', name, 'pid', 'args').split('\n').slice(1).map((l) => l.trim().split(/\s+/));
    const child = top.find(([pid, ...args]) => pid !== '1' && args.join(' ') === 'sleep 600');
    if (byPid.outcome === 'already') {
      assert.ok(child, podman('top', name));
      const r = await runAction(processKill(engine), { ...t, pid: Number(child[0]) }, { trigger: { by: 'test' } });
      assert.equal(r.outcome, 'done', r.detail);
    }
    const after = podman('top', name, 'pid', 'args');
    assert.doesNotMatch(after.split('\n').filter((l) => !/^\s*1\s/.test(l)).join('\n'), /sleep 600/, after);
    assert.equal(inspect(name).State.Status, 'running', 'the container keeps running');
    // The host pid of pid 1 is refused for another container, killed for its own.
    const other = start('other');
    const hostPid = inspect(name).State.Pid as number;
    const wrong = await runAction(processKill(engine), { type: 'container', container: other, endpoint, hostPid }, { trigger: { by: 'test' } });
    assert.equal(wrong.outcome, 'refused', wrong.detail);
    assert.equal(inspect(name).State.Status, 'running');
    const stop = await runAction(containerStop(engine, { graceSeconds: 1 }), { type: 'container', container: other, endpoint }, { trigger: { by: 'test' } });
    assert.equal(stop.outcome, 'done', stop.detail);
    assert.notEqual(inspect(other).State.Status, 'running');
    assert.equal((await runAction(containerStop(engine), { type: 'container', container: other, endpoint }, { trigger: { by: 'test' } })).outcome, 'already');
    const own = await runAction(processKill(engine), { ...t, hostPid }, { trigger: { by: 'test' } });
    assert.equal(own.outcome, 'done', own.detail);
    for (let i = 0; i < 100 && inspect(name).State.Running; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(inspect(name).State.Running, false, 'killing pid 1 ends the container');
    assert.equal((await runAction(processKill(engine), { ...t, hostPid }, { trigger: { by: 'test' } })).outcome, 'already');
  });

  test('an unknown container is a one-line error', async () => {
    await assert.rejects(runAction(containerKill(engine), { type: 'container', container: `nosuch-${suffix}`, endpoint }, { trigger: { by: 'test' } }), (e) => isUserError(e) && /no such container "nosuch-/.test(e.message) && !e.message.includes('\n'));
  });

  test('gatehouse respond: kill, isolate (json), dry run; bad input is one line, exit 2', async () => {
    const name = start('cli');
    const env = { GATEHOUSE_RESPOND_AUDIT: join(dir, 'cli-audit.jsonl'), DOCKER_HOST: endpoint };
    const dry = await runCli(['respond', 'kill', name, '--dry-run'], { env });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would kill container/);
    assert.equal(inspect(name).State.Status, 'running');
    const iso = await runCli(['respond', 'isolate', name, '--format', 'json', '--incident', 'INC-1'], { env });
    assert.equal(iso.code, 0, iso.stderr);
    assert.equal(JSON.parse(iso.stdout).outcome, 'done');
    assert.deepEqual(Object.keys(inspect(name).NetworkSettings.Networks ?? {}), []);
    // The result also goes to syslog (a real UDP socket) and as a Falco JSON line to a file.
    const udp = createSocket('udp4');
    const datagram = new Promise<string>((resolve) => udp.once('message', (m) => resolve(m.toString('utf8'))));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    const paused = await runCli(['respond', 'pause', name, '--syslog', `udp://127.0.0.1:${udp.address().port}`, '--falco-output', join(dir, 'falco.jsonl')], { env });
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(await datagram, /^<\d+>1 \S+ \S+ gatehouse \d+ response \[gatehouse@32473 action="pause" outcome="done"/);
    udp.close();
    const falco = JSON.parse(readFileSync(join(dir, 'falco.jsonl'), 'utf8'));
    assert.equal(falco.rule, 'Gatehouse response');
    assert.equal(falco.output_fields['gatehouse.action'], 'pause');
    assert.equal(inspect(name).State.Status, 'paused');
    const kill = await runCli(['respond', 'kill', name], { env });
    assert.equal(kill.code, 0, kill.stderr);
    assert.match(kill.stdout, /: done: killed container/);
    assert.equal(inspect(name).State.Running, false);
    const again = await runCli(['respond', 'kill', name], { env });
    assert.match(again.stdout, /: already: /);
    const log = readFileSync(env.GATEHOUSE_RESPOND_AUDIT, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.map((r) => [r.action, r.outcome, r.dryRun]), [['kill', 'dry-run', true], ['isolate', 'done', false], ['pause', 'done', false], ['kill', 'done', false], ['kill', 'already', false]]);
    assert.equal(log[1].trigger.incident, 'INC-1');
    assert.equal(log[1].trigger.by, 'user');
    for (const [args, pattern] of [
      [['respond', 'kill', `nosuch-${suffix}`], /^gatehouse: no such container "nosuch-\w+" on unix:\/\//],
      [['respond', 'pause', 'x', '--host', 'http//bogus'], /^gatehouse: engine endpoint .*expected unix:\/\/\/path or tcp:\/\/host:port/],
      [['respond', 'kill-process', name, 'abc'], /^gatehouse: "abc" is not a process id/],
      [['respond', 'restart', name], /^gatehouse: respond restart needs --key PUB or --policy FILE/],
      [['respond', 'stop', name, '--syslog', 'syslog.example:514'], /^gatehouse: syslog address "syslog.example:514": expected udp:\/\/HOST\[:PORT\] or tcp:\/\/HOST\[:PORT\]/],
    ] as const) {
      const r = await runCli([...args], { env });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
});

describe('restart from the signed image', { skip: missing(podmanPresent && hasCommand('skopeo'), 'podman, skopeo and the test registry (bash .ci/setup)') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-respond-restart-'));
  const signed = `${testRegistry}/respond-test/signed-${suffix}:1`;
  const unsigned = `${testRegistry}/respond-test/unsigned-${suffix}:1`;
  const env = { GATEHOUSE_PASSWORD: 'pw', GATEHOUSE_RESPOND_AUDIT: join(dir, 'audit.jsonl') };
  const engine = new EngineApi(endpoint);
  before(async () => {
    for (const target of [signed, unsigned]) {
      const r = spawnSync('skopeo', ['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${SOURCE}`, `docker://${target}`], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      podman('pull', '-q', '--tls-verify=false', target);
    }
    const gen = await runCli(['key', 'generate', '--output-key-prefix', join(dir, 'team')], { env });
    assert.equal(gen.code, 0, gen.stderr);
    const sig = await runCli(['image', 'sign', '--key', join(dir, 'team.key'), signed], { env });
    assert.equal(sig.code, 0, sig.stderr);
  });
  after(async () => {
    for (const n of names) spawnSync('podman', ['rm', '-f', '-t', '0', n]);
    spawnSync('podman', ['rmi', '-f', signed, unsigned]);
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a drifted container is replaced from its verified image (same name, no changes); an unsigned image is refused', async () => {
    const name = start('restart', signed);
    podman('exec', name, 'sh', '-c', 'cp /bin/busybox /tmp/dropped && echo x > /etc/drift');
    const oldId = inspect(name).Id;
    const check = trustedKeysCheck([{ name: 'team', key: await loadPublicKey(join(dir, 'team.pub')) }]);
    const r = await runAction(containerRestart(engine, check), { type: 'container', container: name, endpoint }, { trigger: { by: 'test' } });
    assert.equal(r.outcome, 'done', r.detail);
    const now = inspect(name);
    assert.notEqual(now.Id, oldId, 'a new container');
    assert.equal(now.State.Status, 'running');
    assert.match(now.ImageName ?? now.Config.Image, /@sha256:[0-9a-f]{64}$/, 'pinned to the verified digest');
    assert.equal(spawnSync('podman', ['exec', name, 'test', '-e', '/tmp/dropped']).status, 1, 'the dropped binary is gone');
    assert.equal(podman('diff', name).split('\n').filter((l) => /dropped|drift/.test(l)).length, 0);
    const again = await runAction(containerRestart(engine, check), { type: 'container', container: name, endpoint }, { trigger: { by: 'test' } });
    assert.equal(again.outcome, 'already', again.detail);

    const bad = start('unsigned', unsigned);
    const badId = inspect(bad).Id;
    const cli = await runCli(['respond', 'restart', bad, '--key', join(dir, 'team.pub'), '--host', endpoint], { env });
    assert.equal(cli.code, 1, cli.stdout + cli.stderr);
    assert.match(cli.stdout, /refused: image .* did not verify/);
    assert.equal(inspect(bad).Id, badId, 'the container is left as it was');
    assert.equal(inspect(bad).State.Status, 'running');
  });
});
