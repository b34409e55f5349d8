/** Policy parsing, endpoint classification, facts and decisions (no engine needed). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decide } from '../../src/engine-proxy/decide.js';
import { classify } from '../../src/engine-proxy/endpoints.js';
import { createFacts, imageEndpointFacts, volumeFacts } from '../../src/engine-proxy/facts.js';
import { findAmbiguousKey } from '../../src/engine-proxy/json-body.js';
import { loadDefaultPolicy, parsePolicy } from '../../src/engine-proxy/policy.js';
import { isUserError } from '../../src/util/errors.js';

const policy = loadDefaultPolicy();
const createDecision = (body: unknown) => {
  const c = classify('POST', '/v1.43/containers/create?name=x');
  assert.ok(c.ok);
  return decide(policy, { action: 'container.create', ...createFacts(body as never, c.endpoint.query) });
};

describe('engine-proxy policy files', () => {
  const bad: [string, RegExp][] = [
    ['rules: [', /invalid YAML/],
    ['- just a list', /expected a mapping with "rules"/],
    ['rules: {}', /"rules" must be a list/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: a, op: bogus, value: 1 }\n', /"op" must be one of exists, absent/],
    ['rules:\n  - id: X\n    actions: [a]\n    mode: maybe\n    when: { field: a, op: exists }\n', /mode must be "enforce" or "audit"/],
    ['rules:\n  - id: X\n    actions: [a]\n    wehn: { field: a, op: exists }\n', /unknown key "wehn"/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: a, op: exists }\n  - id: X\n    actions: [a]\n    when: { field: a, op: exists }\n', /duplicate rule id "X"/],
    ['rules:\n  - id: X\n    actions: []\n    when: { field: a, op: exists }\n', /"actions" must be a non-empty list/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: a, op: in, value: b }\n', /op in needs a list "value"/],
    ['rules:\n  - id: X\n    actions: [a]\n    when: { field: a, op: matches, value: "(" }\n', /invalid regular expression/],
    ['rules:\n  - id: X\n    actions: [a]\n', /"when" is required/],
    ['kind: Other\nrules: []', /kind must be EngineProxyPolicy/],
    ['rules:\n  - id: X\n    id: Y\n', /invalid YAML/],
  ];
  for (const [text, re] of bad) {
    test(`rejects ${JSON.stringify(text.slice(0, 50))}`, () => {
      assert.throws(() => parsePolicy(text, 'p.yaml'), (e: unknown) => isUserError(e) && re.test(e.message) && e.message.startsWith('p.yaml: ') && !e.message.includes('\n'));
    });
  }

  test('the built-in policy parses and every rule has a title', () => {
    assert.ok(policy.rules.length >= 10);
    for (const r of policy.rules) assert.ok(r.title && r.title !== r.id);
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
        assert.ok(d.hits.some((h) => h.id === rule), `${JSON.stringify(body)} → ${d.message}`);
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
    assert.equal(root.verdict, 'audit');
    assert.deepEqual(root.hits.map((h) => h.id).sort(), ['EP009', 'EP010']);
  });

  test('host paths smuggled in as local-driver volumes are denied', () => {
    const vol = (body: unknown) => decide(policy, { action: 'volume.create', ...volumeFacts(body as never) });
    assert.deepEqual(vol({ Name: 'hostroot', DriverOpts: { type: 'none', device: '/', o: 'bind' } }).hits.map((h) => h.id), ['EP014']);
    assert.equal(vol({ Name: 'etc', DriverOpts: { type: 'none', Device: '/etc/', o: 'bind' } }).verdict, 'deny');
    assert.equal(vol({ Name: 'data', DriverOpts: { type: 'none', device: '/srv/data', o: 'bind' } }).verdict, 'allow');
    assert.equal(vol({ Name: 'plain' }).verdict, 'allow');
    const inline = createDecision({ Image: 'localhost/x:1', User: 'app', HostConfig: { Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', device: '/', o: 'bind' } } } }] } });
    assert.deepEqual(inline.hits.map((h) => h.id), ['EP014']);
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
