/**
 * The Helm chart (deploy/helm/gatehouse) through the real tools: helm v4 (.ci/setup.d/69-helm4.sh)
 * lints and renders it for the default, fleet (external PostgreSQL/NATS) and cert-manager value
 * sets, helm v3 lints it too; the rendered manifests pass Gatehouse's own `k8s check` at Pod
 * Security restricted with only the sensor's documented exceptions; `netpol analyze` finds
 * exactly the intended paths; the containers run real `gatehouse` commands with real flags;
 * the certificates chain to the caBundle; the real kube-apiserver accepts every object in a
 * server-side dry run and its own Pod Security admission agrees on which pod is privileged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { cachedPath, missing, renderTool } from '../helpers/components.js';
import { insecureAgent, kubeBinariesPresent, kubeRequest, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { fetch as undiciFetch } from 'undici';

type Obj = Record<string, any>;

const chart = fileURLToPath(new URL('../../deploy/helm/gatehouse', import.meta.url));
const exceptionsFile = join(chart, 'pss-exceptions.yaml');
const guardFile = join(chart, 'sensor-guard.yaml');
const helm4 = cachedPath('bin', 'helm4');
const helm3 = renderTool('helm');
const NS = 'gatehouse';
const RELEASE = 'gh';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-helm-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The value sets the chart ships for CI (ci/*.yaml), and the defaults. */
const VALUE_SETS: Record<string, string[]> = {
  default: [],
  external: ['-f', join(chart, 'ci', 'external-values.yaml')],
  certManager: ['-f', join(chart, 'ci', 'cert-manager-values.yaml')],
};

