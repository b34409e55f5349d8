/**
 * Differential test against the real kube-bench (.ci/setup.d/68-kube-bench.sh, CIS
 * Kubernetes v1.10 definitions): both read the same node — the real kube-apiserver, and
 * controller-manager / scheduler / etcd / kubelet / kube-proxy processes carrying the flags
 * under test — and the same files (static-pod manifests, kubeconfigs, the kubelet unit and
 * config, the PKI directory, the etcd data dir). kube-bench finds each process by a unique
 * name (its config.yaml `bins` are rewritten to them, its file paths to the fixture's), so no
 * other process on this machine leaks in; Gatehouse reads the same pids.
 *
 * Two nodes: "mixed" and "flipped", which turns most settings and modes the other way, so
 * each check is compared passing and failing. Every check's agreement is printed. A
 * disagreement not in EXPLAINED fails the test; an EXPLAINED one that no longer disagrees
 * fails it too, so the list stays true (docs/notes/node.md explains each).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsyaml from 'js-yaml';
import { parse as parseYaml } from 'yaml';
import { checkNode, type Component } from '../../src/node/index.js';
import { cachedPath, cacheHas, missing } from '../helpers/components.js';
import { kubeBinariesPresent } from '../helpers/kube-cluster.js';
import { AUDIT_POLICY, ENCRYPTION_CONFIG, startApiserver, type RunningApiserver } from './apiserver.js';

/** `scenario/CIS id` → why kube-bench and Gatehouse differ there. */
const CLIENT_CA = 'the kubelet names no client CA (no clientCAFile, no --client-ca-file; 4.2.3 fails in both): kube-bench checks the CA file its config lists by default anyway, Gatehouse checks the file the kubelet uses and has none to check (not-applicable)';
const EXPLAINED: Record<string, string> = {
  'flipped/1.4.2': 'kube-scheduler without --bind-address: kube-bench passes an unset flag (bin_op or, set: false), but kube-scheduler then binds 0.0.0.0 (its default), which is what 1.4.2 forbids; Gatehouse fails it',
  'flipped/4.1.7': CLIENT_CA,
  'flipped/4.1.8': CLIENT_CA,
  'flipped/4.2.5': 'streamingConnectionIdleTimeout: 0s in the kubelet config: kube-bench compares the text "0s" with 0 (noteq) and passes; the kubelet parses 0s as a zero duration, which disables the timeout; Gatehouse fails it',
  'mixed/3.2.2': 'kube-bench has no test for 3.2.2 (type: manual, always WARN); Gatehouse evaluates the audit policy file against the requests CIS names and it passes',
};

const present = () => cacheHas('bin', 'kube-bench') && cacheHas('kube-bench-cfg', 'cis-1.10', 'master.yaml');

interface Scenario {
  name: string;
  /** Extra kube-apiserver flags; `ca` is the fixture's CA certificate, `dir` the apiserver's work dir. */
  apiserver: (ca: string, dir: string, f: (p: string) => string) => string[];
  authorizationMode?: string;
  flags: Partial<Record<Exclude<Component, 'kube-apiserver'>, (f: (p: string) => string) => string[]>>;
  kubeletConfig: (f: (p: string) => string) => string;
  /** File → [mode, uid]. */
  files: Record<string, [number, number?]>;
  etcdDataMode: number;
}

