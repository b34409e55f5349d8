/**
 * Engine-request packs and the proxy's decisions through the one policy engine: loading
 * (new packs and old rule files, every problem with file:line), endpoint classification,
 * facts, the built-in engine pack, and the fail-open defects of the old evaluator.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { classify } from '../../src/engine-proxy/endpoints.js';
import { createFacts, imageEndpointFacts, volumeFacts, type Facts } from '../../src/engine-proxy/facts.js';
import { findAmbiguousKey } from '../../src/engine-proxy/json-body.js';
import { convertLegacyPolicy } from '../../src/engine-proxy/legacy-policy.js';
import { loadEnginePolicies, type EnginePolicies } from '../../src/engine-proxy/policy.js';
import { EngineProxy, type ProxyDecision } from '../../src/engine-proxy/proxy.js';
import { subjects } from '../../src/subjects/index.js';
import { isUserError } from '../../src/util/errors.js';
import { decide as legacyDecide } from './legacy/decide.js';
import { parsePolicy as legacyParse } from './legacy/policy.js';
import { packText, writePack } from './helpers.js';

const policies = await loadEnginePolicies([], subjects());
/** The proxy's own decision path (no socket: decide() is what handle() calls). */
const proxyFor = (set: EnginePolicies, informOnly = false) =>
  new EngineProxy({ listen: { kind: 'unix', path: '/nonexistent/x.sock' }, upstream: { kind: 'unix', path: '/nonexistent/y.sock' }, policy: set, informOnly });
const proxy = proxyFor(policies);
const ids = (d: ProxyDecision) => d.violations.map((f) => f.id);
const createDecision = (body: unknown) => {
  const c = classify('POST', '/v1.43/containers/create?name=x');
  assert.ok(c.ok);
  return proxy.decide({ action: 'container.create', ...createFacts(body as never, c.endpoint.query) });
};

async function loadError(text: string, name = 'p.yaml'): Promise<string> {
  const file = writePack(text, name);
  const warnings: string[] = [];
  try {
    await loadEnginePolicies([file], subjects(), { warn: (m) => warnings.push(m) });
  } catch (e) {
    assert.ok(isUserError(e), String(e));
    assert.ok(!e.message.includes('\n'), e.message);
    assert.ok(e.message.startsWith(`${file}:`), e.message);
    return e.message.slice(file.length);
  }
  assert.fail(`${text} loaded`);
}