function helm(bin: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data') } });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const rendered = new Map<string, { yaml: string; file: string; objects: Obj[] }>();
/** `helm template` with helm v4; cached per value set (each render makes new certificates). */
function render(set: string, extra: string[] = []): { yaml: string; file: string; objects: Obj[] } {
  const key = `${set} ${extra.join(' ')}`;
  const hit = rendered.get(key);
  if (hit) return hit;
  const r = helm(helm4, ['template', RELEASE, chart, '--namespace', NS, ...VALUE_SETS[set]!, ...extra]);
  assert.equal(r.code, 0, `helm template (${key}) failed: ${r.stderr}`);
  const objects = parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter((o) => o && typeof o === 'object');
  const file = join(dir, `rendered-${rendered.size}.yaml`);
  writeFileSync(file, r.stdout);
  const out = { yaml: r.stdout, file, objects };
  rendered.set(key, out);
  return out;
}

const find = (objects: Obj[], kind: string, name: string) => {
  const o = objects.find((x) => x.kind === kind && x.metadata?.name === name);
  assert.ok(o, `${kind} ${name} is rendered`);
  return o;
};
const workloads = (objects: Obj[]) => objects.filter((o) => ['Deployment', 'DaemonSet'].includes(o.kind));
const secretData = (objects: Obj[], name: string, key: string) => Buffer.from(find(objects, 'Secret', name).data[key], 'base64').toString('utf8');

describe('the Helm chart with the real helm', { skip: missing(existsSync(helm4), `helm v4 (${helm4}; bash .ci/setup.d/69-helm4.sh builds it)`) }, () => {
  test('helm v4 reports its version', () => {
    const r = helm(helm4, ['version', '--short']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^v4\.\d+\.\d+/);
  });

  for (const [set, args] of Object.entries(VALUE_SETS)) {
    test(`helm lint --strict passes: ${set} values (helm v4${helm3 ? ' and v3' : ''})`, () => {
      for (const bin of [helm4, ...(helm3 ? [helm3] : [])]) {
        const r = helm(bin, ['lint', '--strict', chart, '--namespace', NS, ...args]);
        assert.equal(r.code, 0, `${bin} lint: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      }
    });
  }

  test('bad values are refused with a one-line reason: unknown keys (schema), SQLite with two Centrals, external DB without its Secret, a bad timeout', () => {
    const cases: [string[], RegExp][] = [
      [['--set', 'central.bogus=1'], /additional properties 'bogus' not allowed/],
      [['--set', 'sensor.image.tag=x'], /additional properties 'tag' not allowed/],
      [['--set', 'central.replicas=2'], /central\.replicas > 1 needs database\.external=true/],
      [['--set', 'database.external=true'], /database\.external=true needs database\.existingSecret/],
      [['--set', 'admission.timeoutSeconds=31'], /timeoutSeconds/],
      [['--set', 'tls.mode=manual'], /tls\/mode|tls.mode|value must be one of/],
      [['--set', 'sensor.rulesConfigMap=mine'], /sensor\.rulesConfigMapFiles/],
      // The certificates the templates make are kept under this key while rendering: not a value.
      [['--set', 'generatedCerts.ca=x'], /generatedCerts/],
    ];
    for (const [args, re] of cases) {
      const r = helm(helm4, ['template', RELEASE, chart, '--namespace', NS, ...args]);
      assert.notEqual(r.code, 0, `${args.join(' ')} should be refused`);
      assert.match(r.stderr, re, args.join(' '));
    }
  });

  test('helm template renders Central, the sensor DaemonSet, the webhook and the NetworkPolicies', () => {
    const { objects } = render('default');
    const kinds = (k: string) => objects.filter((o) => o.kind === k).map((o) => o.metadata.name).sort();
    assert.deepEqual(kinds('Deployment'), ['gh-gatehouse-admission', 'gh-gatehouse-central']);
    assert.deepEqual(kinds('DaemonSet'), ['gh-gatehouse-sensor']);
    assert.deepEqual(kinds('Service'), ['gh-gatehouse-admission', 'gh-gatehouse-central']);
    assert.deepEqual(kinds('PersistentVolumeClaim'), ['gh-gatehouse-central-data']);
    assert.deepEqual(kinds('ValidatingWebhookConfiguration'), ['gh-gatehouse-admission.gatehouse']);
    assert.deepEqual(kinds('MutatingWebhookConfiguration'), ['gh-gatehouse-admission.gatehouse']);
    assert.deepEqual(kinds('NetworkPolicy'), ['gh-gatehouse-admission', 'gh-gatehouse-central', 'gh-gatehouse-default-deny', 'gh-gatehouse-sensor']);
    for (const o of objects.filter((x) => !x.kind.endsWith('WebhookConfiguration') && !x.kind.startsWith('Cluster'))) assert.equal(o.metadata.namespace, NS, `${o.kind} ${o.metadata.name}`);

    // SQLite: one replica, Recreate, the PVC; no database flag.
    const central = find(objects, 'Deployment', 'gh-gatehouse-central');
    assert.equal(central.spec.replicas, 1);
    assert.equal(central.spec.strategy.type, 'Recreate');
    assert.ok(!central.spec.template.spec.containers[0].args.includes('--database'));
    assert.equal(central.spec.template.spec.volumes.find((v: Obj) => v.name === 'data').persistentVolumeClaim.claimName, 'gh-gatehouse-central-data');

    // Webhooks as `admission install` writes them: exclusions, failure policy, timeouts, budget.
    const hooks = objects.filter((o) => o.kind.endsWith('WebhookConfiguration')).flatMap((o) => o.webhooks as Obj[]);
    assert.deepEqual(hooks.map((h) => h.name).sort(), ['connect.validate.gatehouse.dev', 'images.mutate.gatehouse.dev', 'workloads.validate.gatehouse.dev']);
    for (const h of hooks) {
      assert.equal(h.failurePolicy, 'Ignore');
      assert.equal(h.timeoutSeconds, 5);
      assert.equal(h.sideEffects, 'None');
      assert.deepEqual(h.namespaceSelector.matchExpressions, [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [NS, 'kube-system'] }]);
      assert.equal(h.clientConfig.service.name, 'gh-gatehouse-admission');
    }
    const webhookArgs = find(objects, 'Deployment', 'gh-gatehouse-admission').spec.template.spec.containers[0].args as string[];
    assert.equal(webhookArgs[webhookArgs.indexOf('--budget') + 1], '2000ms');
    assert.ok(!webhookArgs.includes('--fail-closed'));
  });

  test('fleet values: two Centrals on PostgreSQL (URL from the Secret, not in the spec) and NATS; fail-closed webhook', () => {
    const { objects, yaml } = render('external');
    const central = find(objects, 'Deployment', 'gh-gatehouse-central');
    const c = central.spec.template.spec.containers[0];
    assert.equal(central.spec.replicas, 2);
    assert.equal(central.spec.strategy, undefined, 'rolling updates with a shared store');
    assert.equal(c.args[c.args.indexOf('--database') + 1], '$(GATEHOUSE_DATABASE_URL)');
    assert.deepEqual(c.env.find((e: Obj) => e.name === 'GATEHOUSE_DATABASE_URL').valueFrom.secretKeyRef, { name: 'gatehouse-postgres', key: 'url' });
    assert.equal(c.args[c.args.indexOf('--nats') + 1], 'nats://nats.messaging.svc:4222');
    assert.ok(!objects.some((o) => o.kind === 'PersistentVolumeClaim'));
    // Pull secrets: get by name only, with rbac.readPullSecrets; never in the default role.
    const secretRules = (objs: Obj[]) => find(objs, 'ClusterRole', 'gh-gatehouse-central-gatehouse').rules.filter((r: Obj) => r.resources.includes('secrets'));
    assert.deepEqual(secretRules(objects), [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]);
    assert.deepEqual(secretRules(render('default').objects), []);
    assert.ok(!/postgres:\/\//.test(yaml));
    assert.ok(c.image.endsWith('@sha256:0000000000000000000000000000000000000000000000000000000000000001'));
    const sensor = find(objects, 'DaemonSet', 'gh-gatehouse-sensor').spec.template.spec.containers[0];
    assert.equal(sensor.args[sensor.args.indexOf('--nats') + 1], 'nats://nats.messaging.svc:4222');
    const hooks = objects.filter((o) => o.kind.endsWith('WebhookConfiguration')).flatMap((o) => o.webhooks as Obj[]);
    assert.ok(hooks.every((h) => h.failurePolicy === 'Fail' && h.timeoutSeconds === 3));
    const webhookArgs = find(objects, 'Deployment', 'gh-gatehouse-admission').spec.template.spec.containers[0].args as string[];
    assert.equal(webhookArgs[webhookArgs.indexOf('--budget') + 1], '2000ms');
    assert.ok(webhookArgs.includes('--fail-closed'));
    // All three speak to the bus with the same flags; its credentials and CA are mounted files.
    for (const [kind, name] of [['Deployment', 'gh-gatehouse-central'], ['DaemonSet', 'gh-gatehouse-sensor'], ['Deployment', 'gh-gatehouse-admission']] as const) {
      const pod = find(objects, kind, name).spec.template.spec;
      const args = pod.containers[0].args as string[];
      const after = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
      assert.equal(after('--nats'), 'nats://nats.messaging.svc:4222', name);
      assert.equal(after('--nats-creds'), '/etc/gatehouse/nats-creds/creds', name);
      assert.equal(after('--nats-tls-ca'), '/etc/gatehouse/nats-ca/ca.crt', name);
      const mounts = pod.containers[0].volumeMounts as Obj[];
      assert.deepEqual(mounts.filter((m) => m.name.startsWith('nats-')).map((m) => [m.name, m.mountPath, m.readOnly]), [['nats-creds', '/etc/gatehouse/nats-creds', true], ['nats-ca', '/etc/gatehouse/nats-ca', true]], name);
      const volumes = pod.volumes as Obj[];
      assert.deepEqual(volumes.find((v) => v.name === 'nats-creds')?.secret?.secretName, 'gatehouse-nats', name);
      assert.deepEqual(volumes.find((v) => v.name === 'nats-ca')?.configMap?.name, 'nats-ca', name);
      assert.ok(!(pod.containers[0].env as Obj[] ?? []).some((e) => /NATS/i.test(e.name)), `${name}: no NATS secret in the environment`);
    }
    // Without a bus, nobody gets a NATS flag or mount.
    const plain = render('default').objects.filter((o) => ['Deployment', 'DaemonSet'].includes(o.kind));
    assert.ok(plain.length >= 3);
    for (const w of plain) assert.ok(!JSON.stringify(w.spec.template.spec).includes('nats'), w.metadata.name);
  });

  test('helm-made certificates: one CA in caBundle and in both Secrets; it signed Central\'s, the webhook\'s and the metrics certificate, for their Service names', () => {
    const { objects } = render('external');
    const caPem = secretData(objects, 'gh-gatehouse-central-tls', 'ca.crt');
    const ca = new X509Certificate(caPem);
    assert.ok(ca.ca);
    assert.equal(secretData(objects, 'gh-gatehouse-admission-tls', 'ca.crt'), caPem);
    for (const cfg of objects.filter((o) => o.kind.endsWith('WebhookConfiguration'))) {
      for (const h of cfg.webhooks) assert.equal(Buffer.from(h.clientConfig.caBundle, 'base64').toString('utf8'), caPem, `${cfg.kind} ${h.name} caBundle`);
    }
    const leaf = (secret: string, names: string[]) => {
      const cert = new X509Certificate(secretData(objects, secret, 'tls.crt'));
      assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), `${secret} is signed by the CA`);
      for (const n of names) assert.ok(cert.checkHost(n), `${secret} is valid for ${n}`);
    };
    leaf('gh-gatehouse-central-tls', ['gh-gatehouse-central', `gh-gatehouse-central.${NS}.svc`, `gh-gatehouse-central.${NS}.svc.cluster.local`]);
    leaf('gh-gatehouse-admission-tls', ['gh-gatehouse-admission', `gh-gatehouse-admission.${NS}.svc`]);
    leaf('gh-gatehouse-sensor-metrics-tls', [`gh-gatehouse-sensor.${NS}.svc`]);
    // The webhook's key matches its certificate; the sensors and the webhook get only the CA of Central's Secret.
    const ds = find(objects, 'DaemonSet', 'gh-gatehouse-sensor').spec.template.spec;
    assert.deepEqual(ds.volumes.find((v: Obj) => v.name === 'central-ca').secret, { secretName: 'gh-gatehouse-central-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    const env = Object.fromEntries(ds.containers[0].env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.GATEHOUSE_SERVER, `https://gh-gatehouse-central.${NS}.svc:8443`);
    assert.ok(new X509Certificate(secretData(objects, 'gh-gatehouse-central-tls', 'tls.crt')).checkHost(new URL(env.GATEHOUSE_SERVER).hostname));
    // Central's API token reaches the sensors and the webhook as a mounted file (--token-file's variable), never as an environment variable.
    for (const [kind, name] of [['DaemonSet', 'gh-gatehouse-sensor'], ['Deployment', 'gh-gatehouse-admission']]) {
      const pod = find(objects, kind, name).spec.template.spec;
      const c = pod.containers[0];
      assert.ok(!c.env.some((e: Obj) => e.valueFrom?.secretKeyRef), `${name}: no Secret in its environment`);
      const file = c.env.find((e: Obj) => e.name === 'GATEHOUSE_TOKEN_FILE').value as string;
      const mount = c.volumeMounts.find((m: Obj) => file.startsWith(`${m.mountPath}/`));
      assert.ok(mount?.readOnly, `${name}: the token file is on a read-only mount`);
      assert.equal(pod.volumes.find((v: Obj) => v.name === mount.name).secret.items[0].key, 'token');
    }
    assert.deepEqual(ds.containers[0].env.find((e: Obj) => e.name === 'NODE_NAME').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
  });

  test('cert-manager values: Certificates for Central, the webhook and metrics from a CA Issuer; caBundle injected, not rendered', () => {
    const { objects } = render('certManager');
    assert.ok(!objects.some((o) => o.kind === 'Secret' && o.type === 'kubernetes.io/tls'), 'no chart-made TLS Secrets');
    const certs = objects.filter((o) => o.kind === 'Certificate');
    assert.deepEqual(certs.map((c) => c.metadata.name).sort(), ['gh-gatehouse-admission', 'gh-gatehouse-ca', 'gh-gatehouse-central', 'gh-gatehouse-sensor-metrics']);
    const admission = certs.find((c) => c.metadata.name === 'gh-gatehouse-admission')!;
    assert.equal(admission.spec.secretName, 'gh-gatehouse-admission-tls');
    assert.ok(admission.spec.dnsNames.includes(`gh-gatehouse-admission.${NS}.svc`));
    assert.deepEqual(admission.spec.issuerRef, { name: 'gh-gatehouse-ca', kind: 'Issuer', group: 'cert-manager.io' });
    for (const cfg of objects.filter((o) => o.kind.endsWith('WebhookConfiguration'))) {
      assert.equal(cfg.metadata.annotations['cert-manager.io/inject-ca-from'], `${NS}/gh-gatehouse-admission`);
      for (const h of cfg.webhooks) assert.equal(h.clientConfig.caBundle, undefined);
    }
    // An Issuer of the user's: the chart makes no issuers of its own.
    const own = render('certManager', ['--set', 'tls.certManager.issuerRef.name=corp-ca', '--set', 'tls.certManager.issuerRef.kind=ClusterIssuer', '--set', 'tls.certManager.issuerRef.group=cert-manager.io']).objects;
    assert.ok(!own.some((o) => o.kind === 'Issuer'));
    assert.ok(own.filter((o) => o.kind === 'Certificate').every((c) => c.spec.issuerRef.name === 'corp-ca' && c.spec.issuerRef.kind === 'ClusterIssuer'));
  });

  test('every container runs a real gatehouse command with flags that command has', async () => {
    const help = new Map<string, string>();
    for (const set of Object.keys(VALUE_SETS)) {
      for (const w of workloads(render(set).objects)) {
        for (const c of w.spec.template.spec.containers as Obj[]) {
          const args = c.args as string[];
          const sub = args.slice(0, args.findIndex((a) => a.startsWith('-')));
          assert.ok(sub.length > 0, `${w.metadata.name}: a subcommand first`);
          const key = sub.join(' ');
          if (!help.has(key)) {
            const r = await runCli([...sub, '--help']);
            assert.equal(r.code, 0, `gatehouse ${key} --help: ${r.stderr}`);
            help.set(key, r.stdout);
          }
          const text = help.get(key)!;
          for (const flag of args.filter((a) => a.startsWith('--'))) {
            assert.ok(new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, '\\-')}[\\s=<]`, 'm').test(text), `${set}: ${w.metadata.name} passes ${flag}, which \`gatehouse ${key}\` does not have`);
          }
          // $(VAR) in args must be a variable of the container, or the kubelet passes it literally.
          const envNames = new Set((c.env ?? []).map((e: Obj) => e.name));
          for (const a of args) for (const m of a.matchAll(/\$\(([A-Z_]+)\)/g)) assert.ok(envNames.has(m[1]), `${w.metadata.name}: $(${m[1]}) is defined`);
          // Every file a flag names is mounted (or under a mounted directory).
          const mounts = (c.volumeMounts ?? []).map((m: Obj) => m.mountPath as string);
          for (const a of args.filter((x) => x.startsWith('/') && x !== '/dev/null')) assert.ok(mounts.some((m: string) => a === m || a.startsWith(`${m}/`)), `${w.metadata.name}: ${a} is on a mounted volume`);
        }
      }
    }
    assert.deepEqual([...help.keys()].sort(), ['admission serve', 'sensor', 'server']);
  });

  test('the default sensor rules load in Gatehouse\'s rule engine with no errors', async () => {
    const { objects } = render('default');
    const cm = find(objects, 'ConfigMap', 'gh-gatehouse-sensor-rules');
    const files = Object.entries(cm.data as Record<string, string>).map(([name, text]) => {
      const f = join(dir, name);
      writeFileSync(f, text);
      return f;
    });
    assert.ok(files.length > 0);
    const r = await runCli(['runtime', 'rules', 'check', ...files]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of files) assert.match(r.stdout, new RegExp(`${f.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: [1-9]\\d* rules, \\d+ macros, \\d+ lists, 0 errors, 0 warnings`));
  });

  for (const set of Object.keys(VALUE_SETS)) {
    test(`k8s check --pss restricted: ${set} values pass with the sensor's exceptions only`, async () => {
      const { file } = render(set);
      const plain = await runCli(['k8s', 'check', '--pss', 'restricted', '--format', 'json', file]);
      assert.equal(plain.code, 0, plain.stderr);
      const findings = JSON.parse(plain.stdout).findings as Obj[];
      // Without the exceptions: findings on the sensor DaemonSet only.
      assert.ok(findings.length > 0);
      for (const f of findings) assert.equal(`${f.resource.k8s.kind}/${f.resource.k8s.name}`, 'DaemonSet/gh-gatehouse-sensor', `${f.id} on ${f.resource.k8s.kind}/${f.resource.k8s.name}`);
      const exceptions = parse(readFileSync(exceptionsFile, 'utf8')).exceptions as Obj[];
      assert.deepEqual([...new Set(findings.map((f) => f.id))].sort(), exceptions.map((e) => e.policy).sort(), 'one exception per finding, none unused');
      for (const e of exceptions) {
        assert.ok(e.owner && e.reason && e.expires, `${e.policy}: owner, reason, expiry`);
        assert.ok(Date.parse(e.expires) > Date.now(), `${e.policy} expired on ${e.expires}: re-read the reason and renew it`);
      }

      // With the exceptions and the guard that pins what they allow: nothing left.
      const r = await runCli(['k8s', 'check', '--pss', 'restricted', '--policy', guardFile, '--exceptions', exceptionsFile, '--format', 'json', '--exit-code', '1', file]);
      assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(out.findings, []);
      assert.equal(out.excepted.length, findings.length);
    });
  }

  test('k8s check (exceptions + guard) fails once a restricted setting is loosened in a non-sensor pod, or the sensor asks for more', async () => {
    const { yaml } = render('default');
    const sensorSpec = (o: Obj) => (o.kind === 'DaemonSet' ? o.spec.template.spec : undefined);
    const cases: [string, (o: Obj) => void, string][] = [
      ['central allowPrivilegeEscalation', (o) => o.kind === 'Deployment' && o.metadata.name === 'gh-gatehouse-central' && (o.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation = true), 'pss-allowprivilegeescalation'],
      ['webhook runAsNonRoot unset', (o) => o.kind === 'Deployment' && o.metadata.name === 'gh-gatehouse-admission' && (delete o.spec.template.spec.securityContext.runAsNonRoot, delete o.spec.template.spec.containers[0].securityContext.runAsNonRoot), 'pss-runasnonroot'],
      ['sensor privileged', (o) => { if (sensorSpec(o)) sensorSpec(o).containers[0].securityContext.privileged = true; }, 'pss-privileged'],
      ['sensor SYS_ADMIN', (o) => sensorSpec(o)?.containers[0].securityContext.capabilities.add.push('SYS_ADMIN'), 'gatehouse-sensor-capabilities'],
      ['sensor hostNetwork', (o) => { if (sensorSpec(o)) sensorSpec(o).hostNetwork = true; }, 'gatehouse-sensor-host-access'],
      ['sensor seccomp Unconfined', (o) => { if (sensorSpec(o)) sensorSpec(o).securityContext.seccompProfile = { type: 'Unconfined' }; }, 'pss-seccompprofile-restricted'],
      ['sensor host root mounted', (o) => { sensorSpec(o)?.volumes.push({ name: 'root', hostPath: { path: '/' } }); sensorSpec(o)?.containers[0].volumeMounts.push({ name: 'root', mountPath: '/host', readOnly: true }); }, 'gatehouse-sensor-host-access'],
    ];
    for (const [what, change, id] of cases) {
      const docs = parseAllDocuments(yaml).map((d) => d.toJS() as Obj).filter(Boolean);
      docs.forEach(change);
      const f = join(dir, `loosened-${id}.yaml`);
      writeFileSync(f, docs.map((d) => `---\n${stringify(d)}`).join(''));
      const r = await runCli(['k8s', 'check', '--pss', 'restricted', '--policy', guardFile, '--exceptions', exceptionsFile, '--format', 'json', '--exit-code', '1', f]);
      assert.equal(r.code, 1, `${what} must fail the check: ${r.stderr}`);
      const ids = (JSON.parse(r.stdout).findings as Obj[]).map((x) => x.id);
      assert.ok(ids.includes(id), `${what}: ${id} expected, got ${ids.join(', ')}`);
    }
  });

  test('netpol analyze: exactly the intended paths, with users, scrapers and other workloads beside the chart', async () => {
    const { yaml } = render('external');
    // Neighbours: the ingress controller users come through, Prometheus, and a team app that must reach nothing.
    const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name } } });
    const deploy = (namespace: string, name: string, labels: Obj) => ({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
      spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'registry.example/x:1' }] } } },
    });
    const extra = [ns(NS), ns('ingress-nginx'), ns('monitoring'), ns('team'),
      deploy('ingress-nginx', 'controller', { app: 'ingress' }),
      deploy('monitoring', 'prometheus', { 'app.kubernetes.io/name': 'prometheus' }),
      deploy('team', 'shop', { app: 'shop' })];
    const f = join(dir, 'netpol-input.yaml');
    writeFileSync(f, `${yaml}\n${extra.map((o) => `---\n${stringify(o)}`).join('')}`);
    const r = await runCli(['netpol', 'analyze', f]);
    assert.equal(r.code, 0, r.stderr);
    const gh = (n: string) => `${NS}/gh-gatehouse-${n}`;
    const lines = r.stdout.trim().split('\n').filter((l) => l.includes('gh-gatehouse-')).sort();
    assert.deepEqual(lines, [
      `10.96.0.1-10.96.0.1[External] => ${gh('admission')}[Deployment] : TCP 8443`,
      `172.18.0.2-172.18.0.2[External] => ${gh('admission')}[Deployment] : TCP 8443`,
      `${gh('admission')}[Deployment] => ${gh('central')}[Deployment] : TCP 8443`,
      `${gh('admission')}[Deployment] => 10.20.0.20-10.20.0.20[External] : TCP 4222`,
      `${gh('central')}[Deployment] => 10.20.0.10-10.20.0.10[External] : TCP 5432`,
      `${gh('central')}[Deployment] => 10.20.0.20-10.20.0.20[External] : TCP 4222`,
      `${gh('central')}[Deployment] => 10.30.0.0-10.30.255.255[External] : TCP 443,5000`,
      `${gh('central')}[Deployment] => 172.18.0.2-172.18.0.2[External] : TCP 6443`,
      `${gh('sensor')}[DaemonSet] => ${gh('central')}[Deployment] : TCP 8443`,
      `${gh('sensor')}[DaemonSet] => 10.20.0.20-10.20.0.20[External] : TCP 4222`,
      `ingress-nginx/controller[Deployment] => ${gh('central')}[Deployment] : TCP 8443`,
      `monitoring/prometheus[Deployment] => ${gh('admission')}[Deployment] : TCP 8443`,
      `monitoring/prometheus[Deployment] => ${gh('sensor')}[DaemonSet] : TCP 9464`,
    ].sort());
    // No Gatehouse pod is left without ingress and egress isolation.
    const u = await runCli(['netpol', 'analyze', '--unprotected', '--format', 'json', render('external').file]);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(JSON.parse(u.stdout).findings, []);
  });

  test('netpol analyze, default values: users and the API server from anywhere on 8443 only; sensors and the webhook reach only Central', async () => {
    const r = await runCli(['netpol', 'analyze', render('default').file]);
    assert.equal(r.code, 0, r.stderr);
    const gh = (n: string) => `${NS}/gh-gatehouse-${n}`;
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      `0.0.0.0-255.255.255.255[External] => ${gh('admission')}[Deployment] : TCP 8443`,
      `0.0.0.0-255.255.255.255[External] => ${gh('central')}[Deployment] : TCP 8443`,
      `${gh('admission')}[Deployment] => ${gh('central')}[Deployment] : TCP 8443`,
      `${gh('central')}[Deployment] => 0.0.0.0-255.255.255.255[External] : TCP 443,6443`,
      `${gh('sensor')}[DaemonSet] => ${gh('central')}[Deployment] : TCP 8443`,
    ].sort());
  });
});