const MIXED: Scenario = {
  name: 'mixed',
  apiserver: (ca, dir) => [
    `--encryption-provider-config=${join(dir, 'enc.yaml')}`,
    `--audit-policy-file=${join(dir, 'audit.yaml')}`,
    `--audit-log-path=${join(dir, 'audit.log')}`,
    '--audit-log-maxage=30',
    '--audit-log-maxbackup=5',
    '--profiling=false',
    '--enable-admission-plugins=NodeRestriction,AlwaysPullImages',
    `--client-ca-file=${ca}`,
  ],
  flags: {
    'kube-controller-manager': (f) => ['--profiling=false', '--use-service-account-credentials=true', `--kubeconfig=${f('controller-manager.conf')}`, '--bind-address=0.0.0.0', '--root-ca-file=/etc/kubernetes/pki/ca.crt'],
    'kube-scheduler': (f) => ['--bind-address=127.0.0.1', `--kubeconfig=${f('scheduler.conf')}`],
    etcd: (f) => ['--cert-file=/etc/etcd/server.crt', '--key-file=/etc/etcd/server.key', '--client-cert-auth=true', '--auto-tls=true', `--data-dir=${f('etcd-data')}`, '--peer-client-cert-auth=true'],
    'kube-proxy': (f) => [`--kubeconfig=${f('proxy.conf')}`, '--metrics-bind-address=0.0.0.0:10249'],
    kubelet: (f) => [`--config=${f('kubelet-config.yaml')}`, `--kubeconfig=${f('kubelet.conf')}`, '--read-only-port=10255'],
  },
  kubeletConfig: (f) => `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${f('ca.crt')}}
authorization: {mode: Webhook}
readOnlyPort: 0
streamingConnectionIdleTimeout: 5m
makeIPTablesUtilChains: true
rotateCertificates: true
`,
  files: {
    'manifests/kube-apiserver.yaml': [0o600],
    'manifests/kube-controller-manager.yaml': [0o644],
    'manifests/kube-scheduler.yaml': [0o600],
    'manifests/etcd.yaml': [0o640],
    'scheduler.conf': [0o600],
    'controller-manager.conf': [0o644],
    'kubelet.conf': [0o600],
    'kubelet-config.yaml': [0o644],
    'admin.conf': [0o644],
    'kubelet.service': [0o600],
    'proxy.conf': [0o640],
    'pki/front-proxy-ca.crt': [0o600],
    'pki/apiserver.key': [0o644],
  },
  etcdDataMode: 0o755,
};

const FLIPPED: Scenario = {
  name: 'flipped',
  authorizationMode: 'AlwaysAllow',
  apiserver: (ca, _dir, f) => [
    '--anonymous-auth=false',
    '--enable-admission-plugins=DenyServiceExternalIPs',
    '--disable-admission-plugins=ServiceAccount,NamespaceLifecycle',
    `--kubelet-client-certificate=${f('ca.crt')}`,
    `--kubelet-client-key=${f('ca.key')}`,
    `--kubelet-certificate-authority=${ca}`,
    `--tls-cert-file=${f('ca.crt')}`,
    `--tls-private-key-file=${f('ca.key')}`,
    '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    '--service-account-lookup=false',
    '--audit-log-maxbackup=10',
    '--audit-log-maxsize=100',
  ],
  flags: {
    'kube-controller-manager': (f) => [`--kubeconfig=${f('controller-manager.conf')}`, '--service-account-private-key-file=/etc/kubernetes/pki/sa.key', '--bind-address=127.0.0.1', '--terminated-pod-gc-threshold=10', '--feature-gates=RotateKubeletServerCertificate=false'],
    'kube-scheduler': (f) => ['--profiling=false', `--kubeconfig=${f('scheduler.conf')}`],
    etcd: (f) => [`--data-dir=${f('etcd-data')}`, '--peer-cert-file=/etc/etcd/peer.crt', '--peer-key-file=/etc/etcd/peer.key', '--peer-client-cert-auth=false', '--peer-auto-tls=true', `--trusted-ca-file=${f('etcd-ca.crt')}`],
    'kube-proxy': (f) => [`--kubeconfig=${f('proxy.conf')}`, '--metrics-bind-address=127.0.0.1:10249'],
    kubelet: (f) => [`--config=${f('kubelet-config.yaml')}`, `--kubeconfig=${f('kubelet.conf')}`, '--hostname-override=node-x', '--pod-max-pids=1024'],
  },
  kubeletConfig: () => `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: true}
authorization: {mode: AlwaysAllow}
readOnlyPort: 10255
streamingConnectionIdleTimeout: 0s
makeIPTablesUtilChains: false
rotateCertificates: false
tlsCertFile: /var/lib/kubelet/pki/kubelet.crt
tlsPrivateKeyFile: /var/lib/kubelet/pki/kubelet.key
tlsCipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
`,
  files: {
    'manifests/kube-apiserver.yaml': [0o644, 1000],
    'manifests/kube-controller-manager.yaml': [0o600],
    'manifests/kube-scheduler.yaml': [0o664, 1000],
    'manifests/etcd.yaml': [0o600],
    'scheduler.conf': [0o644, 1000],
    'controller-manager.conf': [0o600],
    'kubelet.conf': [0o644, 1000],
    'kubelet-config.yaml': [0o600],
    'admin.conf': [0o600],
    'kubelet.service': [0o644, 1000],
    'proxy.conf': [0o600],
    'pki/front-proxy-ca.crt': [0o644],
    'pki/apiserver.key': [0o600, 1000],
  },
  etcdDataMode: 0o700,
};