describe('engine-proxy packs and old rule files', () => {
  const bad: [string, RegExp][] = [
    ['rules: [', /^:1: invalid YAML/],
    ['rules: {}', /^:1: "rules" must be a list/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: action, op: bogus, value: 1 }\n', /^:4: policy X: unknown op "bogus"/],
    ['rules:\n  - id: X\n    actions: [a]\n    mode: maybe\n    when: { field: action, op: exists }\n', /^:4: rules\[0\] \(X\) mode must be "enforce" or "audit"/],
    ['rules:\n  - id: X\n    actions: [a]\n    wehn: { field: action, op: exists }\n', /^:4: rules\[0\]: unknown key "wehn"/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: action, op: exists }\n  - id: X\n    actions: [a]\n    when: { field: action, op: exists }\n', /^:5: rules\[1\]: duplicate rule id "X"/],
    ['rules:\n  - id: X\n    actions: []\n    when: { field: action, op: exists }\n', /^:3: rules\[0\] \(X\): "actions" must be a non-empty list/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: request.method, op: in, value: b }\n', /^:4: policy X: op in needs a list value/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: request.path, op: matches, value: "(" }\n', /^:4: policy X: invalid regular expression/],
    ['rules:\n  - id: X\n    actions: [a]\n', /^:2: rules\[0\] \(X\): "when" is required/],
    ['rules:\n  - id: X\n    id: Y\n', /^:3: invalid YAML/],
    // Field checks now apply to old files too, with the old file's line.
    ['rules:\n  - id: X\n    actions: [a]\n    when:\n      any:\n        - { field: action, op: exists }\n        - not: { field: container.capAd, op: in, value: [ALL] }\n', /^:7: policy X: unknown field "container\.capAd" for subject engine-request \(did you mean "container\.capAdd"\?\)/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: caller.uid, op: equals, value: root }\n', /^:4: policy X: field caller\.uid is a number; value "root" is not a number/],
    ['rules:\n  - id: X\n    severity: SEVERE\n    actions: [a]\n    when: { field: action, op: exists }\n', /^:3: policy X: unknown severity "SEVERE"/],
    // New packs: the pack loader's checks, and subjects other than engine-request.
    [packText('t', '  - id: X\n    severity: LOW\n    scope: { namespaces: [a] }\n    criteria: { field: action, op: exists }\n'), /^:8: policy X: scope key "namespaces" does not apply to subject engine-request/],
    [packText('t', '  - id: K\n    severity: LOW\n    scope: { actions: [exec.create] }\n    criteria: { field: exec.privileged, op: equals, value: true }\n    enforcement: [kill]\n'), /^:6: policy K: enforcement "kill" does not apply to engine requests \(use block or inform\)/],
    ['apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n  - id: W\n    severity: LOW\n    criteria: { field: object.kind, op: exists }\n', /^:4: policy W is about subject workload; engine-proxy evaluates engine-request policies only/],
  ];
  for (const [text, re] of bad) {
    test(`rejects ${JSON.stringify(text.slice(0, 60))}`, async () => {
      assert.match(await loadError(text), re);
    });
  }

  test('an old rule file is converted with one deprecation warning, and decides as before', async () => {
    const file = writePack('kind: EngineProxyPolicy\nname: old\nmode: audit\nrules:\n  - id: T1\n    title: no info\n    mode: enforce\n    actions: system.info\n    when: [{ field: action, op: exists }, { field: caller.user, op: notIn, value: [root] }]\n  - id: T2\n    title: note versions\n    actions: [system.version]\n    when: { field: action, op: exists }\n', 'old.yaml');
    const warnings: string[] = [];
    const set = await loadEnginePolicies([file], subjects(), { warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [`${file}: the EngineProxyPolicy rule format is deprecated; convert it with: gatehouse policy convert ${file}`]);
    assert.equal(set.name, 'old');
    const [t1, t2] = set.policies;
    assert.deepEqual([t1!.id, t1!.name, t1!.enforcement, t1!.scope.actions, t1!.severity, t1!.origin], ['T1', 'no info', ['block'], ['system.info'], 'HIGH', { file, line: 5 }]);
    assert.deepEqual([t2!.id, t2!.enforcement, t2!.severity], ['T2', ['inform'], 'MEDIUM']);
    const p = proxyFor(set);
    assert.equal(p.decide({ action: 'system.info', 'caller.user': 'bob' }).message, 'denied by gatehouse policy "old": T1 no info');
    assert.equal(p.decide({ action: 'system.info', 'caller.user': 'root' }).verdict, 'allow');
    assert.equal(p.decide({ action: 'system.version' }).message, 'would deny (audit mode) by gatehouse policy "old": T2 note versions');
  });

  test('convertLegacyPolicy: nested conditions keep their shape and lines', async () => {
    const text = 'name: n\nrules:\n  - id: A\n    actions: [x]\n    when:\n      all:\n        - { field: action, op: exists }\n        - not:\n            any:\n              - { field: request.method, op: equals, value: GET }\n              - not: { field: request.path, op: matches, value: "^/_ping" }\n';
    const c = convertLegacyPolicy(text, 'n.yaml');
    const pack = c.packYaml.split('\n');
    const line = (needle: string) => pack.findIndex((l) => l.includes(needle)) + 1;
    assert.equal(c.sourceLineOf(line('value: GET')), 10);
    assert.equal(c.sourceLineOf(line('^/_ping')), 11);
    assert.equal(c.sourceLineOf(line('id: A')), 3);
    assert.equal(c.rules, 1);
    assert.match(c.packYaml, /^apiVersion: gatehouse.dev\/v1$/m);
    // The pack decides as the old rule: all(action exists, not(any(GET, not(path ~ ^/_ping)))).
    const p = proxyFor(await loadEnginePolicies([writePack(c.packYaml)], subjects()));
    assert.equal(p.decide({ action: 'x', 'request.method': 'POST', 'request.path': '/_ping' }).verdict, 'deny');
    assert.equal(p.decide({ action: 'x', 'request.method': 'POST', 'request.path': '/info' }).verdict, 'allow');
    assert.equal(p.decide({ action: 'x', 'request.method': 'GET', 'request.path': '/_ping' }).verdict, 'allow');
    assert.equal(p.decide({ action: 'y', 'request.method': 'POST', 'request.path': '/_ping' }).verdict, 'allow');
  });

  test('exceptions (the one suppression model) apply to engine requests: owner, reason, expiry', async () => {
    const exceptions = writePack(
      'apiVersion: gatehouse.dev/v1\nkind: PolicyExceptions\nexceptions:\n  - { policy: EP001, image: "localhost/ci-runner:*", owner: ci-team, reason: builds need privileges, expires: 2999-12-31 }\n  - { policy: EP006, container: "legacy-*", owner: ops, reason: old agent, expires: 2001-01-01 }\n',
      'exceptions.yaml',
    );
    const p = proxyFor(await loadEnginePolicies(['engine', exceptions], subjects()));
    const create = (image: string, extra: Facts = {}): Facts => ({ action: 'container.create', 'image.ref': image, 'container.privileged': true, 'container.runsAsRoot': false, ...extra });
    assert.equal(p.decide(create('localhost/ci-runner:7')).verdict, 'allow');
    assert.deepEqual(ids(p.decide(create('localhost/other:7'))), ['EP001']);
    // An expired exception no longer suppresses anything.
    const expired = p.decide({ action: 'container.create', 'container.name': 'legacy-agent', 'container.capAdd': ['SYS_ADMIN'], 'container.runsAsRoot': false });
    assert.equal(expired.verdict, 'deny');
    assert.deepEqual(ids(expired), ['EP006']);
  });

  test('the built-in pack: every policy named, mapped to NIST SP 800-190, enforcing block or inform', () => {
    assert.equal(policies.name, 'engine');
    assert.ok(policies.policies.length >= 15);
    for (const p of policies.policies) {
      assert.equal(p.subject, 'engine-request');
      assert.ok(p.name && p.name !== p.id, p.id);
      assert.ok(p.mappings.nist?.length, `${p.id} has a NIST SP 800-190 mapping`);
      assert.ok(p.scope.actions?.length, `${p.id} is scoped to actions`);
      assert.equal(p.enforcement.length, 1);
      assert.ok(['block', 'inform'].includes(p.enforcement[0]!), p.id);
    }
  });

  test('the old default policy converted decides like the built-in pack (same ids, actions and enforcement)', async () => {
    const file = writePack(readFileSync(new URL('./legacy/default-policy.yaml', import.meta.url), 'utf8'), 'old-default.yaml');
    const old = await loadEnginePolicies([file], subjects());
    const shape = (s: EnginePolicies) => s.policies.map((p) => `${p.id} ${p.enforcement.join()} ${p.scope.actions!.join()}`).sort();
    assert.deepEqual(shape(old), shape(policies));
  });
});

