/**
 * Control-plane, etcd, kubelet and file checks over fixture roots built by the test:
 * static-pod manifests, a kubelet process with a config file, etcd and PKI files with wrong
 * modes and owners, EncryptionConfiguration and audit Policy variants, bare flag lists and
 * kubeadm ClusterConfiguration; bad input is one line, unreadable or missing parts unknown.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNode, parseEncryptionConfig, parseAuditPolicy, assessAuditPolicy } from '../../src/node/index.js';
import { UserError } from '../../src/util/errors.js';
import { cmdline, isRoot, makeRoot } from './fixture.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';

const statusOf = (r: { results: { id: string; status: string }[] }) => Object.fromEntries(r.results.map((x) => [x.id, x.status]));

const pod = (bin: string, args: string[]) => `apiVersion: v1
kind: Pod
metadata: {name: ${bin}, namespace: kube-system}
spec:
  containers:
  - name: ${bin}
    image: registry.k8s.io/${bin}:v1.34.3
    command:
    - ${bin}
${args.map((a) => `    - ${a}`).join('\n')}
`;

const ENC_GOOD = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - aescbc:
          keys: [{name: key1, secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==}]
      - identity: {}
`;
const ENC_IDENTITY_FIRST = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - identity: {}
      - aescbc:
          keys: [{name: key1, secret: c2VjcmV0IGlzIHNlY3VyZSwgb3IgaXMgaXQ/Cg==}]
`;
const AUDIT_CIS = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, configmaps]
      - group: authentication.k8s.io
        resources: [tokenreviews]
  - level: RequestResponse
    resources:
      - group: ""
        resources: [pods, pods/exec, pods/portforward, pods/proxy, services/proxy]
      - group: apps
        resources: [deployments]
  - level: Metadata
`;
const AUDIT_LEAKY = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: RequestResponse
    resources:
      - group: ""
        resources: [secrets]
  - level: None
    resources:
      - group: ""
        resources: [pods/exec]
  - level: Metadata
`;

const GOOD_APISERVER = [
  '--anonymous-auth=false', '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction,EventRateLimit,AlwaysPullImages,DenyServiceExternalIPs',
  '--admission-control-config-file=/etc/kubernetes/admission.yaml', '--profiling=false', '--audit-log-path=/var/log/kubernetes/audit.log', '--audit-log-maxage=30', '--audit-log-maxbackup=10',
  '--audit-log-maxsize=100', '--audit-policy-file=/etc/kubernetes/audit-policy.yaml', '--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt',
  '--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key', '--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt', '--service-account-key-file=/etc/kubernetes/pki/sa.pub',
  '--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt', '--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key', '--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt',
  '--tls-cert-file=/etc/kubernetes/pki/apiserver.crt', '--tls-private-key-file=/etc/kubernetes/pki/apiserver.key', '--client-ca-file=/etc/kubernetes/pki/ca.crt',
  '--encryption-provider-config=/etc/kubernetes/enc.yaml', '--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', '--request-timeout=60s',
];

test('a hardened control plane from static-pod manifests: every 1.2, 1.3, 1.4, 2 and 3.2 check passes', async () => {
  const fx = makeRoot({
    'etc/kubernetes/manifests/kube-apiserver.yaml': { content: pod('kube-apiserver', GOOD_APISERVER), mode: 0o600 },
    'etc/kubernetes/manifests/kube-controller-manager.yaml': { content: pod('kube-controller-manager', ['--profiling=false', '--use-service-account-credentials=true', '--service-account-private-key-file=/etc/kubernetes/pki/sa.key', '--root-ca-file=/etc/kubernetes/pki/ca.crt', '--bind-address=127.0.0.1', '--terminated-pod-gc-threshold=10', '--kubeconfig=/etc/kubernetes/controller-manager.conf']), mode: 0o600 },
    'etc/kubernetes/manifests/kube-scheduler.yaml': { content: pod('kube-scheduler', ['--profiling=false', '--bind-address=127.0.0.1', '--kubeconfig=/etc/kubernetes/scheduler.conf']), mode: 0o600 },
    'etc/kubernetes/manifests/etcd.yaml': { content: pod('etcd', ['--cert-file=/etc/kubernetes/pki/etcd/server.crt', '--key-file=/etc/kubernetes/pki/etcd/server.key', '--client-cert-auth=true', '--peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt', '--peer-key-file=/etc/kubernetes/pki/etcd/peer.key', '--peer-client-cert-auth=true', '--data-dir=/var/lib/etcd', '--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt']), mode: 0o600 },
    'etc/kubernetes/pki/ca.crt': 'cluster CA\n',
    'etc/kubernetes/pki/etcd/ca.crt': 'etcd CA\n',
    'etc/kubernetes/enc.yaml': ENC_GOOD,
    'etc/kubernetes/audit-policy.yaml': AUDIT_CIS,
  });
  try {
    const r = await checkNode({ root: fx.root, noProcesses: true, areas: ['controlplane'] });
    const bad = r.results.filter((x) => x.status !== 'pass');
    assert.deepEqual(bad.map((x) => `${x.id}: ${x.status} ${x.reason ?? x.finding?.detail}`), []);
    assert.equal(r.sources.length, 4);
    const enc = r.results.find((x) => x.id === 'controlplane.apiserver.encryption-providers')!;
    assert.ok(enc.evidence.some((e) => /secrets,configmaps: aescbc → identity/.test(e)), enc.evidence.join('\n'));
  } finally {
    fx.cleanup();
  }
});

test('a weak API server manifest: each weakness fails with the manifest as its file', async () => {
  const fx = makeRoot({
    'etc/kubernetes/manifests/kube-apiserver.yaml': { content: pod('kube-apiserver', ['--token-auth-file=/etc/tokens.csv', '--authorization-mode=AlwaysAllow', '--enable-admission-plugins=AlwaysAdmit', '--disable-admission-plugins=ServiceAccount,NamespaceLifecycle', '--encryption-provider-config=/etc/kubernetes/enc.yaml', '--audit-policy-file=/etc/kubernetes/audit.yaml', '--audit-log-path=/var/log/a.log', '--audit-log-maxage=7', '--tls-cipher-suites=TLS_RSA_WITH_RC4_128_SHA', '--service-account-lookup=false']), mode: 0o644 },
    'etc/kubernetes/enc.yaml': ENC_IDENTITY_FIRST,
    'etc/kubernetes/audit.yaml': AUDIT_LEAKY,
  });
  try {
    const r = await checkNode({ root: fx.root, noProcesses: true, areas: ['controlplane', 'files'] });
    const s = statusOf(r);
    for (const id of ['anonymous-auth', 'token-auth-file', 'authorization-not-always-allow', 'authorization-node', 'authorization-rbac', 'always-admit', 'service-account-plugin', 'namespace-lifecycle', 'node-restriction', 'profiling', 'audit-log-maxage', 'audit-log-maxbackup', 'encryption-providers', 'audit-policy-coverage', 'tls-cipher-suites', 'service-account-lookup', 'tls-cert-file', 'client-ca-file']) {
      assert.equal(s[`controlplane.apiserver.${id}`], 'fail', id);
    }
    assert.equal(s['controlplane.apiserver.encryption-provider-config'], 'pass');
    assert.equal(s['controlplane.apiserver.audit-log-path'], 'pass');
    assert.equal(s['controlplane.apiserver.audit-policy'], 'pass');
    const enc = r.results.find((x) => x.id === 'controlplane.apiserver.encryption-providers')!;
    assert.match(enc.finding!.detail!, /secrets: identity is the first provider/);
    assert.equal(enc.finding!.resource.file?.path, '/etc/kubernetes/enc.yaml');
    const audit = r.results.find((x) => x.id === 'controlplane.apiserver.audit-policy-coverage')!;
    assert.match(audit.finding!.detail!, /get secrets logged at RequestResponse \(CIS wants Metadata\)/);
    assert.match(audit.finding!.detail!, /create pods\/exec logged at None/);
    const anon = r.results.find((x) => x.id === 'controlplane.apiserver.anonymous-auth')!;
    assert.equal(anon.finding!.resource.file?.path, '/etc/kubernetes/manifests/kube-apiserver.yaml');
    assert.match(anon.evidence.join('\n'), /--anonymous-auth not set \(default true\)/);
    assert.equal(anon.finding!.kind, 'misconfiguration');
    assert.deepEqual(anon.finding!.references, ['CIS Kubernetes Benchmark v1.10 1.2.1']);
    // 1.1.1: the manifest is 644.
    assert.equal(s['node.files.apiserver-manifest-mode'], 'fail');
    assert.equal(s['node.files.apiserver-manifest-owner'], 'pass');
    // Components with no source are unknown, with the reason.
    assert.equal(s['controlplane.etcd.client-cert-auth'], 'unknown');
    // Files that do not exist are not applicable.
    assert.equal(s['node.files.etcd-manifest-mode'], 'not-applicable');
  } finally {
    fx.cleanup();
  }
});

test('encryption at rest: no config, unreadable config, invalid config, aesgcm first, secrets not listed', async () => {
  const cases: [string | undefined, string, RegExp][] = [
    [undefined, 'fail', /no --encryption-provider-config/],
    ['kind: Pod\n', 'fail', /expected EncryptionConfiguration/],
    ['apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [configmaps]\n  providers:\n  - secretbox: {keys: [{name: k, secret: x}]}\n', 'fail', /secrets are not listed/],
    ['apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k, secret: x}]}\n', 'fail', /aesgcm is not one CIS recommends/],
    ['apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: ["*.*"]\n  providers:\n  - kms: {apiVersion: v2, name: vault, endpoint: "unix:///kms.sock"}\n  - identity: {}\n', 'pass', /\*\.\*: kms → identity/],
    ['apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc: {}\n', 'fail', /aescbc has no keys/],
  ];
  for (const [enc, want, text] of cases) {
    const fx = makeRoot({
      'etc/flags': `kube-apiserver ${enc !== undefined ? '--encryption-provider-config=/etc/enc.yaml' : ''}\n`,
      ...(enc !== undefined ? { 'etc/enc.yaml': enc } : {}),
    });
    try {
      const r = await checkNode({ root: fx.root, flagFiles: ['/etc/flags'], areas: ['controlplane'] });
      const x = r.results.find((c) => c.id === 'controlplane.apiserver.encryption-providers')!;
      assert.equal(x.status, want, `${enc}: ${x.finding?.detail}`);
      assert.match([...x.evidence, x.finding?.detail ?? ''].join('\n'), text);
    } finally {
      fx.cleanup();
    }
  }
  // A config path that does not exist under the root: unknown, with the reason.
  const fx = makeRoot({ 'etc/flags': 'kube-apiserver\n--encryption-provider-config=/etc/missing.yaml\n--audit-policy-file=/etc/missing-audit.yaml\n' });
  try {
    const s = await checkNode({ root: fx.root, flagFiles: ['/etc/flags'], areas: ['controlplane'] });
    const enc = s.results.find((c) => c.id === 'controlplane.apiserver.encryption-providers')!;
    assert.equal(enc.status, 'unknown');
    assert.match(enc.reason!, /\/etc\/missing\.yaml: does not exist/);
    assert.equal(statusOf(s)['controlplane.apiserver.audit-policy'], 'unknown');
  } finally {
    fx.cleanup();
  }
});

test('CIS 2.7: etcd trusting the cluster CA fails (same file or same certificate); no etcd CA fails; no apiserver is unknown', async () => {
  const cases: [string[], Record<string, string>, string, RegExp][] = [
    [['--trusted-ca-file=/pki/ca.crt'], { 'pki/ca.crt': 'A' }, 'fail', /the same file \/pki\/ca\.crt/],
    [['--trusted-ca-file=/pki/etcd-ca.crt'], { 'pki/ca.crt': 'A\n', 'pki/etcd-ca.crt': 'A' }, 'fail', /hold the same certificate/],
    [['--trusted-ca-file=/pki/etcd-ca.crt'], { 'pki/ca.crt': 'A', 'pki/etcd-ca.crt': 'B' }, 'pass', /trusted-ca-file=\/pki\/etcd-ca\.crt/],
    [[], { 'pki/ca.crt': 'A' }, 'fail', /no --trusted-ca-file/],
    [['--trusted-ca-file=/pki/etcd-ca.crt'], { 'pki/ca.crt': 'A' }, 'unknown', /etcd-ca\.crt: does not exist/],
  ];
  for (const [etcdFlags, files, want, text] of cases) {
    const fx = makeRoot({ ...files, 'api': 'kube-apiserver --client-ca-file=/pki/ca.crt\n', 'etcd': `etcd ${etcdFlags.join(' ')}\n` });
    try {
      const r = await checkNode({ root: fx.root, flagFiles: ['/api', '/etcd'], areas: ['controlplane'] });
      const x = r.results.find((c) => c.id === 'controlplane.etcd.unique-ca')!;
      assert.equal(x.status, want, `${etcdFlags}: ${x.reason ?? x.finding?.detail}`);
      assert.match([x.reason ?? '', x.finding?.detail ?? '', ...x.evidence].join('\n'), text);
    } finally {
      fx.cleanup();
    }
  }
  const fx = makeRoot({ 'etcd': 'etcd --trusted-ca-file=/x\n' });
  try {
    const r = await checkNode({ root: fx.root, flagFiles: ['/etcd'], areas: ['controlplane'] });
    assert.equal(r.results.find((c) => c.id === 'controlplane.etcd.unique-ca')!.status, 'unknown');
  } finally {
    fx.cleanup();
  }
});

test('etcd configured through ETCD_* variables: from the process environment and from the manifest env', async () => {
  const environ = Buffer.from(['PATH=/usr/bin', 'ETCD_CLIENT_CERT_AUTH=true', 'ETCD_CERT_FILE=/pki/server.crt', 'ETCD_KEY_FILE=/pki/server.key', 'ETCD_AUTO_TLS=true', ''].join('\0'));
  const fx = makeRoot({
    'proc/55/cmdline': cmdline('/usr/local/bin/etcd', '--peer-auto-tls=false'),
    'proc/55/environ': environ,
    'etc/kubernetes/manifests/etcd.yaml': `apiVersion: v1
kind: Pod
metadata: {name: etcd}
spec:
  containers:
  - name: etcd
    image: etcd
    command: [etcd]
    env:
    - {name: ETCD_PEER_CLIENT_CERT_AUTH, value: "true"}
    - {name: ETCD_CLIENT_CERT_AUTH, value: "false"}
`,
  });
  try {
    const r = await checkNode({ root: fx.root, areas: ['controlplane'] });
    const get = (id: string) => r.results.find((x) => x.id === `controlplane.etcd.${id}`)!;
    // The process says true, the manifest false: the worst wins, and the evidence shows both.
    assert.equal(get('client-cert-auth').status, 'fail');
    assert.match(get('client-cert-auth').evidence.join('\n'), /etcd pid 55: ETCD_CLIENT_CERT_AUTH=true \(environment\)/);
    assert.match(get('client-cert-auth').evidence.join('\n'), /etcd manifest .*etcd\.yaml: ETCD_CLIENT_CERT_AUTH=false \(environment\)/);
    assert.equal(get('auto-tls').status, 'fail');
    assert.equal(get('peer-auto-tls').status, 'pass');
    const certs = get('cert-file');
    assert.equal(certs.status, 'fail', 'the manifest has no certificate');
    assert.match(certs.evidence.join('\n'), /etcd pid 55: ETCD_CERT_FILE=\/pki\/server\.crt/);
  } finally {
    fx.cleanup();
  }
});

test('audit policy: first matching rule wins; narrowed rules do not count for everyone', () => {
  const rules = parseAuditPolicy(`apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    users: ["system:kube-proxy"]
  - level: Metadata
    resources: [{group: "", resources: ["secrets", "configmaps"]}, {group: authentication.k8s.io, resources: [tokenreviews]}]
  - level: Request
    verbs: [create, update, patch, delete]
    resources: [{group: ""}, {group: apps}]
  - level: Metadata
    resources: [{group: "", resources: ["pods/*", "services/proxy"]}]
  - level: Metadata
    omitStages: [RequestReceived]
`);
  const a = assessAuditPolicy(rules);
  assert.deepEqual(a.filter((x) => !x.ok), []);
  assert.equal(a.find((x) => x.request === 'create pods/exec')!.level, 'Request');
  assert.equal(a.find((x) => x.request === 'get pods/proxy')!.level, 'Metadata');
  assert.throws(() => parseAuditPolicy('kind: Policy\nrules: []\n'), /no rules/);
  assert.throws(() => parseAuditPolicy('kind: Policy\nrules: [{level: Everything}]\n'), /level "Everything"/);
  assert.throws(() => parseEncryptionConfig('kind: EncryptionConfiguration\n'), /no resources/);
});

test('kubelet: a process with a config file; config defaults differ from flag defaults; flags override the file', async () => {
  const fx = makeRoot({
    'proc/100/cmdline': cmdline('/usr/bin/kubelet', '--config=/var/lib/kubelet/config.yaml', '--kubeconfig=/etc/kubernetes/kubelet.conf', '--read-only-port=10255'),
    'var/lib/kubelet/config.yaml': { content: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}\n  webhook: {enabled: true}\nrotateCertificates: true\nstreamingConnectionIdleTimeout: 0s\nfeatureGates: {RotateKubeletServerCertificate: false}\n', mode: 0o644 },
    'etc/kubernetes/kubelet.conf': { content: 'apiVersion: v1\nkind: Config\n', mode: 0o600 },
    'etc/kubernetes/pki/ca.crt': { content: 'x', mode: 0o644 },
    'etc/systemd/system/kubelet.service.d/10-kubeadm.conf': { content: '[Service]\n', mode: 0o644, uid: 1000 },
  });
  try {
    const r = await checkNode({ root: fx.root, areas: ['worker', 'files'] });
    const s = statusOf(r);
    assert.equal(s['node.kubelet.anonymous-auth'], 'pass', 'config default: anonymous off');
    assert.match(r.results.find((x) => x.id === 'node.kubelet.anonymous-auth')!.evidence.join(), /config default false/);
    assert.equal(s['node.kubelet.authorization-mode'], 'pass', 'config default: Webhook');
    assert.equal(s['node.kubelet.client-ca-file'], 'pass');
    assert.equal(s['node.kubelet.read-only-port'], 'fail', 'the flag overrides the config');
    assert.equal(s['node.kubelet.streaming-connection-idle-timeout'], 'fail');
    assert.equal(s['node.kubelet.rotate-certificates'], 'pass');
    assert.equal(s['node.kubelet.rotate-server-certificates'], 'fail');
    assert.equal(s['node.kubelet.protect-kernel-defaults'], 'fail');
    assert.equal(s['node.files.kubelet-config-mode'], 'fail');
    assert.equal(s['node.files.kubelet-config-owner'], 'pass');
    assert.equal(s['node.files.kubelet-kubeconfig-mode'], 'pass');
    assert.equal(s['node.files.kubelet-client-ca-mode'], 'fail');
    assert.equal(s['node.files.kubelet-service-mode'], 'fail');
    assert.equal(s['node.files.kubelet-service-owner'], isRoot ? 'fail' : 'pass');
    assert.equal(s['node.kube-proxy.metrics-bind-address'], 'unknown');
    // A kubelet without --config: flag defaults (anonymous on, AlwaysAllow, read-only port 10255).
    const fx2 = makeRoot({ 'proc/7/cmdline': cmdline('kubelet', '--kubeconfig=/etc/kubernetes/kubelet.conf') });
    try {
      const s2 = statusOf(await checkNode({ root: fx2.root, areas: ['worker'] }));
      assert.deepEqual([s2['node.kubelet.anonymous-auth'], s2['node.kubelet.authorization-mode'], s2['node.kubelet.read-only-port']], ['fail', 'fail', 'fail']);
    } finally {
      fx2.cleanup();
    }
  } finally {
    fx.cleanup();
  }
});

test('kubelet --config-dir drop-ins override the config file in name order; kube-proxy --config is read', async () => {
  const fx = makeRoot({
    'proc/8/cmdline': cmdline('kubelet', '--config=/var/lib/kubelet/config.yaml', '--config-dir=/etc/kubernetes/kubelet.conf.d'),
    'proc/9/cmdline': cmdline('/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf'),
    'var/lib/kubelet/config.yaml': 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication: {anonymous: {enabled: false}}\nreadOnlyPort: 0\n',
    'etc/kubernetes/kubelet.conf.d/10-a.conf': 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication: {anonymous: {enabled: true}}\n',
    'etc/kubernetes/kubelet.conf.d/20-b.conf': '{"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration", "readOnlyPort": 10255, "authentication": {"anonymous": {"enabled": false}}}',
    'etc/kubernetes/kubelet.conf.d/README': 'not a drop-in',
    'var/lib/kube-proxy/config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\n',
  });
  try {
    const r = await checkNode({ root: fx.root, areas: ['worker'] });
    const get = (id: string) => r.results.find((x) => x.id === id)!;
    assert.equal(get('node.kubelet.anonymous-auth').status, 'pass');
    assert.match(get('node.kubelet.anonymous-auth').evidence.join(), /20-b\.conf: authentication\.anonymous\.enabled: false/);
    assert.equal(get('node.kubelet.read-only-port').status, 'fail');
    assert.match(get('node.kubelet.read-only-port').evidence.join(), /20-b\.conf: readOnlyPort: 10255/);
    assert.equal(get('node.kube-proxy.metrics-bind-address').status, 'fail');
    assert.match(get('node.kube-proxy.metrics-bind-address').evidence.join(), /config\.conf: metricsBindAddress: 0\.0\.0\.0:10249/);
  } finally {
    fx.cleanup();
  }
  const broken = makeRoot({ 'proc/8/cmdline': cmdline('kubelet', '--config=/var/lib/kubelet/config.yaml'), 'var/lib/kubelet/config.yaml': 'kind: Pod\n' });
  try {
    const r = await checkNode({ root: broken.root, areas: ['worker'] });
    const anon = r.results.find((x) => x.id === 'node.kubelet.anonymous-auth')!;
    assert.equal(anon.status, 'unknown');
    assert.match(anon.reason!, /kind is "Pod", expected KubeletConfiguration/);
  } finally {
    broken.cleanup();
  }
});

test('etcd and PKI files with wrong modes and owners', { skip: missing(isRoot, 'running as root (chown of fixture files)') }, async () => {
  const fx = makeRoot({
    'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\netcd:x:998:998::/var/lib/etcd:/usr/sbin/nologin\n',
    'etc/group': 'root:x:0:\netcd:x:998:\n',
    'etc/kubernetes/manifests/etcd.yaml': { content: pod('etcd', ['--data-dir=/var/lib/etcd-data', '--auto-tls=true', '--peer-auto-tls=true']), mode: 0o600, uid: 998, gid: 998 },
    'var/lib/etcd-data/member/snap/db': { content: 'x', mode: 0o600 },
    'var/lib/etcd-data': { dir: true, mode: 0o755, uid: 998, gid: 998 },
    'etc/kubernetes/pki/ca.crt': { content: 'c', mode: 0o644 },
    'etc/kubernetes/pki/ca.key': { content: 'k', mode: 0o640 },
    'etc/kubernetes/pki/etcd/server.key': { content: 'k', mode: 0o600, uid: 1000 },
    'etc/kubernetes/admin.conf': { content: 'a', mode: 0o644 },
    'etc/kubernetes/scheduler.conf': { content: 's', mode: 0o600, uid: 0, gid: 998 },
    'etc/kubernetes/controller-manager.conf': { content: 'c', mode: 0o600 },
    'etc/cni/net.d/10-flannel.conflist': { content: '{}', mode: 0o644 },
  });
  try {
    const r = await checkNode({ root: fx.root, noProcesses: true, areas: ['controlplane', 'files'] });
    const s = statusOf(r);
    assert.equal(s['node.files.etcd-manifest-mode'], 'pass');
    assert.equal(s['node.files.etcd-manifest-owner'], 'fail');
    assert.match(r.results.find((x) => x.id === 'node.files.etcd-manifest-owner')!.finding!.detail!, /owner etcd:etcd \(CIS wants root:root\)/);
    assert.equal(s['node.files.etcd-data-dir-mode'], 'fail');
    assert.match(r.results.find((x) => x.id === 'node.files.etcd-data-dir-mode')!.finding!.detail!, /\/var\/lib\/etcd-data: mode 755 \(CIS wants 700/);
    assert.equal(s['node.files.etcd-data-dir-owner'], 'pass');
    assert.equal(s['node.files.pki-owner'], 'fail');
    assert.match(r.results.find((x) => x.id === 'node.files.pki-owner')!.finding!.detail!, /etcd\/server\.key: owner 1000:root/);
    assert.equal(s['node.files.pki-cert-mode'], 'fail');
    assert.equal(s['node.files.pki-key-mode'], 'fail');
    assert.equal(s['node.files.admin-kubeconfig-mode'], 'fail');
    assert.equal(s['node.files.scheduler-kubeconfig-owner'], 'fail');
    assert.equal(s['node.files.controller-manager-kubeconfig-mode'], 'pass');
    assert.equal(s['node.files.cni-mode'], 'fail');
    assert.equal(s['controlplane.etcd.auto-tls'], 'fail');
    assert.equal(s['controlplane.etcd.peer-auto-tls'], 'fail');
    assert.equal(s['controlplane.etcd.client-cert-auth'], 'fail');
  } finally {
    fx.cleanup();
  }
});

test('kubeadm ClusterConfiguration: kubeadm-written flags plus extraArgs (v1beta3 map and v1beta4 list)', async () => {
  const v3 = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.34.3
apiServer:
  extraArgs:
    anonymous-auth: "false"
    profiling: "false"
    audit-log-path: /var/log/kubernetes/audit.log
controllerManager:
  extraArgs:
    profiling: "false"
etcd:
  local:
    dataDir: /var/lib/etcd
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
`;
  const v4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
    - name: authorization-mode
      value: AlwaysAllow
    - name: enable-admission-plugins
      value: NodeRestriction,AlwaysPullImages
`;
  const fx = makeRoot({ 'etc/kubeadm-v3.yaml': v3, 'etc/kubeadm-v4.yaml': v4 });
  try {
    const r3 = await checkNode({ root: fx.root, kubeadmConfig: '/etc/kubeadm-v3.yaml', areas: ['controlplane'] });
    const s3 = statusOf(r3);
    assert.equal(s3['controlplane.apiserver.anonymous-auth'], 'pass');
    assert.equal(s3['controlplane.apiserver.authorization-rbac'], 'pass', 'kubeadm writes Node,RBAC');
    assert.match(r3.results.find((x) => x.id === 'controlplane.apiserver.authorization-rbac')!.evidence.join(), /written by kubeadm/);
    assert.equal(s3['controlplane.apiserver.node-restriction'], 'pass');
    assert.equal(s3['controlplane.apiserver.audit-log-path'], 'pass');
    assert.equal(s3['controlplane.apiserver.encryption-provider-config'], 'fail');
    assert.equal(s3['controlplane.apiserver.kubelet-certificate-authority'], 'fail', 'kubeadm does not set it');
    assert.equal(s3['controlplane.controller-manager.profiling'], 'pass');
    assert.equal(s3['controlplane.scheduler.profiling'], 'fail');
    assert.equal(s3['controlplane.etcd.client-cert-auth'], 'pass');
    const s4 = statusOf(await checkNode({ root: fx.root, kubeadmConfig: '/etc/kubeadm-v4.yaml', areas: ['controlplane'] }));
    assert.equal(s4['controlplane.apiserver.authorization-not-always-allow'], 'fail');
    assert.equal(s4['controlplane.apiserver.always-pull-images'], 'pass');
  } finally {
    fx.cleanup();
  }
});

test('bare flag lists: one line, one flag per line, component=FILE; bad input is a UserError', async () => {
  const fx = makeRoot({
    'one-line': 'kube-apiserver --anonymous-auth=false --profiling=false --authorization-mode Node,RBAC\n',
    // pflag: a boolean flag takes its value only after "="; "false" here is a positional word.
    'bool-space': 'kube-controller-manager --profiling false\n',
    'per-line': '# scheduler flags\n--profiling=false\n--bind-address=127.0.0.1\n',
    'unnamed': '--profiling=false\n',
    'not-a-component': 'nginx --x=1\n',
    'kubeadm-bad.yaml': 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServerr: {}\n',
    'kubeadm-none.yaml': 'apiVersion: v1\nkind: Pod\n',
  });
  try {
    const r = await checkNode({ root: fx.root, flagFiles: ['/one-line', 'kube-scheduler=/per-line'], areas: ['controlplane'] });
    const s = statusOf(r);
    assert.equal(s['controlplane.apiserver.anonymous-auth'], 'pass');
    assert.equal(s['controlplane.apiserver.profiling'], 'pass');
    assert.equal(s['controlplane.apiserver.authorization-rbac'], 'pass');
    assert.equal(s['controlplane.scheduler.profiling'], 'pass');
    assert.equal(s['controlplane.scheduler.bind-address'], 'pass');
    const b = await checkNode({ root: fx.root, flagFiles: ['/bool-space'], areas: ['controlplane'] });
    assert.equal(statusOf(b)['controlplane.controller-manager.profiling'], 'fail');
    const rejects = async (o: object, re: RegExp) => {
      await assert.rejects(checkNode({ root: fx.root, ...o }), (e: unknown) => e instanceof UserError && re.test(e.message) && !e.message.includes('\n'));
    };
    await rejects({ flagFiles: ['/unnamed'] }, /cannot tell which component/);
    await rejects({ flagFiles: ['/not-a-component'] }, /"nginx" is not a Kubernetes component/);
    await rejects({ flagFiles: ['/missing'] }, /--flags: \/missing: does not exist/);
    await rejects({ kubeadmConfig: '/kubeadm-bad.yaml' }, /unknown ClusterConfiguration field "apiServerr"/);
    await rejects({ kubeadmConfig: '/kubeadm-none.yaml' }, /no ClusterConfiguration document/);
    await rejects({ manifestsDir: '/nope' }, /--manifests: \/nope: does not exist/);
  } finally {
    fx.cleanup();
  }
});

test('CLI: json carries every result, sarif the failures, --severity filters; bad input is one line', async () => {
  const fx = makeRoot({ 'flags': 'kube-apiserver --authorization-mode=AlwaysAllow --anonymous-auth=true\n' });
  try {
    const json = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const out = JSON.parse(json.stdout);
    assert.equal(out.command, 'node check');
    assert.ok(out.results.length > 40);
    assert.ok(out.findings.every((f: any) => f.kind === 'misconfiguration' && f.fingerprint));
    assert.ok(out.findings.some((f: any) => f.id === 'controlplane.apiserver.authorization-not-always-allow' && f.severity === 'CRITICAL'));
    const crit = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--format', 'json', '--severity', 'CRITICAL', '--exit-code', '3']);
    assert.equal(crit.code, 3);
    assert.deepEqual([...new Set(JSON.parse(crit.stdout).findings.map((f: any) => f.severity))], ['CRITICAL']);
    const sarif = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--format', 'sarif']);
    const doc = JSON.parse(sarif.stdout);
    assert.equal(doc.version, '2.1.0');
    assert.ok(doc.runs[0].results.some((x: any) => x.ruleId === 'controlplane.apiserver.anonymous-auth'));
    const badPid = await runCli(['node', 'check', '--pid', '1:kube-apiservr']);
    assert.equal(badPid.code, 2);
    assert.match(badPid.stderr, /^gatehouse: --pid 1:kube-apiservr: unknown component "kube-apiservr"/);
    const bad = await runCli(['node', 'check', '--root', fx.root, '--kubeadm-config', '/nope.yaml']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'gatehouse: --kubeadm-config: /nope.yaml: does not exist\n');
  } finally {
    fx.cleanup();
  }
});
