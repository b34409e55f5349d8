/**
 * Deployment risk on real manifests: Google's microservices-demo (non-root Deployments behind
 * ClusterIP Services), np-guard's NetworkPolicies for it, real kube-system DaemonSet pods
 * (kube-proxy: privileged, hostNetwork; IBM's fluentd: hostPath / and the Docker socket),
 * Argo CD's RBAC, and a container created on the real podman socket for the plain-host adapter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadManifests } from '../../src/kube/manifests.js';
import { loadRbacRisks, type RbacRisk } from '../../src/kube/rbac/risks.js';
import { prepareCluster, scoreDeployment, type ClusterObjects, type DeploymentRiskInput, type RiskScore } from '../../src/central/risk/index.js';
import { UserError } from '../../src/util/errors.js';
import { missing, podmanSocket } from '../helpers/components.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const npGuard = join(repoRoot, '..', 'shared', 'reference', 'netpol-analyzer', 'tests');
type Json = Record<string, any>;

async function raw(path: string): Promise<Json[]> {
  return (await loadManifests([path])).objects.map((o) => o.raw);
}
const named = (objs: Json[], kind: string, name: string): Json => {
  const o = objs.find((x) => (x.kind ?? kind) === kind && x.metadata?.name === name);
  assert.ok(o, `${kind} ${name} in the fixture`);
  return structuredClone(o);
};

const rbacRisks: RbacRisk[] = await loadRbacRisks();
const demo = await raw(join(repoRoot, 'test/netpol/fixtures/microservices-demo-kubernetes-manifests.yaml'));
const boutiqueNetpols = await raw(join(npGuard, 'onlineboutique_workloads/netpols.yaml'));
const ibmPods = await raw(join(npGuard, 'ipblockstest/pods.yaml'));
const gkePods = await raw(join(npGuard, 'services/pods_list.yaml'));
const argoRbac = await raw(join(repoRoot, 'test/kube/fixtures/rbac/argocd-install-rbac.yaml'));

const ofKind = (objs: Json[], kind: string) => objs.filter((o) => o.kind === kind);
const demoObjects: ClusterObjects = {
  services: ofKind(demo, 'Service'),
  serviceAccounts: ofKind(demo, 'ServiceAccount'),
  networkPolicies: boutiqueNetpols,
};

/** The invariant that makes the list an explanation: the factors multiply to the score and their shares add up. */
function assertExplains(r: RiskScore): void {
  const product = r.factors.reduce((p, f) => p * f.score, 1);
  assert.ok(Math.abs(product - r.score) < 1e-9 * r.score, `factors multiply to the score (${product} vs ${r.score})`);
  const total = r.factors.reduce((s, f) => s + f.contribution, 0);
  assert.ok(Math.abs(total - (r.score > 1 ? 1 : 0)) < 1e-9, `contributions add up (${total})`);
  for (const f of r.factors) {
    assert.ok(f.score >= 1, `${f.name} multiplier ≥ 1`);
    assert.ok(Math.abs(f.contribution - (r.score > 1 ? Math.log(f.score) / Math.log(r.score) : 0)) < 1e-9, `${f.name} share`);
    assert.equal(f.score > 1, f.details.length > 0, `${f.name}: a multiplier above 1 has its reasons, and only then`);
  }
  for (let i = 1; i < r.factors.length; i++) assert.ok(r.factors[i - 1]!.contribution >= r.factors[i]!.contribution, 'highest share first');
}

const factor = (r: RiskScore, name: string) => {
  const f = r.factors.find((x) => x.name === name);
  assert.ok(f, `factor ${name}`);
  return f;
};
const hasDetail = (r: RiskScore, name: string, re: RegExp) =>
  assert.ok(factor(r, name).details.some((d) => re.test(d)), `${name} details ${JSON.stringify(factor(r, name).details)} name ${re}`);

