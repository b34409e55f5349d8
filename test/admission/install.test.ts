/**
 * `gatehouse admission install`: the printed manifests are accepted by the real
 * kube-apiserver, which then calls (or fails to call) the webhook as configured; they pass
 * Gatehouse's own `k8s check` at Pod Security restricted; caBundle verifies the serving
 * certificate; Gatehouse's namespace and kube-system are excluded; --fail-closed flips
 * failurePolicy.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse, parseAllDocuments } from 'yaml';
import { registerAdmissionInstall } from '../../src/cli/commands/admission-install.js';
import { isUserError } from '../../src/util/errors.js';
import { parseTrustPolicy } from '../../src/trust/policy.js';
import { publicKeyPem } from '../../src/trust/keys.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';

type Obj = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admission-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the install command in process, on a bare `admission` group, writing to a file. */
async function install(args: string[]): Promise<{ yaml: string; objects: Obj[] }> {
  const program = new Command('gatehouse').exitOverride();
  registerAdmissionInstall(program.command('admission'));
  const out = join(dir, `install-${Math.random().toString(36).slice(2)}.yaml`);
  await program.parseAsync(['node', 'gatehouse', 'admission', 'install', ...args, '-o', out]);
  const yaml = readFileSync(out, 'utf8');
  return { yaml, objects: parseAllDocuments(yaml).map((d) => d.toJS() as Obj) };
}

const byKind = (objects: Obj[], kind: string) => objects.filter((o) => o.kind === kind);
const webhooks = (objects: Obj[]) => objects.filter((o) => /WebhookConfiguration$/.test(o.kind)).flatMap((o) => o.webhooks as Obj[]);
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf8');

