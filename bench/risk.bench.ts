/**
 * bench:risk — Central re-scores every deployment when anything around it changes; the
 * issue's inventory is 15,000 deployments. A generated cluster of that size (100 namespaces;
 * per namespace a default-deny NetworkPolicy in half of them, Services of every type,
 * Ingresses, per-app ServiceAccounts with Roles, a few cluster-admin bindings) is prepared
 * once (prepareCluster), then every deployment is scored. The floor, measured in the same run:
 * JSON.stringify of each deployment's workload (the least any store round-trip costs).
 * Goal: all 15,000 scored in ≤ 1 s, i.e. ≥ 15,000 deployments/s. RISK_BENCH_SCALE scales the size.
 */
import { loadRbacRisks } from '../src/kube/rbac/risks.js';
import { prepareCluster, scoreDeployment, type ClusterObjects, type DeploymentRiskInput } from '../src/central/risk/index.js';

const scale = Number(process.env.RISK_BENCH_SCALE ?? '1');
const NAMESPACES = Math.max(1, Math.round(100 * scale));
const APPS_PER_NS = 150;
const GOAL_PER_SECOND = 15_000;

type Json = Record<string, any>;

function generate(): { objects: ClusterObjects; inputs: Omit<DeploymentRiskInput, 'cluster'>[] } {
  const objects: Required<Pick<ClusterObjects, 'services' | 'ingresses' | 'networkPolicies' | 'roles' | 'roleBindings' | 'clusterRoleBindings' | 'serviceAccounts' | 'namespaces'>> & ClusterObjects = {
    services: [], ingresses: [], networkPolicies: [], roles: [], roleBindings: [], clusterRoleBindings: [], serviceAccounts: [], namespaces: [],
  };
  const inputs: Omit<DeploymentRiskInput, 'cluster'>[] = [];
  const types = ['ClusterIP', 'ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer'];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `team-${n}`;
    objects.namespaces.push({ metadata: { name: ns, labels: { team: `t${n}` } } });
    if (n % 2 === 0) objects.networkPolicies.push({ metadata: { name: 'default-deny', namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress'] } });
    objects.networkPolicies.push({
      metadata: { name: 'allow-web', namespace: ns },
      spec: { podSelector: { matchLabels: { tier: 'web' } }, ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ port: 8080 }] }] },
    });
    objects.roles.push({ metadata: { name: 'reader', namespace: ns }, rules: [{ apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list'] }] });
    if (n % 10 === 0) objects.clusterRoleBindings.push({ metadata: { name: `admin-${ns}` }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'app-0', namespace: ns }] });
    for (let a = 0; a < APPS_PER_NS; a++) {
      const app = `app-${a}`;
      const labels = { app, tier: a % 3 === 0 ? 'web' : 'backend' };
      objects.serviceAccounts.push({ metadata: { name: app, namespace: ns }, ...(a % 4 === 0 ? { automountServiceAccountToken: false } : {}) });
      if (a % 5 === 0) objects.roleBindings.push({ metadata: { name: `${app}-reader`, namespace: ns }, roleRef: { kind: 'Role', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: app }] });
      objects.services.push({ metadata: { name: app, namespace: ns }, spec: { type: types[a % types.length], selector: { app }, ports: [{ port: 80, targetPort: 8080 }] } });
      if (a % 15 === 0) {
        objects.ingresses.push({ metadata: { name: app, namespace: ns }, spec: { rules: [{ host: `${app}.${ns}.example`, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: app, port: { number: 80 } } } }] } }] } });
      }
      const privileged = a % 50 === 0;
      const workload: Json = {
        apiVersion: 'apps/v1',
        kind: a % 20 === 0 ? 'DaemonSet' : 'Deployment',
        metadata: { name: app, namespace: ns, labels },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app } },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: app,
              securityContext: a % 3 === 0 ? { runAsNonRoot: true, runAsUser: 1000 } : {},
              volumes: a % 7 === 0 ? [{ name: 'host', hostPath: { path: a % 14 === 0 ? '/' : '/var/log' } }, { name: 'cfg', configMap: { name: app } }] : [],
              containers: [
                {
                  name: 'main',
                  image: `registry.example/${ns}/${app}:1.${a}`,
                  ports: [{ containerPort: 8080, ...(a % 40 === 0 ? { hostPort: 8080 } : {}) }],
                  securityContext: { privileged, allowPrivilegeEscalation: a % 2 === 0 ? false : undefined, capabilities: { add: a % 9 === 0 ? ['NET_ADMIN', 'SYS_PTRACE'] : [], drop: ['ALL'] } },
                  volumeMounts: a % 7 === 0 ? [{ name: 'host', mountPath: '/host', readOnly: a % 2 === 0 }] : [],
                },
                { name: 'sidecar', image: 'registry.example/proxy:2.1', securityContext: { runAsUser: 1337 } },
              ],
            },
          },
        },
      };
      inputs.push({
        workload,
        images: [
          { digest: `sha256:${n}-${a}`, created: new Date(Date.UTC(2026, 0, 1) - (a % 400) * 86_400_000).toISOString(), signed: a % 3 !== 0, secrets: a % 25 === 0 ? 1 : 0, vulns: { critical: a % 4, high: a % 11, medium: a % 23, low: a % 31, fixable: a % 7, knownExploited: a % 60 === 0 ? 1 : 0 } },
          { digest: 'sha256:proxy', created: '2025-11-01T00:00:00Z', signed: true, vulns: { medium: 2, low: 5, fixable: 1 } },
        ],
        runtime: { alerts: { critical: a % 97 === 0 ? 1 : 0, high: a % 13 === 0 ? 2 : 0, low: a % 5 }, incidents: a % 101 === 0 ? 1 : 0 },
        now: new Date('2026-12-01T00:00:00Z'),
      });
    }
  }
  return { objects, inputs };
}