/** IBM's real fluentd DaemonSet pod spec (hostPath /, the Docker socket), as a DaemonSet, made privileged. */
function privilegedFluentdDaemonSet(): Json {
  const pod = named(ibmPods, 'Pod', 'ibm-kube-fluentd-2qw2g');
  pod.spec.containers[0].securityContext = { ...pod.spec.containers[0].securityContext, privileged: true };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'ibm-kube-fluentd', namespace: 'kube-system' },
    spec: { selector: { matchLabels: { app: 'ibm-kube-fluentd' } }, template: { metadata: { labels: { app: 'ibm-kube-fluentd' } }, spec: pod.spec } },
  };
}

describe('deployment risk on real manifests', () => {
  const adservice = named(demo, 'Deployment', 'adservice');

  test('a privileged DaemonSet with hostPath / behind a LoadBalancer ranks above a non-root Deployment behind a ClusterIP with a NetworkPolicy', () => {
    // microservices-demo's real frontend-external LoadBalancer, pointed at the DaemonSet's pods.
    const lb = named(demo, 'Service', 'frontend-external');
    lb.metadata.namespace = 'kube-system';
    lb.spec.selector = { app: 'ibm-kube-fluentd' };
    const cluster = prepareCluster({ ...demoObjects, services: [...demoObjects.services!, lb] }, { rbacRisks });
    const risky = scoreDeployment({ workload: privilegedFluentdDaemonSet(), cluster });
    const safe = scoreDeployment({ workload: adservice, cluster });
    assertExplains(risky);
    assertExplains(safe);
    assert.ok(risky.score > safe.score, `${risky.score} > ${safe.score}`);
    hasDetail(risky, 'privileges', /^privileged container 'fluentd'$/);
    hasDetail(risky, 'privileges', /^hostPath \/ mounted read-only in container 'fluentd' \(sensitive host path\)$/);
    hasDetail(risky, 'privileges', /^hostPath \/var\/run\/docker\.sock .*sensitive/);
    hasDetail(risky, 'privileges', /container 'fluentd' may run as root/);
    hasDetail(risky, 'exposure', /^Service frontend-external \(LoadBalancer\)$/);
    // IBM's pod runs on the node's network, where NetworkPolicies do not reach.
    hasDetail(risky, 'exposure', /^hostNetwork/);
    hasDetail(risky, 'exposure', /^no NetworkPolicy isolation: NetworkPolicies do not apply to hostNetwork pods$/);
    // adservice: runAsNonRoot, user 1000, no escalation; its own ClusterIP Service; np-guard's adservice-netpol isolates it.
    assert.deepEqual(factor(safe, 'privileges').details, []);
    assert.deepEqual(factor(safe, 'exposure').details, ['Service adservice (ClusterIP)']);
    assert.equal(factor(risky, 'privileges').contribution > factor(risky, 'exposure').contribution, true, 'privileges explain more of the DaemonSet than exposure');
  });

  test('the NetworkPolicy decides isolation: without np-guard\'s policies adservice is open and scores higher', () => {
    const isolated = scoreDeployment({ workload: adservice, cluster: prepareCluster(demoObjects, { rbacRisks }) });
    const open = scoreDeployment({ workload: adservice, cluster: prepareCluster({ ...demoObjects, networkPolicies: [] }, { rbacRisks }) });
    assert.ok(open.score > isolated.score);
    hasDetail(open, 'exposure', /^no NetworkPolicy isolates ingress to the pods$/);
    // frontend-netpol admits ingress from anywhere but still selects (isolates) frontend: only its Services count.
    const frontend = scoreDeployment({ workload: named(demo, 'Deployment', 'frontend'), cluster: prepareCluster(demoObjects, { rbacRisks }) });
    assert.deepEqual(factor(frontend, 'exposure').details.sort(), ['Service frontend (ClusterIP)', 'Service frontend-external (LoadBalancer)']);
  });

  test('real kube-system DaemonSet pods rank above the demo Deployment, with their causes', () => {
    const cluster = prepareCluster(demoObjects, { rbacRisks });
    const safe = scoreDeployment({ workload: adservice, cluster });
    const proxy = scoreDeployment({ workload: named(gkePods, 'Pod', 'kube-proxy-tvq9q'), cluster });
    const fluentd = scoreDeployment({ workload: named(ibmPods, 'Pod', 'ibm-kube-fluentd-2qw2g'), cluster });
    for (const r of [proxy, fluentd]) {
      assertExplains(r);
      assert.ok(r.score > safe.score);
    }
    hasDetail(proxy, 'privileges', /^privileged container 'kube-proxy'$/);
    hasDetail(proxy, 'exposure', /^hostNetwork/);
    hasDetail(proxy, 'exposure', /NetworkPolicies do not apply to hostNetwork pods/);
    hasDetail(fluentd, 'privileges', /^hostPath \/ mounted/);
    assert.ok(!factor(fluentd, 'privileges').details.some((d) => d.startsWith('privileged')), 'the real fluentd pod is not privileged');
  });

  test("service-account rights come from rbac analyze's catalog over Argo CD's real RBAC, only when the token is mounted", () => {
    const cluster = prepareCluster({ ...argoRbac.reduce<ClusterObjects>((acc, o) => {
      const key = ({ Role: 'roles', ClusterRole: 'clusterRoles', RoleBinding: 'roleBindings', ClusterRoleBinding: 'clusterRoleBindings', ServiceAccount: 'serviceAccounts' } as const)[o.kind as 'Role'];
      if (key) (acc[key] ??= []).push(o);
      return acc;
    }, {}) }, { rbacRisks });
    const controller = (automount?: boolean): Json => ({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name: 'argocd-application-controller', namespace: 'argocd' },
      spec: { template: { metadata: { labels: { app: 'c' } }, spec: { serviceAccountName: 'argocd-application-controller', ...(automount === undefined ? {} : { automountServiceAccountToken: automount }), containers: [{ name: 'c', securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false } }] } } },
    });
    const mounted = scoreDeployment({ workload: controller(), cluster });
    assertExplains(mounted);
    hasDetail(mounted, 'privileges', /^service account argocd\/argocd-application-controller: Wildcard in role rule \(HIGH, via ClusterRoleBinding argocd-application-controller → ClusterRole argocd-application-controller/);
    hasDetail(mounted, 'privileges', /^service account argocd\/argocd-application-controller: Can read Secrets/);
    const unmounted = scoreDeployment({ workload: controller(false), cluster });
    assert.deepEqual(factor(unmounted, 'privileges').details, []);
    assert.ok(mounted.score > unmounted.score);
    // The repo server's account holds no risky right in Argo CD's RBAC.
    const repo = controller();
    repo.spec.template.spec.serviceAccountName = 'argocd-repo-server';
    assert.deepEqual(factor(scoreDeployment({ workload: repo, cluster }), 'privileges').details, []);
  });

  test('raw cluster objects are prepared on the spot (with the catalog) and give the same score', () => {
    const prepared = scoreDeployment({ workload: adservice, cluster: prepareCluster(demoObjects, { rbacRisks }) });
    const onTheSpot = scoreDeployment({ workload: adservice, cluster: demoObjects }, { rbacRisks });
    assert.deepEqual(onTheSpot, prepared);
    assert.throws(() => scoreDeployment({ workload: adservice, cluster: { clusterRoles: [{ metadata: { name: 'x' }, rules: [] }] } }), (e: unknown) => e instanceof UserError && /rbacRisks/.test(e.message));
  });

  test('images, vulnerabilities and runtime: each named in its factor', () => {
    const now = new Date('2026-12-01T00:00:00Z');
    const r = scoreDeployment({
      workload: adservice,
      now,
      images: [
        { digest: 'sha256:aa', name: 'adservice:v0.10.6', created: '2026-01-01T00:00:00Z', signed: false, secrets: 2, vulns: { critical: 1, high: 3, medium: 0, low: 4, fixable: 2, knownExploited: 1 } },
        { digest: 'sha256:bb', created: '2026-11-20T00:00:00Z', signed: true, vulns: {} },
      ],
      runtime: { alerts: { critical: 1, low: 2 }, incidents: 1 },
    });
    assertExplains(r);
    assert.deepEqual(factor(r, 'vulnerabilities').details, ['image adservice:v0.10.6: 1 critical, 3 high, 4 low (2 fixable, 1 known exploited)']);
    assert.deepEqual(factor(r, 'image').details, ['image adservice:v0.10.6 is 334 days old', 'image adservice:v0.10.6 is not signed', 'image adservice:v0.10.6 contains 2 secrets', '2 images']);
    assert.deepEqual(factor(r, 'runtime').details, ['1 critical runtime alert', '2 low runtime alerts', '1 open incident']);
    // No cluster objects: nothing is claimed about Services, RBAC or isolation.
    assert.deepEqual(factor(r, 'exposure').details, []);
  });

  test('input that is no workload is a one-line UserError', () => {
    for (const bad of [null, 42, { foo: 1 }, { kind: 'ConfigMap', metadata: { name: 'x' } }]) {
      assert.throws(() => scoreDeployment({ workload: bad }), (e: unknown) => e instanceof UserError && !e.message.includes('\n'));
    }
  });
});