describe('the fail-open defects of the old evaluator are gone', () => {
  const privileged: Facts = { action: 'container.create', 'container.privileged': true, 'image.ref': 'localhost/x:1', 'container.user': 'app', 'container.runsAsRoot': false };

  test('a misspelt field no longer loads (it used to allow a privileged create)', async () => {
    const oldText = 'name: typo\nrules:\n  - id: T-PRIV\n    title: privileged containers\n    actions: [container.create]\n    when: { field: container.privilegd, op: equals, value: true }\n';
    // Before: the old reader accepted it, and the old evaluator let a privileged create through.
    assert.equal(legacyDecide(legacyParse(oldText, 'old'), privileged).verdict, 'allow');
    assert.match(await loadError(oldText), /^:6: policy T-PRIV: unknown field "container\.privilegd" for subject engine-request \(did you mean "container\.privileged"\?\)$/);
    const pack = packText('typo', '  - id: T-PRIV\n    severity: HIGH\n    scope: { actions: [container.create] }\n    criteria: { field: container.privilegd, op: equals, value: true }\n    enforcement: [block]\n');
    assert.match(await loadError(pack), /^:9: policy T-PRIV: unknown field "container\.privilegd" for subject engine-request \(did you mean "container\.privileged"\?\)$/);
    // Spelt right, it denies.
    const right = await loadEnginePolicies([writePack(pack.replace('privilegd', 'privileged'))], subjects());
    assert.deepEqual(ids(proxyFor(right).decide(privileged)), ['T-PRIV']);
  });

  test('notEquals on a missing field holds now, as everywhere (the old evaluator said no)', async () => {
    const text = 'name: cn\nrules:\n  - id: T-CN\n    title: only ci-admin may read system info\n    actions: [system.info]\n    when: { field: caller.cn, op: notEquals, value: ci-admin }\n';
    const unix: Facts = { action: 'system.info', 'caller.transport': 'unix', 'caller.uid': 1000 };
    // A unix caller has no certificate CN: before, such a caller passed a "CN must be ci-admin" rule.
    assert.equal(legacyDecide(legacyParse(text, 'old'), unix).verdict, 'allow');
    const set = await loadEnginePolicies([writePack(text)], subjects());
    const p = proxyFor(set);
    assert.deepEqual(ids(p.decide(unix)), ['T-CN']);
    assert.equal(p.decide(unix).verdict, 'deny');
    assert.equal(p.decide({ ...unix, 'caller.cn': 'ci-admin' }).verdict, 'allow');
    assert.equal(p.decide({ ...unix, 'caller.cn': 'ci-deployer' }).verdict, 'deny');
    // An empty string or list is "no value" too (exists does not hold, negatives do).
    assert.equal(p.decide({ ...unix, 'caller.cn': '' }).verdict, 'deny');
  });

  test('--audit-only (informOnly) turns every deny into a warn, naming every violated policy', () => {
    const d = proxyFor(policies, true).decide({ ...privileged, 'container.capAdd': ['SYS_ADMIN'] });
    assert.equal(d.verdict, 'warn');
    assert.deepEqual(ids(d).sort(), ['EP001', 'EP006']);
    assert.match(d.message, /^would deny \(audit mode\) by gatehouse policy "engine": EP001 privileged containers are not allowed; EP006 /);
  });
});