async function runScenario(s: Scenario): Promise<{ rows: string[]; agree: number; unexplained: string[]; stale: string[] }> {
  const t = mkdtempSync(join(tmpdir(), 'gatehouse-kb-'));
  chmodSync(t, 0o755);
  const tag = Math.random().toString(36).slice(2, 6);
  const names: Record<Component, string> = {
    'kube-apiserver': `ghapi${tag}`,
    'kube-controller-manager': `ghkcm${tag}`,
    'kube-scheduler': `ghsch${tag}`,
    etcd: `ghetcd${tag}`,
    kubelet: `ghklt${tag}`,
    'kube-proxy': `ghkpx${tag}`,
  };
  const f = (p: string) => join(t, p);
  const fakes: { component: Component; proc: ChildProcess }[] = [];
  let api: RunningApiserver | undefined;
  try {
    // A real CA certificate (the apiserver loads --client-ca-file, and serves with it in "flipped").
    const ssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '1'], { encoding: 'utf8' });
    assert.equal(ssl.status, 0, ssl.stderr);
    chmodSync(f('ca.crt'), 0o644);
    writeFileSync(f('etcd-ca.crt'), 'another CA\n');
    for (const [p, [mode, uid]] of Object.entries(s.files)) {
      mkdirSync(join(f(p), '..'), { recursive: true });
      writeFileSync(f(p), p === 'kubelet-config.yaml' ? s.kubeletConfig(f) : p.endsWith('.yaml') ? 'apiVersion: v1\nkind: Pod\n' : 'apiVersion: v1\nkind: Config\n');
      chmodSync(f(p), mode);
      if (uid !== undefined) chownSync(f(p), uid, uid);
    }
    mkdirSync(f('etcd-data'));
    chmodSync(f('etcd-data'), s.etcdDataMode);

    api = await startApiserver({
      exe: names['kube-apiserver'],
      authorizationMode: s.authorizationMode,
      files: { 'enc.yaml': ENCRYPTION_CONFIG, 'audit.yaml': AUDIT_POLICY },
      extra: (dir) => s.apiserver(f('ca.crt'), dir, f),
    });
    // The other components: a node process under the component's unique name whose command
    // line carries its flags (both tools read flags from the command line).
    for (const [c, flags] of Object.entries(s.flags) as [Component, (f: (p: string) => string) => string[]][]) {
      symlinkSync(process.execPath, f(names[c]));
      fakes.push({ component: c, proc: spawn(f(names[c]), ['-e', 'setInterval(() => {}, 1e9)', '--', ...flags(f)], { stdio: 'ignore' }) });
    }
    await new Promise((r) => setTimeout(r, 1000));

    // kube-bench's configuration: its cfg/ with bins and paths pointing at this node.
    const cfg = f('cfg');
    cpSync(cachedPath('kube-bench-cfg'), cfg, { recursive: true, dereference: true });
    const config = jsyaml.load(readFileSync(join(cfg, 'config.yaml'), 'utf8')) as any;
    const m = config.master;
    const point = (o: any, bin: string, conf: string, kubeconfig?: string) => {
      o.bins = [bin];
      o.confs = [conf];
      o.defaultconf = conf;
      if (kubeconfig) {
        o.kubeconfig = [kubeconfig];
        o.defaultkubeconfig = kubeconfig;
      }
    };
    point(m.apiserver, names['kube-apiserver'], f('manifests/kube-apiserver.yaml'));
    point(m.controllermanager, names['kube-controller-manager'], f('manifests/kube-controller-manager.yaml'), f('controller-manager.conf'));
    point(m.scheduler, names['kube-scheduler'], f('manifests/kube-scheduler.yaml'), f('scheduler.conf'));
    for (const e of [m.etcd, config.etcd.etcd]) {
      point(e, names.etcd, f('manifests/etcd.yaml'));
      e.datadirs = [f('etcd-data')];
      e.defaultdatadir = f('etcd-data');
    }
    if (m.kubelet) m.kubelet.bins = [names.kubelet];
    config.controlplane.apiserver.bins = [names['kube-apiserver']];
    const k = config.node.kubelet;
    point(k, names.kubelet, f('kubelet-config.yaml'), f('kubelet.conf'));
    k.cafile = [f('ca.crt')];
    k.defaultcafile = f('ca.crt');
    k.svc = [f('kubelet.service')];
    k.defaultsvc = f('kubelet.service');
    config.node.proxy.bins = [names['kube-proxy']];
    config.node.proxy.kubeconfig = [f('proxy.conf')];
    config.node.proxy.defaultkubeconfig = f('proxy.conf');
    writeFileSync(join(cfg, 'config.yaml'), jsyaml.dump(config));
    // 1.1.13/14 and 1.1.19-21 name /etc/kubernetes/admin.conf and /etc/kubernetes/pki in their audits.
    const master = join(cfg, 'cis-1.10', 'master.yaml');
    writeFileSync(master, readFileSync(master, 'utf8').replaceAll('/etc/kubernetes/admin.conf', f('admin.conf')).replaceAll('/etc/kubernetes/super-admin.conf', f('super-admin.conf')).replaceAll('/etc/kubernetes/pki/', `${f('pki')}/`));
    // An empty working directory: kube-bench's 1.1.8 audit (find $etcdconf -name '*etcd*' inside
    // sh -c '…') loses its quotes, so the glob expands in the working directory.
    mkdirSync(f('cwd'));
    const kb = spawnSync(cachedPath('bin', 'kube-bench'), ['run', '--targets', 'master,etcd,controlplane,node', '--benchmark', 'cis-1.10', '--config-dir', cfg, '--config', join(cfg, 'config.yaml'), '--json', '--include-test-output'], { encoding: 'utf8', cwd: f('cwd'), timeout: 300_000 });
    assert.equal(kb.status, 0, `kube-bench: ${kb.stderr}`);
    const kbResults = new Map<string, { status: string; actual?: string }>();
    for (const ctl of JSON.parse(kb.stdout).Controls) for (const g of ctl.tests) for (const r of g.results) kbResults.set(String(r.test_number), { status: r.status, actual: r.actual_value });

    // Gatehouse on the same processes and files.
    const report = await checkNode({
      processes: [{ pid: api.pid, component: 'kube-apiserver' }, ...fakes.map((x) => ({ pid: x.proc.pid!, component: x.component }))],
      manifestsDir: f('manifests'),
      paths: { pki: f('pki'), adminKubeconfigs: [f('admin.conf')], kubeletServices: [f('kubelet.service')] },
      areas: ['controlplane', 'worker', 'files'],
    });
    assert.deepEqual(report.notes, []);
    const read = (p: string) => parseYaml(readFileSync(new URL(`../../policies/frameworks/cis-kubernetes/${p}`, import.meta.url), 'utf8')).controls as { id: string; checks: string[] }[];
    const ours = new Map(report.results.map((r) => [r.id, r]));
    const rows: string[] = [];
    const unexplained: string[] = [];
    const stale: string[] = [];
    let agree = 0;
    for (const c of [...read('control-plane.yaml'), ...read('worker-node.yaml')]) {
      const theirs = kbResults.get(c.id);
      const mine = c.checks.map((id) => ours.get(id)!).filter(Boolean);
      if (!theirs || mine.length === 0) {
        rows.push(`${c.id.padEnd(7)} kube-bench ${(theirs?.status ?? '-').padEnd(5)} gatehouse ${mine.length ? mine.map((x) => x.status).join(',') : '(no automated check)'}  not compared`);
        continue;
      }
      const status = mine.some((x) => x.status === 'fail') ? 'fail' : mine.some((x) => x.status === 'unknown') ? 'unknown' : mine.every((x) => x.status === 'not-applicable') ? 'not-applicable' : 'pass';
      // kube-bench: PASS; FAIL for a scored failure; WARN for a failed Manual control.
      const same = (theirs.status === 'PASS' && status === 'pass') || (theirs.status === 'FAIL' && status === 'fail') || (theirs.status === 'WARN' && status === 'fail');
      const explained = EXPLAINED[`${s.name}/${c.id}`];
      if (same) agree++;
      if (!same && !explained) unexplained.push(`${s.name}/${c.id}: kube-bench ${theirs.status} (${theirs.actual?.split('\n')[0]?.slice(0, 160) ?? ''}), gatehouse ${status}: ${mine.map((x) => x.reason ?? x.finding?.detail ?? x.evidence[0]).join('; ')}`);
      if (same && explained) stale.push(`${s.name}/${c.id}`);
      rows.push(`${c.id.padEnd(7)} kube-bench ${theirs.status.padEnd(5)} gatehouse ${status.padEnd(14)} ${same ? 'AGREE' : `DIFFER${explained ? ' (explained)' : ''}`}`);
    }
    return { rows, agree, unexplained, stale };
  } finally {
    for (const x of fakes) x.proc.kill('SIGKILL');
    await api?.stop();
    rmSync(t, { recursive: true, force: true });
  }
}

