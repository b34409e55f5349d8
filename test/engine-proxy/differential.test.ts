/**
 * Differential test (issue 15): the engine proxy's default rules, ported to the PolicyPack
 * policies/engine.yaml and evaluated by the one policy engine, give the same decision as
 * the old evaluator (test/engine-proxy/legacy/decide.ts over the old default-policy.yaml,
 * copied verbatim) on thousands of seeded recorded requests: the same verdict (allow, deny,
 * audit ↔ warn) and the same rule ids.
 *
 * Requests are facts objects as the proxy records them: most are built by the proxy's own
 * fact builders from generated Docker API bodies (container.create, exec, volume.create,
 * container.update), the rest are raw facts, and a share of each is then damaged (facts
 * dropped, emptied to '' or []) to cover missing values.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createFacts, execFacts, imageFacts, updateFacts, volumeFacts, type Facts } from '../../src/engine-proxy/facts.js';
import { loadEnginePolicies } from '../../src/engine-proxy/policy.js';
import { parseManifests } from '../../src/kube/manifests.js';
import { compilePolicySet, evaluate } from '../../src/policy/evaluate.js';
import { readPackText } from '../../src/policy/pack.js';
import { EngineProxy } from '../../src/engine-proxy/proxy.js';
import { subjects } from '../../src/subjects/index.js';
import { RUNTIME_SOCKETS, RUNTIME_SOCKET_MOUNTS, SENSITIVE_HOST_PATHS, SENSITIVE_PARENT_DIRS, isRuntimeSocketMount, normalizeHostPath, sensitiveHostPath } from '../../src/util/host-paths.js';
import { decide as legacyDecide } from './legacy/decide.js';
import { loadDefaultPolicy as legacyDefault } from './legacy/policy.js';

const CASES = Number(process.env.GATEHOUSE_DIFF_CASES ?? 4000);

const legacy = legacyDefault();
const ported = await loadEnginePolicies(['engine'], subjects());
const proxy = new EngineProxy({ listen: { kind: 'unix', path: '/nonexistent/a.sock' }, upstream: { kind: 'unix', path: '/nonexistent/b.sock' }, policy: ported });

// The old rule file's host-path lists (YAML anchors of EP005), read from the reference file.
const oldDoc = parseYaml(readFileSync(new URL('./legacy/default-policy.yaml', import.meta.url), 'utf8')) as { rules: { id: string; when: { any: { value: string[] }[] } }[] };
const ep005 = oldDoc.rules.find((r) => r.id === 'EP005')!.when.any;
const OLD_PARENTS = ep005[0]!.value;
const OLD_SENSITIVE = ep005[1]!.value;
/** Sockets the one shared list (src/util/host-paths.ts) knows and the old proxy list missed. */
const ADDED = ['/var/run/cri-dockerd.sock', '/run/cri-dockerd.sock'];

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const some = <T>(xs: readonly T[], p = 0.3): T[] => xs.filter(() => next() < p);
  const chance = (p: number) => next() < p;
  return { next, pick, some, chance };
}

type R = ReturnType<typeof rng>;

/** Host paths: the old lists, beneath them, look-alikes beside them, tricks and ordinary paths. */
function hostPath(r: R): string {
  switch (Math.floor(r.next() * 7)) {
    case 0: return r.pick(OLD_PARENTS);
    case 1: return r.pick(OLD_SENSITIVE);
    case 2: return `${r.pick(OLD_SENSITIVE)}/${r.pick(['x', 'shadow', 'a/b', 'docker.sock', ''])}`;
    case 3: return `${r.pick([...OLD_PARENTS, ...OLD_SENSITIVE])}${r.pick(['etera', '-x', '.d', 'x'])}`;
    case 4: return r.pick(['/proc/../etc', '/srv/../var/run', '/etc/', '/var/run/docker.sock/', '//etc', '/./root', '/srv/./data', '/home/u/data', '/usr/local/src', '/var/lib/app', '/var/log', '/tmp', '/opt/app']);
    case 5: return `/${r.pick(['srv', 'data', 'mnt', 'opt', 'work'])}/${r.pick(['app', 'x', 'cache'])}`;
    default: return r.pick(['relative/dir', 'named-volume', '', '.']);
  }
}