describe('endpoint classification', () => {
  const cases: [string, string, string, string?][] = [
    ['GET', '/_ping', 'system.ping'],
    ['HEAD', '/_ping', 'system.ping'],
    ['GET', '/v1.41/containers/json?all=1', 'container.list'],
    ['POST', '/v1.41/containers/create?name=web', 'container.create'],
    ['POST', '/v1.24/containers/abc123/exec', 'exec.create', 'abc123'],
    ['POST', '/exec/deadbeef/start', 'exec.start'],
    ['POST', '/v1.41/containers/web/attach?stream=1', 'container.attach', 'web'],
    ['DELETE', '/v1.41/containers/web?force=1', 'container.remove', 'web'],
    ['POST', '/v1.41/containers/web/kill', 'container.kill', 'web'],
    ['GET', '/v1.41/images/docker.io/library/busybox:latest/json', 'image.inspect', 'docker.io/library/busybox:latest'],
    ['POST', '/v1.41/images/registry.example:5000/team/app/push?tag=1', 'image.push', 'registry.example:5000/team/app'],
    ['POST', '/v1.41/images/create?fromImage=busybox&tag=1', 'image.pull'],
    ['POST', '/v1.41/build?t=x', 'image.build'],
    ['GET', '/v1.41/plugins', 'plugin'],
    ['POST', '/v1.41/swarm/init', 'swarm'],
    ['GET', '/v4.0.0/libpod/info', 'unknown'],
    ['PATCH', '/v1.41/containers/create', 'unknown'],
  ];
  for (const [m, url, action, target] of cases) {
    test(`${m} ${url} → ${action}`, () => {
      const c = classify(m, url);
      assert.ok(c.ok);
      assert.equal(c.endpoint.action, action);
      if (target) assert.equal(c.endpoint.target, target);
    });
  }
  test('dot segments, encoded or not, and empty segments are refused', () => {
    for (const url of ['/v1.41/containers/../libpod/x', '/v1.41/containers/%2E%2E/x', '/v1.41//containers/json', '/containers/a%5cb/json', '/x/%zz', 'containers/json']) {
      assert.equal(classify('GET', url).ok, false, url);
    }
  });
});