/** Deterministic PRNG (mulberry32), so a failing variation can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Variation {
  input: DeploymentRiskInput;
  objects: ClusterObjects;
}

/** One added risk: what it changes, and which factor must show it. */
const ADDITIONS: { name: string; factor: string; detail: RegExp; apply(v: Variation): void }[] = [
  { name: 'privileged', factor: 'privileges', detail: /^privileged container 'server'$/, apply: (v) => (container(v).securityContext.privileged = true) },
  { name: 'SYS_ADMIN', factor: 'privileges', detail: /^capability SYS_ADMIN added/, apply: (v) => ((container(v).securityContext.capabilities ??= {}).add ??= []).push('SYS_ADMIN') },
  { name: 'NET_RAW', factor: 'privileges', detail: /^capability NET_RAW added/, apply: (v) => ((container(v).securityContext.capabilities ??= {}).add ??= []).push('NET_RAW') },
  { name: 'hostPath /etc', factor: 'privileges', detail: /^hostPath \/etc mounted read-write/, apply: (v) => mountHost(v, '/etc') },
  { name: 'hostPath /data', factor: 'privileges', detail: /^hostPath \/data mounted/, apply: (v) => mountHost(v, '/data') },
  { name: 'root user', factor: 'privileges', detail: /runs as root \(user 0\)/, apply: (v) => (container(v).securityContext.runAsUser = 0) },
  { name: 'escalation', factor: 'privileges', detail: /allows privilege escalation|^privileged container/, apply: (v) => (container(v).securityContext.allowPrivilegeEscalation = true) },
  { name: 'hostPID', factor: 'privileges', detail: /^hostPID/, apply: (v) => (podSpec(v).hostPID = true) },
  {
    name: 'cluster-admin binding', factor: 'privileges', detail: /Bound to cluster-admin/,
    apply: (v) => (v.objects.clusterRoleBindings ??= []).push({ metadata: { name: `b${v.objects.clusterRoleBindings.length}` }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'adservice', namespace: 'default' }] }),
  },
  { name: 'hostNetwork', factor: 'exposure', detail: /^hostNetwork/, apply: (v) => (podSpec(v).hostNetwork = true) },
  { name: 'hostPort', factor: 'exposure', detail: /^hostPort 9555/, apply: (v) => (container(v).ports[0].hostPort = 9555) },
  { name: 'LoadBalancer', factor: 'exposure', detail: /\(LoadBalancer\)$/, apply: (v) => addService(v, 'LoadBalancer') },
  { name: 'NodePort', factor: 'exposure', detail: /\(NodePort\)$/, apply: (v) => addService(v, 'NodePort') },
  {
    name: 'Ingress', factor: 'exposure', detail: /^Ingress .* routes to Service adservice$/,
    apply: (v) => (v.objects.ingresses ??= []).push({ metadata: { name: `ing${v.objects.ingresses.length}`, namespace: 'default' }, spec: { defaultBackend: { service: { name: 'adservice', port: { number: 9555 } } } } }),
  },
  { name: 'no NetworkPolicy', factor: 'exposure', detail: /^no NetworkPolicy isolat/, apply: (v) => (v.objects.networkPolicies = []) },
  { name: 'critical vuln', factor: 'vulnerabilities', detail: /critical/, apply: (v) => bump(vulns(v), 'critical') },
  { name: 'low vuln', factor: 'vulnerabilities', detail: /low/, apply: (v) => bump(vulns(v), 'low') },
  { name: 'fixable', factor: 'vulnerabilities', detail: /fixable/, apply: (v) => (bump(vulns(v), 'high'), bump(vulns(v), 'fixable')) },
  { name: 'known exploited', factor: 'vulnerabilities', detail: /known exploited/, apply: (v) => (bump(vulns(v), 'critical'), bump(vulns(v), 'knownExploited')) },
  { name: 'alert', factor: 'runtime', detail: /high runtime alert/, apply: (v) => bump((v.input.runtime ??= {}).alerts ??= {}, 'high') },
  { name: 'incident', factor: 'runtime', detail: /open incident/, apply: (v) => (v.input.runtime = { ...v.input.runtime, incidents: (v.input.runtime?.incidents ?? 0) + 1 }) },
  { name: 'older image', factor: 'image', detail: /days old/, apply: (v) => (image(v).created = new Date(Date.parse(image(v).created ?? '2026-11-01T00:00:00Z') - 120 * 86_400_000).toISOString()) },
  { name: 'unsigned', factor: 'image', detail: /not signed/, apply: (v) => (image(v).signed = false) },
  { name: 'secret', factor: 'image', detail: /contains \d+ secrets?/, apply: (v) => (image(v).secrets = (image(v).secrets ?? 0) + 1) },
  { name: 'another image', factor: 'image', detail: /^\d+ images$/, apply: (v) => v.input.images!.push({ digest: `sha256:${v.input.images!.length}`, vulns: {} }) },
];