const NS_VALUES = ['', 'host', 'bridge', 'container:abc', 'private', 'none', 'HOST'];
const CAPS = ['SYS_ADMIN', 'cap_net_admin', 'NET_BIND_SERVICE', 'ALL', 'chown', 'SYS_PTRACE', 'sys_module', 'DAC_READ_SEARCH', 'AUDIT_WRITE', 'CAP_SYS_ADMIN', 'all'];
const SECOPTS = ['seccomp=unconfined', 'seccomp:unconfined', 'apparmor=unconfined', 'apparmor:unconfined', 'label=disable', 'label:disable', 'no-new-privileges', 'seccomp=/p.json', 'label=type:svirt_t', 'SECCOMP=unconfined'];
const IMAGES = ['busybox', 'busybox:latest', 'localhost/x:1', 'localhost/x:latest', 'registry.example/team/app@sha256:' + 'a'.repeat(64), 'Not A Ref!', '', '127.0.0.1:5000/t/a:2', 'docker.io/library/nginx:latest'];
const USERS = ['', 'root', '0', 'app', '1000:1000', 'root:root', '0:0', 'nobody'];

function createBody(r: R): Record<string, unknown> {
  const hc: Record<string, unknown> = {};
  if (r.chance(0.25)) hc.Privileged = r.pick([true, false, 'true', 1]);
  if (r.chance(0.4)) hc.CapAdd = r.some(CAPS, 0.2);
  for (const k of ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode']) if (r.chance(0.2)) hc[k] = r.pick(NS_VALUES);
  if (r.chance(0.5)) hc.Binds = Array.from({ length: 1 + Math.floor(r.next() * 3) }, () => `${hostPath(r)}:/dst${r.pick(['', ':ro', ':rw,z'])}`);
  if (r.chance(0.3)) {
    hc.Mounts = Array.from({ length: 1 + Math.floor(r.next() * 2) }, () =>
      r.chance(0.6)
        ? { Type: r.pick(['bind', 'BIND', '', 'volume']), Source: hostPath(r), Target: '/m' }
        : { Type: 'volume', Target: '/v', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: hostPath(r) } } } },
    );
  }
  if (r.chance(0.2)) hc.Devices = r.some([{ PathOnHost: '/dev/sda' }, { PathOnHost: '/dev/fuse' }, {}, { PathOnHost: '' }], 0.5);
  if (r.chance(0.35)) hc.SecurityOpt = r.some(SECOPTS, 0.25);
  if (r.chance(0.1)) hc.ReadonlyRootfs = r.chance(0.5);
  const body: Record<string, unknown> = { Image: r.pick(IMAGES) };
  if (r.chance(0.7)) body.User = r.pick(USERS);
  if (r.chance(0.85)) body.HostConfig = hc;
  return body;
}