describe('container.create facts and the built-in policy', () => {
  test('generated create bodies: each dangerous setting is denied by its rule, any letter case', () => {
    const dangerous: [unknown, string][] = [
      [{ Privileged: true }, 'EP001'],
      [{ PidMode: 'host' }, 'EP003'],
      [{ NetworkMode: 'host' }, 'EP003'],
      [{ IpcMode: 'host' }, 'EP003'],
      [{ Binds: ['/:/host'] }, 'EP005'],
      [{ Binds: ['/etc/shadow:/x:ro'] }, 'EP005'],
      [{ Binds: ['/var/run/docker.sock:/var/run/docker.sock'] }, 'EP005'],
      [{ Binds: ['/run/podman/podman.sock:/s'] }, 'EP005'],
      [{ Binds: ['/proc/../etc:/x'] }, 'EP005'],
      [{ Mounts: [{ Type: 'bind', Source: '/sys/fs', Target: '/x' }] }, 'EP005'],
      [{ CapAdd: ['SYS_ADMIN'] }, 'EP006'],
      [{ CapAdd: ['cap_net_admin'] }, 'EP006'],
      [{ CapAdd: ['ALL'] }, 'EP006'],
      [{ SecurityOpt: ['seccomp=unconfined'] }, 'EP007'],
      [{ SecurityOpt: ['seccomp:unconfined'] }, 'EP007'],
      [{ SecurityOpt: ['apparmor=unconfined'] }, 'EP007'],
      [{ SecurityOpt: ['label=disable'] }, 'EP007'],
    ];
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const recase = (k: string) => [...k].map((ch) => (rnd() < 0.5 ? ch.toLowerCase() : ch.toUpperCase())).join('');
    const recaseKeys = (o: unknown): unknown =>
      Array.isArray(o) ? o.map(recaseKeys) : o && typeof o === 'object' ? Object.fromEntries(Object.entries(o).map(([k, v]) => [recase(k), recaseKeys(v)])) : o;
    let n = 0;
    for (let round = 0; round < 20; round++) {
      for (const [hc, rule] of dangerous) {
        const body = recaseKeys({ Image: 'localhost/x:1', User: 'app', HostConfig: { ...(hc as object), Memory: 1 } });
        const d = createDecision(body);
        assert.equal(d.verdict, 'deny', JSON.stringify(body));
        assert.ok(ids(d).includes(rule), `${JSON.stringify(body)} → ${d.message}`);
        n++;
      }
    }
    assert.equal(n, 20 * dangerous.length);
  });

  test('ordinary settings are allowed (audit-only rules may note them)', () => {
    const ok: unknown[] = [
      { Image: 'localhost/x:1', User: 'app' },
      { Image: 'localhost/x:1', User: '1000:1000', HostConfig: { Binds: ['data:/data', '/srv/app:/app:ro'], CapAdd: ['NET_BIND_SERVICE'], NetworkMode: 'bridge' } },
      { Image: 'localhost/x:1', User: 'app', HostConfig: { SecurityOpt: ['no-new-privileges', 'seccomp=/etc/profile.json'], PidMode: 'container:abc' } },
      { Image: 'localhost/x:1', User: 'app', HostConfig: { Binds: ['/etcetera:/x', '/rootfs:/y', '/system:/z'] } },
    ];
    for (const body of ok) assert.equal(createDecision(body).verdict, 'allow', JSON.stringify(body));
    const root = createDecision({ Image: 'busybox' });
    assert.equal(root.verdict, 'warn');
    assert.deepEqual(ids(root).sort(), ['EP009', 'EP010']);
  });

  test('host paths smuggled in as local-driver volumes are denied', () => {
    const vol = (body: unknown) => proxy.decide({ action: 'volume.create', ...volumeFacts(body as never) });
    assert.deepEqual(ids(vol({ Name: 'hostroot', DriverOpts: { type: 'none', device: '/', o: 'bind' } })), ['EP014']);
    assert.equal(vol({ Name: 'etc', DriverOpts: { type: 'none', Device: '/etc/', o: 'bind' } }).verdict, 'deny');
    assert.equal(vol({ Name: 'data', DriverOpts: { type: 'none', device: '/srv/data', o: 'bind' } }).verdict, 'allow');
    assert.equal(vol({ Name: 'plain' }).verdict, 'allow');
    const inline = createDecision({ Image: 'localhost/x:1', User: 'app', HostConfig: { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', device: '/', o: 'bind' } } } }] } });
    assert.deepEqual(ids(inline), ['EP014']);
  });

  test('image references: registry, tag and pull query', () => {
    const c = classify('POST', '/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fteam%2Fapp&tag=2');
    assert.ok(c.ok);
    const f = imageEndpointFacts(c.endpoint);
    assert.equal(f['image.registry'], '127.0.0.1:5000');
    assert.equal(f['image.tag'], '2');
    assert.equal(createFacts({ Image: 'busybox' }, new URLSearchParams())['image.registry'], 'docker.io');
    assert.equal(createFacts({ Image: 'Not A Ref!' }, new URLSearchParams())['image.registry'], '', 'unparsable → empty registry (fails allow-lists)');
  });

  test('ambiguous keys are found at any depth, including the long s Go folds to s', () => {
    assert.equal(findAmbiguousKey({ HostConfig: { Privileged: true } }), undefined);
    assert.equal(findAmbiguousKey({ HostConfig: { Privileged: true, privileged: false } }), '$.HostConfig.privileged');
    assert.equal(findAmbiguousKey({ a: [{ SecurityOpt: [], '\u017fecurityOpt': [] }] }), '$.a[0].\u017fecurityOpt');
  });
});