function cpuMs<T>(fn: () => T): { value: T; ms: number } {
  const c0 = process.cpuUsage();
  const value = fn();
  const c = process.cpuUsage(c0);
  return { value, ms: (c.user + c.system) / 1000 };
}

const rbacRisks = await loadRbacRisks();
const { objects, inputs } = generate();
const prepared = cpuMs(() => prepareCluster(objects, { rbacRisks }));
const cluster = prepared.value;

// Warm-up (JIT), then each measured pass over every deployment; best of three.
for (const input of inputs.slice(0, 2000)) scoreDeployment({ ...input, cluster });
const best = (fn: () => unknown): number => Math.min(...[0, 1, 2].map(() => cpuMs(fn).ms));
let sink = 0;
const scoreMs = best(() => {
  for (const input of inputs) sink += scoreDeployment({ ...input, cluster }).score;
});
const floorMs = best(() => {
  for (const input of inputs) sink += JSON.stringify(input.workload).length;
});

const perSecond = (inputs.length / scoreMs) * 1000;
const floorPerSecond = (inputs.length / floorMs) * 1000;
const top = inputs
  .map((input) => ({ name: `${(input.workload as Json).metadata.namespace}/${(input.workload as Json).metadata.name}`, r: scoreDeployment({ ...input, cluster }) }))
  .sort((a, b) => b.r.score - a.r.score)[0]!;
console.log(`risk: ${inputs.length} deployments in ${NAMESPACES} namespaces; prepareCluster ${prepared.ms.toFixed(0)} ms (CPU, once per cluster)`);
console.log(
  `risk: scoring ${scoreMs.toFixed(0)} ms, ${Math.round(perSecond)} deployments/s; floor (JSON.stringify of each workload) ${Math.round(floorPerSecond)}/s; ratio ${(floorPerSecond / perSecond).toFixed(1)}x; ` +
    `goal ≥ ${GOAL_PER_SECOND}/s ${perSecond >= GOAL_PER_SECOND ? 'met' : 'NOT met'}`,
);
console.log(`risk: riskiest ${top.name} score ${top.r.score.toFixed(2)} (${top.r.factors.map((f) => `${f.name} ${f.score.toFixed(2)}`).join(', ')})${sink ? '' : ' '}`);