/** One recorded request: the facts the proxy would decide on. */
function request(r: R): Facts {
  const caller = { 'request.method': r.pick(['GET', 'POST', 'DELETE', 'PUT']), 'caller.uid': r.pick([0, 1000]), 'caller.transport': 'unix' };
  let facts: Facts;
  switch (r.pick(['create', 'create', 'create', 'create', 'create', 'exec', 'volume', 'update', 'build', 'pull', 'plugin', 'swarm', 'unknown', 'other', 'none', 'raw'])) {
    case 'create':
      facts = { action: 'container.create', ...caller, ...createFacts(createBody(r) as never, new URLSearchParams(r.chance(0.5) ? 'name=web' : '')) };
      if (r.chance(0.2)) facts['image.signed'] = r.chance(0.5);
      break;
    case 'exec':
      facts = { action: 'exec.create', ...caller, 'target.ref': 'web', ...execFacts({ ...(r.chance(0.5) ? { Privileged: r.pick([true, false]) } : {}), User: r.pick(USERS), Cmd: ['sh'] } as never) };
      break;
    case 'volume':
      facts = { action: 'volume.create', ...caller, ...volumeFacts({ Name: 'v', ...(r.chance(0.8) ? { DriverOpts: { type: 'none', o: 'bind', [r.pick(['device', 'Device', 'DEVICE'])]: hostPath(r) } } : {}) } as never) };
      break;
    case 'update':
      facts = { action: 'container.update', ...caller, 'target.ref': 'web', ...updateFacts({ Devices: r.some([{ PathOnHost: '/dev/sda' }, { PathOnHost: '' }], 0.5) } as never) };
      break;
    case 'build':
      facts = { action: 'image.build', ...caller, 'build.networkMode': r.pick(['', 'host', 'none', 'bridge', 'HOST']), 'build.tags': r.some(['a:1', 'b:latest']) };
      break;
    case 'pull':
      facts = { action: 'image.pull', ...caller, ...imageFacts(r.pick(IMAGES)) };
      if (r.chance(0.5)) facts['image.signed'] = r.chance(0.5);
      break;
    case 'plugin':
    case 'swarm':
      facts = { action: r.chance(0.5) ? 'plugin' : 'swarm', ...caller };
      break;
    case 'unknown':
      facts = { action: 'unknown', ...caller, 'request.path': '/libpod/info' };
      break;
    case 'other':
      facts = { action: r.pick(['system.info', 'container.list', 'container.kill', 'image.push', 'network.create', 'container.createx', 'containers.create', 'foo']), ...caller, 'container.privileged': r.chance(0.3), 'build.networkMode': 'host' };
      break;
    case 'none':
      // No action at all: the old evaluator called it "unknown".
      facts = { ...caller, 'container.privileged': true };
      break;
    default:
      // Raw facts in any combination, whatever action they claim (host paths normalized,
      // as facts.ts records them).
      facts = {
        action: r.pick(['container.create', 'exec.create', 'volume.create', 'container.update', 'image.build', 'image.pull', 'unknown']),
        'container.privileged': r.pick([true, false]),
        'exec.privileged': r.pick([true, false]),
        'container.capAdd': r.some(['SYS_ADMIN', 'NET_ADMIN', 'CHOWN', 'ALL'], 0.3),
        'container.hostNamespaces': r.some(['network', 'pid', 'ipc', 'uts', 'userns', 'cgroupns'], 0.2),
        'container.bindSources': Array.from({ length: Math.floor(r.next() * 3) }, () => normalizeHostPath(hostPath(r))),
        'volume.devices': Array.from({ length: Math.floor(r.next() * 2) }, () => normalizeHostPath(hostPath(r))),
        'container.devices': r.some(['/dev/sda', ''], 0.3),
        'container.securityOpt': r.some(['seccomp=unconfined', 'apparmor=unconfined', 'label=disable', 'no-new-privileges'], 0.25),
        'container.runsAsRoot': r.pick([true, false]),
        'image.tag': r.pick(['latest', '1', '']),
        'image.signed': r.pick([true, false]),
        'build.networkMode': r.pick(['host', 'none', '']),
        'request.method': r.pick(['GET', 'POST', 'DELETE']),
      };
  }
  // Damage: drop facts, or empty them, so missing and empty values are covered.
  if (r.chance(0.25)) {
    for (const k of Object.keys(facts)) {
      if (k === 'action' || !r.chance(0.3)) continue;
      const v = facts[k];
      if (r.chance(0.4)) delete facts[k];
      else facts[k] = Array.isArray(v) ? [] : typeof v === 'string' ? '' : v;
    }
  }
  return facts;
}

describe('differential: ported engine pack vs the old proxy evaluator', () => {
  test(`${CASES} seeded recorded requests get the same decision and the same rule ids`, () => {
    const r = rng(15);
    const verdicts = new Map<string, number>();
    const hits = new Map<string, number>();
    const mismatches: string[] = [];
    let skipped = 0;
    for (let i = 0; i < CASES; i++) {
      const facts = request(r);
      const paths = [...((facts['container.bindSources'] as string[] | undefined) ?? []), ...((facts['volume.devices'] as string[] | undefined) ?? [])];
      if (paths.some((p) => ADDED.includes(p))) {
        skipped++; // Not generated (the old lists have no cri-dockerd); guarded in case a generator changes.
        continue;
      }
      const old = legacyDecide(legacy, facts);
      const now = proxy.decide(facts);
      const oldVerdict = old.verdict === 'audit' ? 'warn' : old.verdict;
      const oldIds = old.hits.map((h) => h.id).sort();
      const newIds = now.violations.map((f) => f.id).sort();
      if (oldVerdict !== now.verdict || oldIds.join() !== newIds.join()) {
        mismatches.push(`${JSON.stringify(facts)}: old ${old.verdict} [${oldIds}] vs new ${now.verdict} [${newIds}]`);
      }
      verdicts.set(now.verdict, (verdicts.get(now.verdict) ?? 0) + 1);
      for (const id of newIds) hits.set(id, (hits.get(id) ?? 0) + 1);
    }
    assert.deepEqual(mismatches.slice(0, 5), [], `${mismatches.length} of ${CASES} requests decided differently`);
    assert.equal(skipped, 0);
    // The cases exercise every ported rule and every verdict, so a broken port cannot hide.
    for (const rule of legacy.rules) assert.ok((hits.get(rule.id) ?? 0) >= 10, `rule ${rule.id} hit ${hits.get(rule.id) ?? 0} times`);
    for (const v of ['allow', 'deny', 'warn']) assert.ok((verdicts.get(v) ?? 0) >= CASES / 20, `${v}: ${verdicts.get(v)}`);
  });

  test('the deny messages name the same rules with the same titles as before', () => {
    const r = rng(99);
    for (let i = 0; i < 300; i++) {
      const facts = request(r);
      const old = legacyDecide(legacy, facts);
      const now = proxy.decide(facts);
      if (old.verdict === 'allow') continue;
      // Old: `… by gatehouse policy "default": EP001 title; …`; new names the pack ("engine").
      assert.equal(now.message.replace('"engine"', '"default"'), old.message, JSON.stringify(facts));
    }
  });
});

