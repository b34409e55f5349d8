import assert from 'node:assert/strict';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { checkExpiredExceptions } from '../../src/central/jobs/exception-expiry.js';

const finding = (policy: string, name: string) => ({
  id: policy, kind: 'policy', severity: 'HIGH', title: `${policy} on ${name}`,
  resource: { k8s: { kind: 'Deployment', namespace: 'shop', name, container: 'app' } },
  policy: { id: policy, enforcement: 'deny-admission' },
});

await storeTest('violations are active, excepted while an exception holds, re-opened when it expires, resolved when gone', async (dialect) => {
  let clock = new Date('2026-12-07T00:00:00Z');
  const c = await startTestCentral({ dialect, now: () => clock });
  try {
    const push = (findings: unknown[]) => c.api('POST', '/api/v1/ingest/findings', { source: 'k8s-check', target: 'prod-manifests', findings });
    assert.equal((await push([finding('privileged', 'web'), finding('privileged', 'api'), finding('host-network', 'web')])).status, 200);
    let v = await c.api('GET', '/api/v1/violations?state=active');
    assert.equal(v.body.items.length, 3);

    const exc = await c.api('POST', '/api/v1/exceptions', { policy: 'privileged', namespace: 'shop', workload: 'web', owner: 'team-web', reason: 'needs raw sockets until Q1', expires: '2026-12-10' });
    assert.equal(exc.status, 201, JSON.stringify(exc.body));
    v = await c.api('GET', '/api/v1/violations?state=excepted');
    assert.equal(v.body.items.length, 1);
    assert.equal(v.body.items[0].exceptionId, exc.body.id);
    assert.match(v.body.items[0].title, /privileged on web/);

    // A new report keeps the exception (same fingerprint) and resolves what disappeared.
    clock = new Date('2026-12-08T00:00:00Z');
    await push([finding('privileged', 'web'), finding('privileged', 'api')]);
    assert.equal((await c.api('GET', '/api/v1/violations?state=excepted')).body.items.length, 1);
    const resolved = (await c.api('GET', '/api/v1/violations?state=resolved')).body.items;
    assert.deepEqual(resolved.map((x: { policyId: string }) => x.policyId), ['host-network']);
    assert.equal(resolved[0].resolvedAt, '2026-12-08T00:00:00.000Z');

    // The exception lapses at the end of 2026-12-10 (UTC): the expiry check re-opens it.
    const since = Date.parse('2026-12-08T00:00:00Z');
    clock = new Date('2026-12-10T12:00:00Z');
    assert.equal((await checkExpiredExceptions(c.ctx, since)).changed, 0);
    clock = new Date('2026-12-11T00:00:01Z');
    assert.equal((await checkExpiredExceptions(c.ctx, since)).changed, 1);
    v = await c.api('GET', '/api/v1/violations?state=active');
    assert.equal(v.body.items.length, 2);
    assert.equal((await c.api('GET', '/api/v1/exceptions')).body.items[0].expired, true);

    // A resolved violation that comes back is active again, with its first-seen time kept.
    await push([finding('privileged', 'web'), finding('privileged', 'api'), finding('host-network', 'web')]);
    const back = (await c.api('GET', '/api/v1/violations?policy=host-network')).body.items[0];
    assert.equal(back.state, 'active');
    assert.equal(back.firstSeen, '2026-12-07T00:00:00.000Z');
    assert.equal(back.resolvedAt, null);
  } finally {
    await c.close();
  }
});

await storeTest('exceptions need owner, reason and a future expiry; deleting one re-opens its violations', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    await c.api('POST', '/api/v1/ingest/findings', { source: 'k8s-check', target: 't', findings: [finding('privileged', 'web')] });
    assert.equal((await c.api('POST', '/api/v1/exceptions', { policy: 'privileged', owner: 'x', reason: 'y' })).status, 400);
    assert.equal((await c.api('POST', '/api/v1/exceptions', { policy: 'privileged', owner: 'x', reason: 'y', expires: '2001-01-01' })).status, 400);
    assert.equal((await c.api('POST', '/api/v1/exceptions', { policy: 'privileged', owner: 'x', reason: 'y', expires: '2099-01-01', team: 'z' })).status, 400);
    assert.equal((await c.api('GET', '/api/v1/exceptions')).body.items.length, 0, 'rejected exceptions store nothing');
    const e = await c.api('POST', '/api/v1/exceptions', { policy: 'priv*', owner: 'x', reason: 'y', expires: '2099-01-01T00:00:00Z' });
    assert.equal((await c.api('GET', '/api/v1/violations?state=excepted')).body.items.length, 1);
    assert.equal((await c.api('POST', '/api/v1/exceptions', { policy: 'priv*', owner: 'x', reason: 'y', expires: '2099-01-01' }, await c.token('analyst'))).status, 403);
    assert.equal((await c.api('DELETE', `/api/v1/exceptions/${e.body.id}`)).status, 204);
    assert.equal((await c.api('GET', '/api/v1/violations?state=active')).body.items.length, 1);
  } finally {
    await c.close();
  }
});

await storeTest('policy packs: upload is checked like --policy files, then listed, toggled and removed', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const builtins = (await c.api('GET', '/api/v1/policies?stage=deploy')).body.items;
    assert.ok(builtins.length > 10 && builtins.every((p: { stages: string[] }) => p.stages.includes('deploy')));
    const yaml = `apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n  - id: no-latest\n    name: No latest tag\n    severity: MEDIUM\n    subject: workload\n    stages: [deploy]\n    criteria:\n      field: container.image.tag\n      op: equals\n      value: latest\n    enforcement: [inform]\n`;
    const bad = await c.api('POST', '/api/v1/policies', { pack: 'mine', yaml: yaml.replace('field: container.image.tag', 'field: container.image.tagg') });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /^mine\.yaml:\d+: .*container\.image\.tagg/);
    assert.equal((await c.api('GET', '/api/v1/policies?pack=mine')).body.items.length, 0);
    const ok = await c.api('POST', '/api/v1/policies', { pack: 'mine', yaml });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.policies, ['no-latest']);
    assert.equal(c.ctx.policies.set.policiesFor('workload').some((p) => p.id === 'no-latest'), true);
    assert.equal((await c.api('PATCH', '/api/v1/policies/no-latest', { enabled: false })).status, 200);
    assert.equal(c.ctx.policies.set.policiesFor('workload').some((p) => p.id === 'no-latest'), false);
    assert.equal((await c.api('POST', '/api/v1/policies', { pack: 'deploy', yaml })).status, 400);
    assert.equal((await c.api('DELETE', '/api/v1/policy-packs/mine')).status, 204);
    assert.equal((await c.api('GET', '/api/v1/policies/no-latest')).status, 404);
  } finally {
    await c.close();
  }
});
