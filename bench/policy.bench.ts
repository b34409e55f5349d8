/**
 * bench:policy — admission calls the policy engine on every request. 50 policies against one
 * workload subject, and 50 against one runtime alert, through compilePolicySet + evaluate();
 * beside each, the floor: the same criteria hand-written as one JS function over the same
 * input, measured in the same run. Goal: ≤ 20 µs per subject.
 */
import { compilePolicySet, evaluate, type Subject } from '../src/policy/evaluate.js';
import type { Criterion, Policy, SubjectKind } from '../src/policy/types.js';
import { subjects } from '../src/subjects/index.js';
import { parseManifests } from '../src/kube/manifests.js';

const GOAL_US = 20;
const VARIANTS = 5;

function policy(id: string, subject: SubjectKind, stage: Policy['stages'][number], criteria: Criterion): Policy {
  return { id, name: id, description: id, severity: 'HIGH', subject, stages: [stage], scope: {}, criteria, enforcement: ['inform'], mappings: {}, enabled: true };
}

/** Runs `fn` for about `ms` after a warm-up; returns µs per call (CPU time). */
function measure(fn: () => unknown, ms = 1500): number {
  for (let i = 0; i < 20_000; i++) fn();
  let calls = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (let i = 0; i < 1000; i++) fn();
    calls += 1000;
  }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / calls;
}

// ── workload: 10 templates × 5 variants ─────────────────────────────────────────────────
const ns = (i: number) => [`team-${i}`, 'kube-system'];
const workloadTemplates: ((i: number) => Criterion)[] = [
  () => ({ field: 'container.securityContext.privileged', op: 'equals', value: true }),
  (i) => ({ field: 'container.image.tag', op: 'in', value: ['latest', `v${i}`] }),
  () => ({ field: 'container.securityContext.readOnlyRootFilesystem', op: 'notEquals', value: true }),
  (i) => ({ field: 'object.namespace', op: 'in', value: ns(i) }),
  (i) => ({ field: 'container.capabilities.add', op: 'in', value: ['SYS_ADMIN', `CAP_${i}`] }),
  (i) => ({ field: 'container.name', op: 'matches', value: `^app${i}` }),
  (i) => ({ field: 'workload.replicas', op: 'gt', value: 10 + i }),
  () => ({ field: 'container.runsAsNonRoot', op: 'equals', value: false }),
  (i) => ({ all: [{ field: 'object.kind', op: 'equals', value: 'Deployment' }, { field: 'container.ports.hostPort', op: 'gte', value: 1000 * (i + 1) }] }),
  () => ({ not: { field: 'container.capabilities.drop', op: 'in', value: ['NET_RAW', 'ALL'] } }),
];
const workloadPolicies = workloadTemplates.flatMap((t, ti) => Array.from({ length: VARIANTS }, (_, i) => policy(`w${ti}-${i}`, 'workload', 'deploy', t(i))));

// Block style, as kubectl and helm write manifests. Two subjects: a typical hardened
// Deployment (a few violations), and a careless one on which half the policies fire.
const deployment = (careless: boolean) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      securityContext:
        runAsNonRoot: true
        runAsUser: 1000
      containers:
        - name: web
          image: registry.example/shop/web:1.4.2
          ports:
            - containerPort: 8080
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop:
                - ALL
              add:
                - NET_BIND_SERVICE
        - name: sidecar
          image: registry.example/mesh/proxy:${careless ? 'latest' : '2.1.0'}
          securityContext:
            readOnlyRootFilesystem: ${careless ? 'false' : 'true'}
            privileged: ${careless ? 'true' : 'false'}
            capabilities:
              drop:
                - ${careless ? 'CHOWN' : 'ALL'}