describe('one host-path list (src/util/host-paths.ts) for the proxy and the workload field', () => {
  test('it equals the old proxy lists, plus the cri-dockerd sockets the old list missed', () => {
    assert.deepEqual([...SENSITIVE_PARENT_DIRS].sort(), [...OLD_PARENTS].sort());
    const coveredByOld = (p: string) => OLD_SENSITIVE.some((d) => p === d || p.startsWith(`${d}/`));
    assert.deepEqual(SENSITIVE_HOST_PATHS.filter((p) => !coveredByOld(p)).sort(), [...ADDED].sort());
    for (const p of OLD_SENSITIVE) assert.ok(SENSITIVE_HOST_PATHS.includes(p), `${p} is in the shared list`);
  });

  test('every runtime socket mount the workload field flags is denied by the proxy, and the reverse for sockets', () => {
    for (const p of RUNTIME_SOCKET_MOUNTS) {
      assert.ok(isRuntimeSocketMount(p));
      assert.ok(sensitiveHostPath(p), `${p} is sensitive for the proxy`);
      const d = proxy.decide({ action: 'container.create', 'container.bindSources': [p], 'container.runsAsRoot': false });
      assert.deepEqual(d.violations.map((f) => f.id), ['EP005'], p);
    }
    for (const s of RUNTIME_SOCKETS) assert.ok(isRuntimeSocketMount(s), s);
    // A path recorded without normalization (facts.ts always normalizes) is normalized by the
    // derived field; the old `in` list compared it raw and let `/srv/../var/run` through.
    const raw = { action: 'volume.create', 'volume.devices': ['/srv/../var/run'] };
    assert.equal(legacyDecide(legacy, raw).verdict, 'allow');
    assert.equal(proxy.decide(raw).verdict, 'deny');
    // The added sockets are denied now (they were allowed before).
    for (const p of ADDED) {
      assert.equal(legacyDecide(legacy, { action: 'container.create', 'container.bindSources': [p] }).verdict, 'allow');
      assert.equal(proxy.decide({ action: 'container.create', 'container.bindSources': [p] }).verdict, 'deny');
    }
  });

  test('the workload field container.hostMounts.runtimeSocket reads the same list (a Pod mounting each path)', () => {
    const pack = readPackText(
      'apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nsubject: workload\npolicies:\n  - { id: sock, severity: HIGH, criteria: { field: container.hostMounts.runtimeSocket, op: exists } }\n',
      'sock.yaml',
      subjects(),
    );
    assert.deepEqual(pack.diagnostics, []);
    const set = compilePolicySet(pack.policies, subjects());
    const podWith = (path: string) =>
      parseManifests(
        JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { volumes: [{ name: 'h', hostPath: { path } }], containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'h', mountPath: '/h' }] }] } }),
        'pod.json',
      ).objects;
    for (const p of [...RUNTIME_SOCKET_MOUNTS, ...ADDED]) {
      assert.deepEqual(evaluate({ kind: 'workload', value: { objects: podWith(p) } }, set).violations.map((f) => f.id), ['sock'], p);
    }
    for (const p of ['/srv/data', '/var/run/app', '/run/user/1000']) {
      assert.deepEqual(evaluate({ kind: 'workload', value: { objects: podWith(p) } }, set).violations, [], p);
    }
  });
});