test('kube-bench and gatehouse node check agree on the same node, both ways', { skip: missing(present() && kubeBinariesPresent(), 'kube-bench (.ci/setup.d/68-kube-bench.sh) and kube-apiserver/kine (66-kube.sh)'), timeout: 900_000 }, async () => {
  const runs = [];
  for (const s of [MIXED, FLIPPED]) runs.push({ s, r: await runScenario(s) });
  const byId = new Map<string, string[]>();
  for (const { s, r } of runs) {
    console.log(`# kube-bench differential, node "${s.name}" (CIS 1.10): ${r.agree} agree\n${r.rows.map((x) => `#   ${x}`).join('\n')}`);
    for (const row of r.rows) byId.set(row.split(' ')[0]!, [...(byId.get(row.split(' ')[0]!) ?? []), row]);
  }
  assert.deepEqual(runs.flatMap(({ r }) => r.unexplained), [], 'disagreements not explained in EXPLAINED and docs/notes/node.md');
  assert.deepEqual(runs.flatMap(({ r }) => r.stale), [], 'explained disagreements that now agree');
  for (const { s, r } of runs) assert.ok(r.agree >= 80, `${s.name}: only ${r.agree} checks agree`);
  // Both ways: how many controls were compared passing in one node and failing in the other.
  const both = [...byId.values()].filter((rows) => rows.some((x) => / gatehouse pass .*AGREE/.test(x)) && rows.some((x) => / gatehouse fail .*AGREE/.test(x))).length;
  console.log(`# controls seen agreeing both passing and failing: ${both}`);
  assert.ok(both >= 50, `only ${both} controls compared both ways`);
});