`;
const typical = parseManifests(deployment(false), 'web.yaml').objects;
const careless = parseManifests(deployment(true), 'web.yaml').objects;

const appNames = Array.from({ length: VARIANTS }, (_, i) => new RegExp(`^app${i}`));
/** The floor: the same 50 criteria written by hand over the raw object. */
function workloadFloor(raw: any): number {
  let violations = 0;
  const containers: any[] = raw.spec.template.spec.containers;
  const podSc = raw.spec.template.spec.securityContext ?? {};
  const namespace = raw.metadata.namespace ?? 'default';
  for (let i = 0; i < VARIANTS; i++) {
    const nsList = ns(i);
    if (nsList.includes(namespace)) violations++;
    if (raw.spec.replicas > 10 + i) violations++;
    const re = appNames[i]!;
    for (const c of containers) {
      const sc = c.securityContext ?? {};
      const tag = String(c.image).includes('@') ? '' : (/:([^/:]+)$/.exec(c.image)?.[1] ?? 'latest');
      if (sc.privileged === true) violations++;
      if (tag === 'latest' || tag === `v${i}`) violations++;
      if (sc.readOnlyRootFilesystem !== true) violations++;
      const add: string[] = sc.capabilities?.add ?? [];
      if (add.includes('SYS_ADMIN') || add.includes(`CAP_${i}`)) violations++;
      if (re.test(c.name)) violations++;
      const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      const user = sc.runAsUser ?? podSc.runAsUser;
      if (!(nonRoot === true || (user !== undefined && user !== 0))) violations++;
      if (raw.kind === 'Deployment' && (c.ports ?? []).some((p: any) => (p.hostPort ?? 0) >= 1000 * (i + 1))) violations++;
      const drop: string[] = sc.capabilities?.drop ?? [];
      if (!(drop.includes('NET_RAW') || drop.includes('ALL'))) violations++;
    }
  }
  return violations;
}

// ── runtime: 10 templates × 5 variants over one Falco alert ─────────────────────────────
const runtimeTemplates: ((i: number) => Criterion)[] = [
  (i) => ({ field: 'alert.rule', op: 'in', value: ['Terminal shell in container', `Rule ${i}`] }),
  // Falco priorities as syslog levels: 0 Emergency … 5 Notice … 7 Debug (lower is more severe).
  (i) => ({ field: 'alert.priorityLevel', op: 'lte', value: 5 - (i % 3) }),
  (i) => ({ field: 'alert.tags', op: 'in', value: ['mitre_execution', `tag${i}`] }),
  (i) => ({ field: 'proc.name', op: 'in', value: ['bash', 'sh', `p${i}`] }),
  (i) => ({ field: 'container.image.repository', op: 'matches', value: `^registry\\.example/(shop|team${i})/` }),
  (i) => ({ field: 'k8s.ns.name', op: 'notIn', value: ['kube-system', `ns${i}`] }),
  (i) => ({ field: 'proc.cmdline', op: 'matches', value: `curl|wget|nc${i}` }),
  (i) => ({ field: 'user.name', op: 'equals', value: i === 0 ? 'root' : `u${i}` }),
  (i) => ({ all: [{ field: 'alert.source', op: 'equals', value: 'syscall' }, { field: 'fd.name', op: 'under', value: ['/etc', `/srv/${i}`] }] }),
  (i) => ({ not: { field: 'container.name', op: 'equals', value: `web-${i}` } }),
];
const runtimePolicies = runtimeTemplates.flatMap((t, ti) => Array.from({ length: VARIANTS }, (_, i) => policy(`r${ti}-${i}`, 'runtime', 'runtime', t(i))));
const shellAlert = {
  time: '2026-12-07T00:00:00.000000000Z',
  rule: 'Terminal shell in container',
  priority: 'Notice',
  source: 'syscall',
  hostname: 'node-1',
  output: '00:00:00.000000000: Notice A shell was spawned in a container with an attached terminal (user=root shell=bash)',
  output_fields: {
    'proc.name': 'bash', 'proc.cmdline': 'bash -c curl http://x', 'user.name': 'root', 'container.id': 'abc123', 'container.name': 'web',
    'container.image.repository': 'registry.example/shop/web', 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1', 'fd.name': '/etc/shadow',
  },
  tags: ['container', 'shell', 'mitre_execution', 'T1059'],
};
// A typical alert: an informational rule in a system namespace that few policies care about.
const typicalAlert = {
  ...shellAlert,
  rule: 'Contact K8S API Server From Container',
  priority: 'Informational',
  output_fields: {
    'proc.name': 'kubectl', 'proc.cmdline': 'kubectl get pods', 'user.name': 'app', 'container.id': 'def456', 'container.name': 'web-1',
    'container.image.repository': 'registry.k8s.io/kubectl', 'k8s.ns.name': 'kube-system', 'k8s.pod.name': 'ops-1', 'fd.name': '10.0.0.1:443',
  },
  tags: ['network', 'k8s', 'container', 'mitre_discovery'],
};
type AlertData = typeof shellAlert;
const PRIO: Record<string, number> = { emergency: 0, alert: 1, critical: 2, error: 3, warning: 4, notice: 5, informational: 6, info: 6, debug: 7 };
const repoRes = Array.from({ length: VARIANTS }, (_, i) => new RegExp(`^registry\\.example/(shop|team${i})/`));
const cmdRes = Array.from({ length: VARIANTS }, (_, i) => new RegExp(`curl|wget|nc${i}`));
function runtimeFloor(a: AlertData): number {
  let violations = 0;
  const f = a.output_fields as Record<string, string>;
  const level = PRIO[a.priority.toLowerCase()] ?? 0;
  for (let i = 0; i < VARIANTS; i++) {
    if (a.rule === 'Terminal shell in container' || a.rule === `Rule ${i}`) violations++;
    if (level <= 5 - (i % 3)) violations++;
    if (a.tags.includes('mitre_execution') || a.tags.includes(`tag${i}`)) violations++;
    if (['bash', 'sh', `p${i}`].includes(f['proc.name']!)) violations++;
    if (repoRes[i]!.test(f['container.image.repository']!)) violations++;
    if (!['kube-system', `ns${i}`].includes(f['k8s.ns.name']!)) violations++;
    if (cmdRes[i]!.test(f['proc.cmdline']!)) violations++;
    if (f['user.name'] === (i === 0 ? 'root' : `u${i}`)) violations++;
    const p = f['fd.name']!;
    if (a.source === 'syscall' && ['/etc', `/srv/${i}`].some((d) => p === d || p.startsWith(`${d}/`))) violations++;
    if (f['container.name'] !== `web-${i}`) violations++;
  }
  return violations;
}

const reg = subjects();
const workloadSet = compilePolicySet(workloadPolicies, reg);
const runtimeAdapter = reg.get('runtime');
if (!runtimeAdapter?.fromData) throw new Error('the runtime subject is not registered');
const runtimeSet = compilePolicySet(runtimePolicies, reg);
const now = new Date();

const cases = [
  { name: 'workload, typical (hardened Deployment, 2 containers)', set: workloadSet, subject: { kind: 'workload', value: { objects: typical } } as Subject, floor: () => workloadFloor(typical[0]!.raw) },
  { name: 'workload, careless (half the policies fire)', set: workloadSet, subject: { kind: 'workload', value: { objects: careless } } as Subject, floor: () => workloadFloor(careless[0]!.raw) },
  { name: 'runtime, typical alert', set: runtimeSet, subject: { kind: 'runtime', value: await runtimeAdapter.fromData(typicalAlert, 'bench') } as Subject, floor: () => runtimeFloor(typicalAlert) },
  { name: 'runtime, shell alert (most policies fire)', set: runtimeSet, subject: { kind: 'runtime', value: await runtimeAdapter.fromData(shellAlert, 'bench') } as Subject, floor: () => runtimeFloor(shellAlert) },
];

for (const c of (process.env.BENCH_CASE ? cases.filter((x) => x.name.startsWith(process.env.BENCH_CASE!)) : cases)) {
  // Both sides must agree before their speed means anything.
  const count = evaluate(c.subject, c.set, { now }).violations.length;
  const floorCount = c.floor();
  if (count !== floorCount) throw new Error(`${c.name}: the engine finds ${count} violations, the hand-written floor ${floorCount}`);
  const us = measure(() => evaluate(c.subject, c.set, { now }));
  const floorUs = measure(c.floor);
  const goal = c.name.includes('typical') ? `; goal ≤ ${GOAL_US} µs: ${us <= GOAL_US ? 'met' : 'NOT met'}` : `; ${(us / Math.max(count, 1)).toFixed(2)} µs per violation`;
  console.log(`policy ${c.name}: 50 policies, ${count} violations; ${us.toFixed(2)} µs per subject (CPU); floor (same criteria hand-written) ${floorUs.toFixed(2)} µs; ratio ${(us / floorUs).toFixed(1)}x${goal}`);
}