const podSpec = (v: Variation): Json => (v.input.workload as Json).spec.template.spec;
const container = (v: Variation): Json => podSpec(v).containers[0];
const image = (v: Variation) => v.input.images![0]!;
const vulns = (v: Variation) => (image(v).vulns ??= {}) as Record<string, number | undefined>;
const bump = (o: Record<string, number | undefined>, k: string) => (o[k] = (o[k] ?? 0) + 1);
function mountHost(v: Variation, path: string): void {
  const name = `host${podSpec(v).volumes?.length ?? 0}`;
  (podSpec(v).volumes ??= []).push({ name, hostPath: { path } });
  (container(v).volumeMounts ??= []).push({ name, mountPath: `/mnt/${name}` });
}
function addService(v: Variation, type: string): void {
  v.objects.services!.push({ metadata: { name: `svc${v.objects.services!.length}`, namespace: 'default' }, spec: { type, selector: { app: 'adservice' }, ports: [{ port: 9555 }] } });
}

describe('risk ordering is monotonic in added risks (generated variations of adservice)', () => {
  const base = (): Variation => ({
    input: { workload: named(demo, 'Deployment', 'adservice'), images: [{ digest: 'sha256:base', created: '2026-11-01T00:00:00Z', vulns: {} }], runtime: {}, now: new Date('2026-12-01T00:00:00Z') },
    objects: structuredClone(demoObjects),
  });
  const score = (v: Variation) => scoreDeployment({ ...v.input, cluster: prepareCluster(v.objects, { rbacRisks }) });

  test('every single addition raises the score (strictly, from a clean factor) and names itself', () => {
    for (const a of ADDITIONS) {
      const v = base();
      const before = score(v);
      a.apply(v);
      const after = score(v);
      assertExplains(after);
      assert.ok(after.score > before.score, `${a.name}: ${after.score} > ${before.score}`);
      assert.ok(factor(after, a.factor).score > factor(before, a.factor).score, `${a.name} raises ${a.factor}`);
      hasDetail(after, a.factor, a.detail);
    }
  });

  test('over 300 random variations, adding one more risk never lowers the score', () => {
    const next = rng(0x5eed);
    for (let i = 0; i < 300; i++) {
      const v = base();
      const steps = Math.floor(next() * 8);
      for (let s = 0; s < steps; s++) ADDITIONS[Math.floor(next() * ADDITIONS.length)]!.apply(v);
      const before = score(v);
      const a = ADDITIONS[Math.floor(next() * ADDITIONS.length)]!;
      a.apply(v);
      const after = score(v);
      assertExplains(after);
      assert.ok(after.score >= before.score - 1e-12, `variation ${i}, then ${a.name}: ${after.score} >= ${before.score}`);
      assert.ok(factor(after, a.factor).score >= factor(before, a.factor).score, `variation ${i}: ${a.name} never lowers ${a.factor}`);
      hasDetail(after, a.factor, a.detail);
    }
  });
});

