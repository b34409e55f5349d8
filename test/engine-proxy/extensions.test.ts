/**
 * The alert webhook (violations as Findings) and the trust-policy extension point. Both act on denials, which the
 * proxy answers before talking to the engine, so no engine is needed here.
 */
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import type { DecisionReport } from '../../src/engine-proxy/audit.js';
import { hasCommand, requireComponent } from '../helpers/components.js';
import { policiesOnly, run, startProxy, type RunningProxy } from './helpers.js';

function post(socketPath: string, path: string, body: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('engine-proxy alert webhook and image verifier', () => {
  let hook: Server;
  const alerts: DecisionReport[] = [];
  let p: RunningProxy;
  const verified: string[] = [];
  before(async () => {
    hook = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => (text += d.toString()));
      req.on('end', () => {
        alerts.push(JSON.parse(text) as DecisionReport);
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as { port: number }).port;
    const policy = await policiesOnly(
      'signed-only',
      `  - id: T-SIGNED
    name: images must be signed
    severity: HIGH
    scope: { actions: [container.create, image.pull] }
    criteria: { field: image.signed, op: equals, value: false }
    enforcement: [block]
    mappings: { nist: ["SP 800-190 4.1.5"] }
  - id: T-ROOT
    name: root containers
    severity: LOW
    scope: { actions: [container.create] }
    criteria: { field: container.runsAsRoot, op: equals, value: true }
    enforcement: [inform]
`,
    );
    p = await startProxy(policy, {
      upstream: { kind: 'unix', path: '/nonexistent/engine.sock' },
      alertWebhook: `http://127.0.0.1:${port}/alerts`,
      imageVerifier: {
        verify: async (ref) => {
          verified.push(ref);
          return { signed: !ref.includes('unsigned'), detail: 'test verifier' };
        },
      },
    });
  });
  after(async () => {
    await p?.close();
    hook?.close();
  });

  test('an unsigned image is denied through the verifier, and the denial is posted with its violations as Findings', async () => {
    const r = await post(p.socket, '/v1.41/containers/create?name=web', { Image: 'registry.example/team/unsigned:1', User: 'app' });
    assert.equal(r.status, 403);
    assert.match(JSON.parse(r.body).message, /T-SIGNED images must be signed/);
    assert.deepEqual(verified, ['registry.example/team/unsigned:1']);
    for (let i = 0; i < 100 && alerts.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(alerts.length, 1);
    const a = alerts[0]!;
    assert.deepEqual(Object.keys(a).sort(), ['action', 'caller', 'decision', 'findings', 'hostname', 'message', 'source', 'time']);
    assert.equal(a.source, 'engine-proxy');
    assert.equal(a.decision, 'deny');
    assert.equal(a.action, 'container.create');
    assert.equal(a.caller.pid, process.pid);
    assert.equal(a.caller.uid, process.getuid!());
    assert.match(a.message, /denied by gatehouse policy "signed-only": T-SIGNED images must be signed/);
    assert.deepEqual(a.findings.map((f) => f.id), ['T-SIGNED']);
    const f = a.findings.find((x) => x.id === 'T-SIGNED')!;
    assert.equal(f.kind, 'policy');
    assert.equal(f.severity, 'HIGH');
    assert.equal(f.policy?.enforcement, 'block');
    assert.equal(f.resource.container?.image, 'registry.example/team/unsigned:1');
    assert.equal(f.resource.container?.name, 'web');
    assert.equal(f.resource.host, a.hostname);
    assert.deepEqual((f.data?.mappings as { nist?: string[] }).nist, ['SP 800-190 4.1.5']);
    assert.match(f.fingerprint!, /^[0-9a-f]{32}$/);
    assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // The same request again is the same finding (fingerprint), not a new one.
    alerts.length = 0;
    await post(p.socket, '/v1.41/containers/create?name=web', { Image: 'registry.example/team/unsigned:1', User: 'app' });
    for (let i = 0; i < 100 && alerts.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(alerts[0]!.findings.find((x) => x.id === 'T-SIGNED')!.fingerprint, f.fingerprint);
  });

  test('a signed image passes the verifier (and then meets the dead engine: 502)', async () => {
    const r = await post(p.socket, '/v1.41/containers/create', { Image: 'registry.example/team/app:1', User: 'app' });
    assert.equal(r.status, 502);
    assert.ok(verified.includes('registry.example/team/app:1'));
  });

  test('audit-mode hits are alerted as "would be denied" and not enforced', async () => {
    alerts.length = 0;
    const r = await post(p.socket, '/v1.41/containers/create', { Image: 'registry.example/team/app:1' });
    assert.equal(r.status, 502, 'passed on to the (dead) engine');
    for (let i = 0; i < 100 && alerts.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(alerts[0]!.decision, 'warn');
    assert.deepEqual(alerts[0]!.findings.map((f) => f.id), ['T-ROOT']);
    assert.match(alerts[0]!.message, /would deny \(audit mode\)/);
  });
});

describe('caller identity from unix peer credentials', () => {
  test('a rule on caller.user denies another local user and lets root through', async (t) => {
    if (!requireComponent(t, process.getuid?.() === 0 && hasCommand('runuser') && hasCommand('curl'), 'root, runuser and curl to act as another user')) return;
    const policy = await policiesOnly(
      'root-only',
      `  - id: T-ROOT-ONLY\n    name: only root may read system info\n    severity: HIGH\n    scope: { actions: [system.info] }\n    criteria: { field: caller.user, op: notIn, value: [root] }\n    enforcement: [block]\n`,
    );
    const p = await startProxy(policy, { upstream: { kind: 'unix', path: '/nonexistent/engine.sock' }, socketMode: 0o666 });
    try {
      chmodSync(p.dir, 0o755);
      const asNobody = await run('runuser', ['-u', 'nobody', '--', 'curl', '-s', '--unix-socket', p.socket, 'http://d/v1.41/info']);
      assert.match(JSON.parse(asNobody.stdout).message, /denied by gatehouse policy "root-only": T-ROOT-ONLY/);
      const asRoot = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', p.socket, 'http://d/v1.41/info']);
      assert.equal(asRoot.stdout, '502', 'root passes the policy and reaches the (dead) engine');
      // The audit log is an append stream: wait until both decisions reached the file.
      for (let i = 0; i < 100 && p.audit().length < 2; i++) await new Promise((res) => setTimeout(res, 20));
      const callers = p.audit().map((r) => r.caller as { uid: number; user: string; pid: number });
      assert.equal(callers[0]!.uid, 65534);
      assert.equal(callers[0]!.user, 'nobody');
      assert.equal(callers[1]!.uid, 0);
      assert.ok(callers.every((c) => c.pid > 0 && c.pid !== process.pid));
    } finally {
      await p.close();
    }
  });
});
