/**
 * `node check --server`: the real CLI pushes the failed checks' findings to a real Central
 * (SQLite), as source `node-check` and the host as target; the same check again replaces them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { startTestCentral } from '../helpers/central.js';
import { makeRoot } from './fixture.js';

test('node check --server stores the findings under node-check/<host>; a second run replaces them', async () => {
  const central = await startTestCentral();
  const fx = makeRoot({
    'proc/sys/kernel/hostname': 'worker-7\n',
    flags: 'kube-apiserver --authorization-mode=AlwaysAllow --profiling=false\n',
    flags2: 'kube-apiserver --authorization-mode=Node,RBAC --anonymous-auth=false --profiling=false\n',
  });
  try {
    const token = await central.token('ci');
    const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
    const run = (flags: string) => runCli(['node', 'check', '--root', fx.root, '--flags', flags, '--area', 'controlplane', '--format', 'json', '--output', fx.path('out.json'), '--server', central.url, '--token', token], { env });
    const first = await run('/flags');
    assert.equal(first.code, 0, first.stderr);
    const findings = JSON.parse(readFileSync(fx.path('out.json'), 'utf8')).findings as { fingerprint: string }[];
    assert.match(first.stderr, new RegExp(`pushed ${findings.length} node-check findings about worker-7`));
    const stored = await central.db().selectFrom('findings').select(['fingerprint', 'target']).where('source', '=', 'node-check').execute();
    assert.deepEqual(stored.map((s) => s.fingerprint).sort(), findings.map((f) => f.fingerprint).sort());
    assert.ok(stored.every((s) => s.target === 'worker-7'));
    // Fixed: fewer findings, and the fixed ones are gone from Central.
    const second = await run('/flags2');
    assert.equal(second.code, 0, second.stderr);
    const after = JSON.parse(readFileSync(fx.path('out.json'), 'utf8')).findings as { id: string; fingerprint: string }[];
    assert.ok(after.length < findings.length);
    assert.ok(!after.some((f) => f.id === 'controlplane.apiserver.authorization-not-always-allow'));
    const stored2 = await central.db().selectFrom('findings').select(['fingerprint']).where('source', '=', 'node-check').execute();
    assert.deepEqual(stored2.map((s) => s.fingerprint).sort(), after.map((f) => f.fingerprint).sort());
  } finally {
    fx.cleanup();
    await central.close();
  }
});