describe('the rendered chart on the real kube-apiserver', { skip: missing(existsSync(helm4) && kubeBinariesPresent(), 'helm v4 (69-helm4.sh), kube-apiserver and kine (66-kube.sh)') }, () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  const plurals = new Map<string, { name: string; namespaced: boolean }>();
  async function resourceOf(o: Obj): Promise<{ name: string; namespaced: boolean }> {
    const key = `${o.apiVersion} ${o.kind}`;
    if (!plurals.has(key)) {
      const path = `${o.apiVersion.includes('/') ? '/apis' : '/api'}/${o.apiVersion}`;
      const res = await undiciFetch(cluster.server + path, { headers: { authorization: `Bearer ${cluster.adminToken}` }, dispatcher: insecureAgent() });
      const list = (await res.json()) as { resources: { name: string; kind: string; namespaced: boolean }[] };
      const r = list.resources.find((x) => x.kind === o.kind && !x.name.includes('/'));
      assert.ok(r, `${key} is served`);
      plurals.set(key, { name: r.name, namespaced: r.namespaced });
    }
    return plurals.get(key)!;
  }
  /** POST with ?dryRun=All&fieldValidation=Strict: validated and admitted, not stored; unknown fields are errors. */
  async function dryRun(o: Obj, namespace = o.metadata?.namespace) {
    const r = await resourceOf(o);
    const path = `${o.apiVersion.includes('/') ? '/apis' : '/api'}/${o.apiVersion}${r.namespaced ? `/namespaces/${namespace}` : ''}/${r.name}?dryRun=All&fieldValidation=Strict`;
    return kubeRequest(cluster, 'POST', path, r.namespaced ? { ...o, metadata: { ...o.metadata, namespace } } : o);
  }

  test('every object of the default and fleet value sets passes a strict server-side dry run', async () => {
    // The namespace warns at restricted, as the chart's NOTES suggest (enforce stays privileged for the sensor).
    const created = await kubeRequest(cluster, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'pod-security.kubernetes.io/enforce': 'privileged', 'pod-security.kubernetes.io/warn': 'restricted' } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const set of ['default', 'external']) {
      const warned: string[] = [];
      for (const o of render(set).objects) {
        const r = await dryRun(o);
        assert.ok(r.status === 201 || r.status === 200, `${set}: ${o.kind} ${o.metadata.name}: HTTP ${r.status} ${r.body?.message ?? JSON.stringify(r.body)}`);
        if (r.warnings.some((w) => /restricted/.test(w))) warned.push(`${o.kind}/${o.metadata.name}`);
      }
      // The API server's own Pod Security admission agrees with `k8s check`: only the sensor is not restricted.
      assert.deepEqual(warned, ['DaemonSet/gh-gatehouse-sensor'], set);
    }
  });

  test('Pod Security admission enforcing restricted admits the Central and webhook pods and refuses the sensor pod, naming its privileges', async () => {
    const created = await kubeRequest(cluster, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'strict', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const w of workloads(render('default').objects)) {
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `${w.metadata.name}-probe`, labels: w.spec.template.metadata.labels }, spec: w.spec.template.spec };
      const r = await dryRun(pod, 'strict');
      if (w.kind === 'DaemonSet') {
        assert.equal(r.status, 403, `${w.metadata.name} must be refused at restricted`);
        for (const what of ['hostPID', 'hostPath', 'capabilities', 'runAsUser=0']) assert.match(r.body.message, new RegExp(what.replace(/[=]/g, '\\=')), what);
      } else {
        assert.equal(r.status, 201, `${w.metadata.name}: ${r.body?.message}`);
      }
    }
  });
});
