/**
 * The real kube-apiserver, started without and then with encryption at rest and audit
 * logging: the checks read its flags from the process list (/proc/PID/cmdline) and the
 * files they name, and flip from fail to pass. The apiserver accepting the files (it
 * becomes ready) shows they are real configurations, not just text the checks like.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkNode } from '../../src/node/index.js';
import { kubeBinariesPresent } from '../helpers/kube-cluster.js';
import { missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { AUDIT_POLICY, ENCRYPTION_CONFIG, startApiserver } from './apiserver.js';

const FLIPPING = ['encryption-provider-config', 'encryption-providers', 'audit-log-path', 'audit-log-maxage', 'audit-log-maxbackup', 'audit-log-maxsize', 'audit-policy', 'audit-policy-coverage', 'profiling'].map((x) => `controlplane.apiserver.${x}`);

test('kube-apiserver without, then with, encryption at rest and audit flags: the checks flip', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (.ci/setup.d/66-kube.sh)'), timeout: 600_000 }, async () => {
  const plain = await startApiserver();
  let before;
  try {
    before = await checkNode({ processes: [{ pid: plain.pid }], areas: ['controlplane'] });
    assert.deepEqual(before.sources, [{ component: 'kube-apiserver', kind: 'process', origin: `pid ${plain.pid}` }]);
    // The CLI reads the same process.
    const cli = await runCli(['node', 'check', '--pid', String(plain.pid), '--area', 'controlplane', '--format', 'json']);
    assert.equal(cli.code, 0, cli.stderr);
    const cliStatus = Object.fromEntries(JSON.parse(cli.stdout).results.map((r: any) => [r.id, r.status]));
    for (const id of FLIPPING) assert.equal(cliStatus[id], 'fail', `CLI ${id}`);
  } finally {
    await plain.stop();
  }
  const hardened = await startApiserver({
    files: { 'enc.yaml': ENCRYPTION_CONFIG, 'audit.yaml': AUDIT_POLICY },
    extra: (dir) => [
      `--encryption-provider-config=${join(dir, 'enc.yaml')}`,
      `--audit-policy-file=${join(dir, 'audit.yaml')}`,
      `--audit-log-path=${join(dir, 'audit.log')}`,
      '--audit-log-maxage=30',
      '--audit-log-maxbackup=10',
      '--audit-log-maxsize=100',
      '--profiling=false',
    ],
  });
  try {
    const after = await checkNode({ processes: [{ pid: hardened.pid }], areas: ['controlplane'] });
    const b = Object.fromEntries(before.results.map((r) => [r.id, r]));
    const a = Object.fromEntries(after.results.map((r) => [r.id, r]));
    for (const id of FLIPPING) {
      assert.equal(b[id]!.status, 'fail', `before: ${id}`);
      assert.equal(a[id]!.status, 'pass', `after: ${id}: ${a[id]!.reason ?? a[id]!.finding?.detail}`);
    }
    assert.ok(a['controlplane.apiserver.encryption-providers']!.evidence.some((e) => /secrets: aescbc → identity/.test(e)));
    // The audit log really is written, so the audit flags are live, not just present.
    assert.ok(existsSync(join(hardened.dir, 'audit.log')) && readFileSync(join(hardened.dir, 'audit.log'), 'utf8').includes('"kind":"Event"'));
    // Flags this apiserver never had stay failed (no false passes): token auth file, no TLS cert flags.
    assert.equal(a['controlplane.apiserver.token-auth-file']!.status, 'fail');
    assert.equal(a['controlplane.apiserver.tls-cert-file']!.status, 'fail');
    assert.equal(a['controlplane.apiserver.authorization-rbac']!.status, 'pass');
    assert.equal(a['controlplane.apiserver.authorization-node']!.status, 'fail');
  } finally {
    await hardened.stop();
  }
});