/** One Docker Engine API call on the podman socket. */
function engine(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: podmanSocket, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: data ? JSON.parse(data) : undefined }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

const HOST_IMAGE = 'localhost/gatehouse-ep-busybox:1';
const podmanReady = await engine('GET', `/v1.41/images/${encodeURIComponent(HOST_IMAGE)}/json`).then((r) => r.status === 200, () => false);

describe('plain-host containers (real podman socket)', { skip: missing(podmanReady, `podman API at ${podmanSocket} with ${HOST_IMAGE} (.ci/setup.d/20-podman.sh, 70-engine-proxy.sh)`) }, () => {
  test('a privileged container with / bound and a published port ranks above a locked-down one', async () => {
    const created: string[] = [];
    const inspect = async (name: string, hostConfig: Json, user?: string): Promise<Json> => {
      const r = await engine('POST', `/v1.41/containers/create?name=${name}-${process.pid}`, { Image: HOST_IMAGE, Cmd: ['true'], User: user, HostConfig: hostConfig, ExposedPorts: hostConfig.PortBindings ? { '80/tcp': {} } : undefined });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      created.push(r.json.Id);
      return (await engine('GET', `/v1.41/containers/${r.json.Id}/json`)).json;
    };
    try {
      // Podman reports no CapAdd for a privileged container (it has every capability), so capabilities get their own.
      const risky = await inspect('gh-risk-open', { Privileged: true, Binds: ['/:/host:ro'], PortBindings: { '80/tcp': [{ HostPort: '18080' }] }, NetworkMode: 'bridge' });
      const capable = await inspect('gh-risk-caps', { CapAdd: ['SYS_ADMIN', 'NET_ADMIN'], SecurityOpt: ['no-new-privileges'] });
      const locked = await inspect('gh-risk-locked', { SecurityOpt: ['no-new-privileges'], CapDrop: ['ALL'] }, '65534');
      const [r, c, l] = [risky, capable, locked].map((workload) => scoreDeployment({ workload }));
      for (const x of [r!, c!, l!]) assertExplains(x);
      assert.ok(r!.score > l!.score && c!.score > l!.score);
      hasDetail(r!, 'privileges', /^privileged container 'gh-risk-open-\d+'$/);
      hasDetail(r!, 'privileges', /^hostPath \/ mounted read-only .*sensitive/);
      hasDetail(r!, 'privileges', /runs as root \(user 0\)/);
      hasDetail(r!, 'exposure', /^port 18080 published on every host interface$/);
      hasDetail(c!, 'privileges', /^capability SYS_ADMIN added to container 'gh-risk-caps-\d+'$/);
      hasDetail(c!, 'privileges', /^capability NET_ADMIN added/);
      assert.ok(!factor(c!, 'privileges').details.some((d) => /escalation/.test(d)), 'no-new-privileges is read');
      assert.deepEqual(factor(l!, 'privileges').details, []);
      assert.deepEqual(factor(l!, 'exposure').details, []);
    } finally {
      for (const id of created) await engine('DELETE', `/v1.41/containers/${id}?force=true`);
    }
  });
});
