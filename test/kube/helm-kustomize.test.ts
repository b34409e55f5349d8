/**
 * Issue 24 item 8: Helm charts and kustomizations are rendered by the real tools before the
 * checks, as kube-linter and Kubescape do. Real inputs: the Metrics Server chart
 * (kubernetes-sigs/metrics-server charts/metrics-server) and its kustomize tree
 * (manifests/, overlay `overlays/release`), both verbatim at commit 5ed5d3a2
 * (fixtures/charts/README.md, fixtures/kustomize/README.md). helm and kustomize come from
 * .ci/setup.d/67-helm-kustomize.sh.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { missing, renderTool } from '../helpers/components.js';
import { loadManifests, parseManifests } from '../../src/kube/manifests.js';

const CHART = fileURLToPath(new URL('./fixtures/charts/metrics-server', import.meta.url));
const KUSTOMIZATION = fileURLToPath(new URL('./fixtures/kustomize/metrics-server/overlays/release', import.meta.url));
const helm = renderTool('helm');
const kustomize = renderTool('kustomize');
// The engine finds the tools on PATH, as a user's shell would.
const PATH = [...new Set([helm, kustomize].filter((t): t is string => !!t).map((t) => dirname(t))), process.env.PATH ?? ''].join(delimiter);
process.env.PATH = PATH;
const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Finding {
  id: string;
  resource: { k8s?: { kind: string; namespace?: string; name: string; file?: string; line?: number } } & Record<string, unknown>;
  location?: { file: string; line: number };
}
const findingsOf = (stdout: string): Finding[] => (JSON.parse(stdout) as { findings: Finding[] }).findings;
const fileOf = (f: Finding): string | undefined => f.location?.file ?? f.resource.k8s?.file;
const lineOf = (f: Finding): number | undefined => f.location?.line ?? f.resource.k8s?.line;

function helmTemplate(...args: string[]): string {
  const r = spawnSync(helm!, ['template', CHART, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('Helm chart directories are rendered with helm template', { skip: missing(!!helm, 'helm not built (bash .ci/setup.d/67-helm-kustomize.sh)') }, () => {
  test('the loader yields the objects helm renders, each in its template file', async () => {
    const rendered = parseManifests(helmTemplate(), '<helm>').objects.map((o) => `${o.kind}/${o.name}`);
    assert.ok(rendered.length >= 8, `helm rendered ${rendered.length} objects`);
    const loaded = await loadManifests([CHART]);
    assert.deepEqual(loaded.notes.filter((n) => n.level === 'error'), []);
    assert.deepEqual(loaded.objects.map((o) => `${o.kind}/${o.name}`), rendered);
    for (const o of loaded.objects) {
      assert.match(relative(CHART, o.source.file), /^templates\/[\w-]+\.yaml$/, `${o.kind}/${o.name} at ${o.source.file}`);
      // The object's line is its `kind:` line in the template.
      const line = readFileSync(o.source.file, 'utf8').split('\n')[o.source.line - 1];
      assert.match(line!, new RegExp(`^kind: ${o.kind}$`), `${o.kind}/${o.name} at ${o.source.file}:${o.source.line}`);
    }
    const deployment = loaded.objects.find((o) => o.kind === 'Deployment')!;
    assert.equal(relative(CHART, deployment.source.file), 'templates/deployment.yaml');
    // A field is placed at its key in the template, or the closest parent key there.
    const sc = deployment.positionOf(['spec', 'template', 'spec', 'containers', 0, 'securityContext', 'runAsNonRoot']);
    const template = readFileSync(sc.file, 'utf8').split('\n');
    assert.match(template[sc.line - 1]!, /^\s*securityContext:/);
    // …the container's, not the pod's securityContext a few lines above it.
    assert.ok(sc.line > template.findIndex((l) => /^\s*containers:/.test(l)) + 1, `line ${sc.line}`);
    const image = deployment.positionOf(['spec', 'template', 'spec', 'containers', 0, 'image']);
    assert.match(template[image.line - 1]!, /^\s*image:/);
  });

  test('k8s check on the chart reports findings at template files', async () => {
    const r = await runCli(['k8s', 'check', CHART, '--format', 'json'], { env: { PATH } });
    assert.equal(r.code, 0, r.stderr);
    const findings = findingsOf(r.stdout);
    assert.ok(findings.length > 0);
    for (const f of findings) {
      assert.match(relative(CHART, fileOf(f) ?? ''), /^templates\/[\w-]+\.yaml$/, JSON.stringify(f));
      assert.ok((lineOf(f) ?? 0) >= 1);
    }
    assert.ok(findings.some((f) => f.id === 'single-replica'), 'the chart runs one replica by default');
    assert.ok(!findings.some((f) => f.id === 'host-network'), 'no host network by default');
  });

  test('--values and --set change what is rendered, as in helm', async () => {
    const values = join(tmp, 'host-network.yaml');
    writeFileSync(values, 'hostNetwork:\n  enabled: true\nreplicas: 1\n');
    const r = await runCli(['k8s', 'check', CHART, '--format', 'json', '--values', values, '--set', 'replicas=3'], { env: { PATH } });
    assert.equal(r.code, 0, r.stderr);
    const findings = findingsOf(r.stdout);
    const ids = new Set(findings.map((f) => f.id));
    assert.ok(!ids.has('single-replica'), '--set replicas=3 wins over the values file');
    const hostNetwork = findings.filter((f) => /host-?network/i.test(f.id));
    assert.ok(hostNetwork.length > 0, `host network reported: ${[...ids].join(', ')}`);
    assert.equal(relative(CHART, fileOf(hostNetwork[0]!)!), 'templates/deployment.yaml');
    // helm itself agrees: the rendered Deployment has hostNetwork and 3 replicas.
    const deployment = parseManifests(helmTemplate('--values', values, '--set', 'replicas=3'), '<helm>').objects.find((o) => o.kind === 'Deployment')!;
    assert.equal(deployment.raw.spec.replicas, 3);
    assert.equal(deployment.raw.spec.template.spec.hostNetwork, true);
  });

  test('netpol analyze and rbac who-can read the rendered chart', async () => {
    const a = await runCli(['netpol', 'analyze', CHART], { env: { PATH } });
    assert.equal(a.code, 0, a.stderr);
    // helm template's release is `release-name` in namespace `default`, as helm says.
    assert.match(a.stdout, /^default\/release-name-metrics-server\[Deployment\] => 0\.0\.0\.0-255\.255\.255\.255\[External\] : All Connections$/m);
    const w = await runCli(['rbac', 'who-can', 'get', 'nodes/metrics', CHART, '--format', 'json'], { env: { PATH } });
    assert.equal(w.code, 0, w.stderr);
    const subjects = (JSON.parse(w.stdout) as { subjects: Array<{ subject: string; file?: string; line?: number }> }).subjects;
    const sa = subjects.find((s) => /release-name-metrics-server/.test(s.subject));
    assert.ok(sa, JSON.stringify(subjects));
    assert.equal(relative(CHART, sa.file!), 'templates/clusterrole.yaml');
    // At the granting rule itself: the rule item that lists nodes/metrics.
    const rule = readFileSync(sa.file!, 'utf8').split('\n').slice(sa.line! - 1);
    assert.match(rule[0]!, /^\s*- apiGroups:/);
    assert.match(rule.slice(1, rule.findIndex((l, i) => i > 0 && /^\s*- apiGroups:/.test(l))).join('\n'), /- nodes\/metrics/);
  });

  test('a chart met while walking a directory is rendered too', async () => {
    const loaded = await loadManifests([dirname(CHART)]);
    assert.ok(loaded.objects.some((o) => o.kind === 'Deployment' && o.source.file === join(CHART, 'templates/deployment.yaml')));
    assert.deepEqual(loaded.notes.filter((n) => n.level === 'error'), []);
  });

  test('a chart helm refuses is one line, exit 2', async () => {
    const r = await runCli(['k8s', 'check', CHART, '--set', 'replicas={'], { env: { PATH } });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /helm template .* failed: /);
  });
});

describe('kustomizations are built with kustomize', { skip: missing(!!kustomize, 'kustomize not built (bash .ci/setup.d/67-helm-kustomize.sh)') }, () => {
  test('k8s check on the kustomization equals k8s check on kustomize build piped to stdin', async () => {
    const built = spawnSync(kustomize!, ['build', KUSTOMIZATION], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    const viaDir = await runCli(['k8s', 'check', KUSTOMIZATION, '--format', 'json'], { env: { PATH } });
    const viaStdin = await runCli(['k8s', 'check', '-', '--format', 'json'], { env: { PATH }, input: built.stdout });
    assert.equal(viaDir.code, 0, viaDir.stderr);
    assert.equal(viaStdin.code, 0, viaStdin.stderr);
    const key = (f: Finding) => `${f.id} ${JSON.stringify(f.resource.k8s ? { ...f.resource.k8s, file: undefined, line: undefined } : f.resource)}`;
    const dir = findingsOf(viaDir.stdout);
    assert.ok(dir.length > 0);
    assert.deepEqual(dir.map(key).sort(), findingsOf(viaStdin.stdout).map(key).sort());
    // The release component's image override is applied: the object is the built one.
    const loaded = await loadManifests([KUSTOMIZATION]);
    const deployment = loaded.objects.find((o) => o.kind === 'Deployment')!;
    assert.match(deployment.raw.spec.template.spec.containers[0].image, /^registry\.k8s\.io\/metrics-server\/metrics-server:v0\.9\.0$/);
    assert.equal(deployment.labels['k8s-app'], 'metrics-server');
    // Each object is placed in the file it came from (kustomize's origin), at its kind line;
    // the origin annotation that told it is gone again.
    assert.equal(relative(dirname(dirname(KUSTOMIZATION)), deployment.source.file), 'base/deployment.yaml');
    assert.match(readFileSync(deployment.source.file, 'utf8').split('\n')[deployment.source.line - 1]!, /^kind: Deployment$/);
    assert.equal(deployment.annotations['config.kubernetes.io/origin'], undefined);
    const roles = loaded.objects.filter((o) => o.kind === 'ClusterRole');
    assert.ok(roles.length >= 2);
    for (const role of roles) {
      assert.equal(relative(dirname(dirname(KUSTOMIZATION)), role.source.file), 'base/rbac.yaml');
      const text = readFileSync(role.source.file, 'utf8').split('\n');
      assert.equal(text[role.source.line - 1], 'kind: ClusterRole');
      // The kind line chosen is the one of this role (its name follows in the same document).
      const rest = text.slice(role.source.line).join('\n').split(/^---/m)[0]!;
      assert.match(rest, new RegExp(`name: ${role.name}\\s*\\n`));
    }
  });
});

describe('missing tools and misplaced flags', () => {
  test('a chart without helm on PATH is one clear line, exit 2', async () => {
    const empty = mkdtempSync(join(tmp, 'path-'));
    const r = await runCli(['k8s', 'check', CHART], { env: { PATH: empty } });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /needs helm on PATH/);
    // A chart met while walking a directory: an error line for it (exit 2), the rest still read.
    const repo = join(tmp, 'repo');
    cpSync(CHART, join(repo, 'chart'), { recursive: true });
    cpSync(join(KUSTOMIZATION, '../../base/deployment.yaml'), join(repo, 'deployment.yaml'));
    const walked = await runCli(['k8s', 'check', repo, '--format', 'json'], { env: { PATH: empty } });
    assert.equal(walked.code, 2);
    assert.match(walked.stderr, /^gatehouse: error: .*repo\/chart: Helm chart needs helm on PATH/m);
    assert.ok(findingsOf(walked.stdout).some((f) => f.resource.k8s?.file === join(repo, 'deployment.yaml')), walked.stdout);
    const k = await runCli(['k8s', 'check', KUSTOMIZATION], { env: { PATH: empty } });
    assert.equal(k.code, 2);
    assert.match(k.stderr.trim(), /^[^\n]*needs kustomize or kubectl on PATH[^\n]*$/);
  });

  test('--values without a chart, or with --cluster, is a usage error', async () => {
    const r = await runCli(['k8s', 'check', join(CHART, 'templates', 'NOTES.txt'), '--set', 'a=b']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--values and --set apply to Helm chart directories/);
    const c = await runCli(['netpol', 'analyze', '--cluster', '--values', 'x.yaml']);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /--values and --set apply to Helm chart directories, not --cluster/);
  });
});