describe('admission install manifests', () => {
  test('caBundle verifies the serving certificate, whose names are the Service DNS names', async () => {
    const { objects } = await install(['--namespace', 'gh-sys', '--service', 'gate']);
    const secret = byKind(objects, 'Secret')[0]!;
    const cert = new X509Certificate(decode(secret.data['tls.crt']));
    for (const hook of webhooks(objects)) {
      const ca = new X509Certificate(decode(hook.clientConfig.caBundle));
      assert.equal(cert.verify(ca.publicKey), true, `${hook.name}: the serving certificate is signed by caBundle's CA`);
      assert.equal(cert.checkIssued(ca), true);
      assert.deepEqual(hook.clientConfig.service, { namespace: 'gh-sys', name: 'gate', path: hook.name.includes('mutate') ? '/mutate' : '/validate', port: 443 });
    }
    assert.equal(cert.checkHost('gate.gh-sys.svc'), 'gate.gh-sys.svc');
    assert.match(cert.subjectAltName ?? '', /DNS:gate\.gh-sys\.svc\.cluster\.local/);
    // A certificate from another install is not trusted by this caBundle.
    const other = await install(['--namespace', 'gh-sys', '--service', 'gate']);
    const otherCert = new X509Certificate(decode(byKind(other.objects, 'Secret')[0]!.data['tls.crt']));
    assert.equal(otherCert.verify(new X509Certificate(decode(webhooks(objects)[0]!.clientConfig.caBundle)).publicKey), false);
  });

  test('webhooks: failurePolicy follows --fail-closed; timeout, sideEffects, versions, rules and exclusions are set', async () => {
    const open = await install(['--namespace', 'gh-sys']);
    const closed = await install(['--namespace', 'gh-sys', '--fail-closed', '--timeout-seconds', '7']);
    assert.deepEqual(webhooks(open.objects).map((h) => h.failurePolicy), ['Ignore', 'Ignore', 'Ignore']);
    assert.deepEqual(webhooks(closed.objects).map((h) => h.failurePolicy), ['Fail', 'Fail', 'Fail']);
    assert.deepEqual(webhooks(open.objects).map((h) => h.timeoutSeconds), [5, 5, 5]);
    assert.deepEqual(webhooks(closed.objects).map((h) => h.timeoutSeconds), [7, 7, 7]);
    for (const hook of webhooks(closed.objects)) {
      assert.equal(hook.sideEffects, 'None');
      assert.deepEqual(hook.admissionReviewVersions, ['v1']);
      assert.deepEqual(hook.namespaceSelector, { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['gh-sys', 'kube-system'] }] });
    }
    const rules = (name: string) => webhooks(closed.objects).find((h) => h.name === name)!.rules as Obj[];
    const connect = rules('connect.validate.gatehouse.dev');
    assert.deepEqual(connect.flatMap((r) => r.resources), ['pods/exec', 'pods/attach', 'pods/portforward']);
    assert.deepEqual(connect[0]!.operations, ['CONNECT']);
    for (const name of ['workloads.validate.gatehouse.dev', 'images.mutate.gatehouse.dev']) {
      assert.deepEqual(rules(name).flatMap((r) => r.resources).sort(), ['cronjobs', 'daemonsets', 'deployments', 'jobs', 'pods', 'podtemplates', 'replicasets', 'replicationcontrollers', 'statefulsets']);
      assert.ok(rules(name).every((r) => r.operations.join() === 'CREATE,UPDATE'));
    }
  });

  test('--url points the webhooks at an outside server and prints no Deployment; the certificate names its host', async () => {
    const { objects } = await install(['--namespace', 'gh-sys', '--url', 'https://10.1.2.3:9443/hooks/']);
    assert.deepEqual(byKind(objects, 'Deployment'), []);
    assert.deepEqual(webhooks(objects).map((h) => h.clientConfig.url), ['https://10.1.2.3:9443/hooks/validate', 'https://10.1.2.3:9443/hooks/validate', 'https://10.1.2.3:9443/hooks/mutate']);
    const cert = new X509Certificate(decode(byKind(objects, 'Secret')[0]!.data['tls.crt']));
    assert.equal(cert.checkIP('10.1.2.3'), '10.1.2.3');
  });

  test('--trust-policy goes into a ConfigMap with its keys inline, and serve is given it, the budget and --fail-closed', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pubPem = pair.publicKey.export({ format: 'pem', type: 'spki' }) as string;
    writeFileSync(join(dir, 'release.pub'), pubPem);
    const policyFile = join(dir, 'trust.yaml');
    writeFileSync(policyFile, 'keys:\n  release: release.pub\nrules:\n  - match: ["registry.example/prod/**"]\n    action: require\n    keys: [release]\ndefault: reject\n');
    const { objects } = await install(['--namespace', 'gh-sys', '--trust-policy', policyFile, '--fail-closed', '--timeout-seconds', '2']);
    const cm = byKind(objects, 'ConfigMap')[0]!;
    const inPod = await parseTrustPolicy(parse(cm.data['policy.yaml']), 'configmap', '/nonexistent');
    assert.equal(publicKeyPem(inPod.keys.get('release')!.key), publicKeyPem(pair.publicKey), 'the key travels inline, not as a path');
    assert.equal(inPod.rules[0]!.action, 'require');
    const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    assert.equal(args[args.indexOf('--trust-policy') + 1], `${pod.containers[0].volumeMounts.find((m: Obj) => m.name === 'trust').mountPath}/policy.yaml`);
    assert.equal(args[args.indexOf('--budget') + 1], '1500ms', 'the budget ends before the 2 s timeout');
    assert.ok(args.includes('--fail-closed'));
    assert.equal(pod.volumes.find((v: Obj) => v.name === 'trust').configMap.name, cm.metadata.name);
    await assert.rejects(install(['--namespace', 'gh-sys', '--trust-policy', policyFile, '--url', 'https://x.example/']), /with --url, give it to the serve command/);
    writeFileSync(join(dir, 'bad-trust.yaml'), 'rules: [{ match: x, action: maybe }]\n');
    await assert.rejects(install(['--namespace', 'gh-sys', '--trust-policy', join(dir, 'bad-trust.yaml')]), /"action" must be require, reject or exempt/);
  });

  test('--also-trust keeps the old CA in caBundle for a rotation without a gap', async () => {
    const first = await install(['--namespace', 'gh-sys']);
    const oldCa = decode(byKind(first.objects, 'Secret')[0]!.data['ca.crt']);
    const caFile = join(dir, 'old-ca.pem');
    writeFileSync(caFile, oldCa);
    const second = await install(['--namespace', 'gh-sys', '--also-trust', caFile]);
    const bundle = decode(webhooks(second.objects)[0]!.clientConfig.caBundle);
    assert.ok(bundle.includes(oldCa.trim()), 'the old CA is still trusted');
    assert.equal((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length, 2);
  });

  test('bad input is one line', async () => {
    for (const [args, pattern] of [
      [['--namespace', 'Bad_NS'], /not a valid namespace name/],
      [['--namespace', 'ok', '--url', 'http://x/'], /must be https/],
      [['--namespace', 'ok', '--service', 's', '--url', 'https://x/'], /either --service or --url/],
      [['--namespace', 'ok', '--timeout-seconds', '31'], /from 1 to 30/],
      [['--namespace', 'ok', '--also-trust', join(dir, 'missing.pem')], /cannot read --also-trust .*ENOENT/],
    ] as const) {
      await assert.rejects(install([...args]), (e) => isUserError(e) && pattern.test(e.message) && !e.message.includes('\n'), args.join(' '));
    }
  });

  test('the real command prints the manifests, and bad input is one line on stderr with exit 2', async () => {
    const ok = await runCli(['admission', 'install', '--namespace', 'gh-sys', '--fail-closed']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(webhooks(parseAllDocuments(ok.stdout).map((d) => d.toJS() as Obj)).map((h) => h.failurePolicy), ['Fail', 'Fail', 'Fail']);
    const bad = await runCli(['admission', 'install', '--namespace', 'gh-sys', '--timeout-seconds', 'soon']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim(), 'gatehouse: --timeout-seconds must be a whole number, not "soon"');
  });

  test("Gatehouse's own k8s check passes it at Pod Security restricted, and the default pack finds nothing with a pinned image", async () => {
    const image = `ghcr.io/gatehouse-dev/gatehouse@sha256:${'a'.repeat(64)}`;
    const policyFile = join(dir, 'pss-trust.yaml');
    writeFileSync(policyFile, 'rules: [{ match: "**", action: exempt }]\n');
    const { yaml, objects } = await install(['--namespace', 'gh-sys', '--image', image, '--trust-policy', policyFile]);
    const pod = byKind(objects, 'Deployment')[0]!.spec.template.spec;
    assert.equal(pod.containers[0].securityContext.runAsNonRoot, true, 'the check has a restricted pod to look at');
    const file = join(dir, 'checked.yaml');
    writeFileSync(file, yaml);
    const pss = await runCli(['k8s', 'check', '--pss', 'restricted', '--format', 'json', '--exit-code', '1', file]);
    assert.equal(pss.code, 0, pss.stdout + pss.stderr);
    const all = await runCli(['k8s', 'check', '--format', 'json', '--exit-code', '1', file]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    // The same command does flag a privileged pod, so a pass means something.
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, yaml.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'));
    assert.equal((await runCli(['k8s', 'check', '--pss', 'restricted', '--exit-code', '1', bad])).code, 1);
  });
});

describe('admission install on the real kube-apiserver', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)') }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  const deployment = (namespace: string, name: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } } },
  });

  test('every object is accepted; then, fail-closed with no webhook running, admission is denied outside the excluded namespaces', async () => {
    const policyFile = join(dir, 'cluster-trust.yaml');
    writeFileSync(policyFile, 'rules: [{ match: "**", action: exempt }]\n');
    const { objects } = await install(['--namespace', 'gatehouse-system', '--fail-closed', '--timeout-seconds', '3', '--trust-policy', policyFile]);
    assert.ok(byKind(objects, 'ConfigMap').length === 1 && byKind(objects, 'Deployment').length === 1);
    await createObjects(cluster, objects);
    await createObjects(cluster, [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team' } }]);
    // The API server's webhook configuration cache fills asynchronously: wait until it applies.
    let denial = '';
    for (let i = 0; i < 50 && !denial; i++) {
      try {
        await createObjects(cluster, [deployment('team', `probe-${i}`)]);
        await new Promise((r) => setTimeout(r, 200));
      } catch (e) {
        denial = (e as Error).message;
      }
    }
    assert.match(denial, /failed calling webhook \\?"(images\.mutate|workloads\.validate)\.gatehouse\.dev\\?"/);
    // Gatehouse's own namespace and kube-system are never sent to the webhook.
    await createObjects(cluster, [deployment('kube-system', 'system-app'), deployment('gatehouse-system', 'own-app')]);
  });
});
