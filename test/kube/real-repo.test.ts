/**
 * Issue 24 item 7: exit codes and errors agree across `k8s check`, `netpol analyze`,
 * `netpol generate` and `rbac analyze` on a real repository layout — Online Boutique's
 * (GoogleCloudPlatform/microservices-demo) Kubernetes manifests beside its Helm values.yaml,
 * a GitHub Actions workflow and a kustomization.yaml, saved verbatim under
 * fixtures/real-repo (sources in fixtures/real-repo/SOURCES.md). Other YAML met while walking
 * a directory is a note, a YAML syntax error is exit 2 with one file:line line, and the YAML
 * library's mapAsMap warning never reaches stderr.
 */
import { strict as assert } from 'node:assert';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { loadManifests } from '../../src/kube/manifests.js';

const REPO = fileURLToPath(new URL('./fixtures/real-repo', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-real-repo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => /^gatehouse: (error|internal error)/.test(l));

describe('a real repository directory: manifests beside other YAML', () => {
  test('the loader keeps the manifests and notes values.yaml (not an error)', async () => {
    const r = await loadManifests([REPO]);
    assert.deepEqual(r.notes.filter((n) => n.level === 'error'), []);
    assert.deepEqual(r.objects.map((o) => `${o.kind}/${o.name}`).sort(), [
      'Deployment/cartservice', 'Deployment/frontend', 'Kustomization/', 'Service/cartservice', 'Service/frontend', 'Service/frontend-external',
    ]);
    const values = r.notes.find((n) => n.file.endsWith('helm-chart/values.yaml'));
    assert.equal(values?.level, 'note');
    assert.match(values!.message, /not a Kubernetes manifest/);
    // A workflow directory walked on its own is noted too; named explicitly it stays an error.
    const wf = await loadManifests([join(REPO, '.github/workflows')]);
    assert.deepEqual(wf.notes.map((n) => n.level), ['note']);
    const named = await loadManifests([join(REPO, '.github/workflows/ci-main.yaml')]);
    assert.deepEqual(named.notes.map((n) => n.level), ['error']);
  });

  test('k8s check, netpol analyze/generate and rbac analyze read the manifests and exit as findings say', async () => {
    const k = await runCli(['k8s', 'check', REPO, '--format', 'json']);
    assert.equal(k.code, 0, k.stderr);
    assert.match(k.stderr, /note: .*helm-chart\/values\.yaml: not a Kubernetes manifest/);
    assert.deepEqual(errorLines(k.stderr), []);
    const body = JSON.parse(k.stdout) as { findings: Array<{ resource: string }> };
    assert.ok(body.findings.some((f) => /cartservice/.test(JSON.stringify(f.resource))));
    const gate = await runCli(['k8s', 'check', REPO, '--exit-code', '1']);
    assert.equal(gate.code, 1, gate.stderr);

    const a = await runCli(['netpol', 'analyze', REPO]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /default\/cartservice\[Deployment\] => opentelemetry-demo\/frontend\[Deployment\] : All Connections/);
    assert.match(a.stderr, /note: .*values\.yaml: not a Kubernetes manifest/);
    const u = await runCli(['netpol', 'analyze', REPO, '--unprotected', '--exit-code', '1']);
    assert.equal(u.code, 1, u.stderr);

    const g = await runCli(['netpol', 'generate', REPO]);
    assert.equal(g.code, 0, g.stderr);
    assert.match(g.stdout, /kind: NetworkPolicy/);

    const rb = await runCli(['rbac', 'analyze', REPO]);
    assert.equal(rb.code, 0, rb.stderr);
    for (const r of [k, a, g, rb]) assert.doesNotMatch(r.stderr, /mapAsMap|Keys with collection values/);
  });

  test('a YAML syntax error in a real manifest: exit 2 and one file:line line in every command', async () => {
    const dir = join(tmp, 'broken');
    cpSync(REPO, dir, { recursive: true });
    const file = join(dir, 'kubernetes-manifests/frontend.yaml');
    const text = readFileSync(file, 'utf8');
    assert.ok(text.includes('  replicas: 3\n'));
    writeFileSync(file, text.replace('  replicas: 3\n', '  replicas: [3\n'));
    for (const args of [['k8s', 'check'], ['netpol', 'analyze'], ['netpol', 'generate'], ['rbac', 'analyze']]) {
      const r = await runCli([...args, dir]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      const lines = errorLines(r.stderr);
      assert.equal(lines.length, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(lines[0]!, /frontend\.yaml:\d+: invalid YAML/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  test('collection keys (mapAsMap in the yaml library) print no warning', async () => {
    const dir = join(tmp, 'mapkeys');
    cpSync(join(REPO, 'kubernetes-manifests'), dir, { recursive: true });
    // An anchor sends the document to the exact parser, whose toJS stringifies the [a, b] key.
    const cm = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: keys, namespace: default, labels: &l {app: cartservice}}\ndata:\n  ? [a, b]\n  : "x"\n';
    writeFileSync(join(dir, 'keys.yaml'), cm);
    for (const args of [['k8s', 'check'], ['netpol', 'analyze']]) {
      const r = await runCli([...args, dir]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /mapAsMap|Keys with collection values|Warning/, r.stderr);
    }
  });
});
