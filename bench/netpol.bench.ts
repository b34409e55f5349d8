/**
 * `npm run bench:netpol`: `gatehouse netpol analyze` on a generated cluster dump of 10,000
 * Pods (2,000 ReplicaSets x 5 replicas in 100 namespaces, as `kubectl get pods -A -o yaml`
 * lists them) and 2,000 NetworkPolicies (a default deny per namespace, per-app ingress and
 * egress allowances with pod, namespace and ipBlock peers, named ports and port ranges).
 * Runs the real CLI in a child process and reports wall time and peak RSS against the goals
 * (<= 10 s, <= 1 GB). Sizes can be scaled with NETPOL_BENCH_SCALE (1 = the full size).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const scale = Number(process.env.NETPOL_BENCH_SCALE ?? '1');
const NAMESPACES = Math.max(1, Math.round(100 * scale));
const APPS_PER_NS = 20;
const REPLICAS = 5;
const GOAL_SECONDS = 10;
const GOAL_BYTES = 1024 ** 3;

function generate(dir: string): { pods: number; policies: number } {
  const namespaces: Record<string, any>[] = [];
  const pods: Record<string, any>[] = [];
  const policies: Record<string, any>[] = [];
  for (let n = 0; n < NAMESPACES; n++) {
    const ns = `team-${n}`;
    namespaces.push({ metadata: { name: ns, labels: { team: `t${n}`, zone: `z${n % 4}` } } });
    policies.push({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'default-deny', namespace: ns }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } });
    for (let a = 0; a < APPS_PER_NS; a++) {
      const app = `app-${a}`;
      const rs = `${app}-7d9f${n}c${a}`;
      const port = 8000 + a;
      for (let r = 0; r < REPLICAS; r++) {
        pods.push({
          metadata: {
            name: `${rs}-p${r}`,
            namespace: ns,
            labels: { app, tier: a % 3 === 0 ? 'front' : a % 3 === 1 ? 'mid' : 'data', 'pod-template-hash': `7d9f${n}c${a}` },
            ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, controller: true, uid: `${n}-${a}` }],
          },
          spec: { containers: [{ name: 'main', image: `registry.example/${app}:1`, ports: [{ name: 'http', containerPort: port }, { name: 'metrics', containerPort: 9090 }] }] },
          status: { hostIP: '10.0.0.1', podIP: `10.1.${n}.${a * REPLICAS + r}`, podIPs: [{ ip: `10.1.${n}.${a * REPLICAS + r}` }] },
        });
      }
      if (a === APPS_PER_NS - 1) continue; // 1 default deny + 19 app policies = 20 per namespace
      const next = `app-${(a + 1) % APPS_PER_NS}`;
      policies.push({
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: `allow-${app}`, namespace: ns },
        spec: {
          podSelector: { matchLabels: { app } },
          policyTypes: ['Ingress', 'Egress'],
          ingress: [
            { from: [{ podSelector: { matchLabels: { app: `app-${(a + APPS_PER_NS - 1) % APPS_PER_NS}` } } }], ports: [{ port: 'http' }] },
            { from: [{ namespaceSelector: { matchLabels: { zone: `z${n % 4}` } }, podSelector: { matchExpressions: [{ key: 'tier', operator: 'In', values: ['front'] }] } }], ports: [{ protocol: 'TCP', port: 9090 }] },
            ...(a % 5 === 0 ? [{ from: [{ ipBlock: { cidr: `172.${16 + (n % 16)}.0.0/16`, except: [`172.${16 + (n % 16)}.${a}.0/24`] } }], ports: [{ port: port, endPort: port + 10 }] }] : []),
          ],
          egress: [
            { to: [{ podSelector: { matchLabels: { app: next } } }], ports: [{ port: 'http' }] },
            { to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'app-0' } } }], ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 8000 }] },
            ...(a % 7 === 0 ? [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443 }] }] : []),
          ],
        },
      });
    }
  }
  writeFileSync(join(dir, 'namespaces.yaml'), stringify({ apiVersion: 'v1', kind: 'NamespaceList', items: namespaces }));
  writeFileSync(join(dir, 'pods.yaml'), stringify({ apiVersion: 'v1', kind: 'PodList', items: pods }));
  writeFileSync(join(dir, 'policies.yaml'), policies.map((p) => stringify(p)).join('---\n'));
  return { pods: pods.length, policies: policies.length };
}

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-netpol-bench-'));
try {
  const { pods, policies } = generate(dir);
  console.log(`cluster: ${pods} pods (${NAMESPACES * APPS_PER_NS} ReplicaSets) in ${NAMESPACES} namespaces, ${policies} NetworkPolicies`);
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const cli = [join(root, 'bin', 'gatehouse.mjs'), 'netpol', 'analyze', dir];
  const started = process.hrtime.bigint();
  const res = timeBin
    ? spawnSync(timeBin, ['-f', 'maxrss_kb=%M cpu_user=%U cpu_sys=%S', process.execPath, ...cli], { cwd: root, encoding: 'utf8', maxBuffer: 1024 ** 3, env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } })
    : spawnSync(process.execPath, cli, { cwd: root, encoding: 'utf8', maxBuffer: 1024 ** 3, env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (res.status !== 0) {
    console.error(res.stderr);
    throw new Error(`netpol analyze exited ${res.status}`);
  }
  const lines = res.stdout.split('\n').filter(Boolean).length;
  const rssKb = Number(/maxrss_kb=(\d+)/.exec(res.stderr ?? '')?.[1] ?? NaN);
  const cpu = /cpu_user=([\d.]+) cpu_sys=([\d.]+)/.exec(res.stderr ?? '');
  const cpuSeconds = cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN;
  console.log(`netpol analyze: ${seconds.toFixed(2)} s wall${Number.isFinite(cpuSeconds) ? `, ${cpuSeconds.toFixed(2)} s CPU` : ''}, ${lines} connections listed (load average ${loadavg()[0]!.toFixed(1)} on this machine)`);
  console.log(`  time ratio to goal (${GOAL_SECONDS} s): ${(seconds / GOAL_SECONDS).toFixed(2)} (<= 1 meets the goal)`);
  if (Number.isFinite(rssKb)) {
    const bytes = rssKb * 1024;
    console.log(`  peak RSS ${(bytes / 1024 ** 2).toFixed(0)} MiB; ratio to goal (1 GiB): ${(bytes / GOAL_BYTES).toFixed(2)} (<= 1 meets the goal)`);
  } else {
    console.log('  peak RSS: /usr/bin/time not available');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
