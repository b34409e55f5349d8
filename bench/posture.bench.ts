/**
 * Posture benchmark: objects/s of `k8s check` (YAML parse with positions + the whole
 * default policy pack + exceptions) over a generated 20k-object cluster dump.
 * Prints the ratio to the 10k objects/s goal, and the CPU-time ratio to checkov's
 * Kubernetes framework on the same objects (a 2k-object slice: checkov is slow). checkov is
 * installed from PyPI into ~/.cache/gatehouse-test/checkov-venv on first use ($CHECKOV_BIN
 * names another; POSTURE_NO_PEER=1 skips the peer).
 * kube-linter could not be built here (golang.stackrox.io is not on the Go proxy allowlist).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { checkObjects } from '../src/kube/check.js';
import { subjects } from '../src/subjects/index.js';
import { parseManifests } from '../src/kube/manifests.js';

const FLOOR = 10_000;
const TOTAL = Number(process.env.POSTURE_OBJECTS ?? 20_000);

// kubectl and helm never emit anchors; shared label objects would make `yaml` emit them.
const yamlOf = (v: unknown) => stringify(v, { aliasDuplicateObjects: false });

function generate(total: number): string {
  const docs: string[] = [];
  for (let i = 0; docs.length < total; i++) {
    const ns = `team-${i % 50}`;
    const app = `app-${i}`;
    const labels = { app, tier: i % 3 === 0 ? 'backend' : 'frontend' };
    const container = (n: number) => ({
      name: `c${n}`,
      image: i % 4 === 0 ? `nginx` : `registry.example.com/${app}:1.${i % 10}.0`,
      ports: [{ name: 'http', containerPort: 8080 + n }],
      env: [{ name: 'LOG_LEVEL', value: 'info' }, ...(i % 7 === 0 ? [{ name: 'API_TOKEN', value: 'x' }] : [])],
      resources: i % 5 === 0 ? {} : { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      securityContext: i % 2 === 0 ? { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } : { privileged: i % 11 === 0 },
      livenessProbe: { httpGet: { path: '/healthz', port: 'http' } },
    });
    docs.push(yamlOf({
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: app, namespace: ns, labels },
      spec: { replicas: 1 + (i % 3), selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [container(0), container(1)] } } },
    }));
    docs.push(yamlOf({ apiVersion: 'v1', kind: 'Service', metadata: { name: app, namespace: ns }, spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] } }));
    docs.push(yamlOf({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${app}-cfg`, namespace: ns }, data: { 'app.properties': 'a=b\nc=d\n', ...(i % 9 === 0 ? { db_password: 'hunter2' } : {}) } }));
    docs.push(yamlOf({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: app, namespace: ns } }));
    if (i % 10 === 0) docs.push(stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: app, namespace: ns }, spec: { podSelector: { matchLabels: labels }, ingress: [{ from: [{ podSelector: {} }] }] } }));
  }
  return docs.slice(0, total).join('---\n');
}

const text = generate(TOTAL);
if (process.env.POSTURE_DUMP) (await import('node:fs')).writeFileSync(process.env.POSTURE_DUMP, text);
// Warm-up on a slice, so JIT and the policy pack load are not measured.
await checkObjects(parseManifests(text.slice(0, 200_000), 'warmup.yaml').objects, [], { subjects: subjects() });

const c0 = process.cpuUsage();
const t0 = performance.now();
const { objects, notes } = parseManifests(text, 'cluster-dump.yaml');
const t1 = performance.now();
const c1 = process.cpuUsage(c0);
const result = await checkObjects(objects, notes, { subjects: subjects() });
const t2 = performance.now();
const c2 = process.cpuUsage(c0);
const cpu = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

const seconds = (t2 - t0) / 1000;
const rate = objects.length / seconds;
console.log(`posture: ${objects.length} objects (${(text.length / 1e6).toFixed(1)} MB YAML), ${result.findings.length} findings, ${result.policiesRun} policies`);
console.log(`  load+positions ${((t1 - t0) / 1000).toFixed(2)} s, policies ${((t2 - t1) / 1000).toFixed(2)} s, total ${seconds.toFixed(2)} s`);
console.log(`  CPU: load ${cpu(c1).toFixed(2)} s, total ${cpu(c2).toFixed(2)} s (${Math.round(objects.length / cpu(c2))} objects per CPU-second; wall time is inflated when the machine is shared)`);
console.log(`  ${Math.round(rate)} objects/s (wall); ratio to the ${FLOOR} objects/s goal: ${(rate / FLOOR).toFixed(2)}x`);
console.log(`  RSS ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);

const venv = join(homedir(), '.cache', 'gatehouse-test', 'checkov-venv');
const checkov = process.env.CHECKOV_BIN ?? join(venv, 'bin', 'checkov');
if (!existsSync(checkov) && !process.env.CHECKOV_BIN && !process.env.POSTURE_NO_PEER) {
  // The peer can be installed here from PyPI (about a minute, once).
  console.error(`installing checkov from PyPI into ${venv} (set POSTURE_NO_PEER=1 to skip)…`);
  const made = spawnSync('python3', ['-m', 'venv', venv], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status === 0) spawnSync(join(venv, 'bin', 'pip'), ['install', '-q', 'checkov'], { stdio: ['ignore', 'ignore', 'inherit'] });
}
if (existsSync(checkov)) {
  const PEER_OBJECTS = Number(process.env.POSTURE_PEER_OBJECTS ?? 2000);
  const slice = text.split(/^---\n/m).slice(0, PEER_OBJECTS).join('---\n');
  const dir = mkdtempSync(join(tmpdir(), 'posture-bench-'));
  const file = join(dir, 'slice.yaml');
  writeFileSync(file, slice);
  const ours0 = process.cpuUsage();
  const sliceObjects = parseManifests(slice, file);
  await checkObjects(sliceObjects.objects, sliceObjects.notes, { subjects: subjects() });
  const oursCpu = cpu(process.cpuUsage(ours0));
  // `times` prints the children's user and system CPU, which is what we compare.
  const run = spawnSync('bash', ['-c', `"$0" -f "$1" --framework kubernetes --quiet --compact -o json --skip-download >/dev/null 2>&1; times`, checkov, file], {
    encoding: 'utf8',
    env: { ...process.env, BC_SKIP_MAPPING: 'TRUE' },
  });
  const m = /\n(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(run.stdout ?? '');
  if (m) {
    const peerCpu = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
    console.log(`checkov on ${sliceObjects.objects.length} objects: ${peerCpu.toFixed(1)} CPU-s; gatehouse ${oursCpu.toFixed(2)} CPU-s; ratio ${(peerCpu / oursCpu).toFixed(1)}x faster`);
  } else {
    console.log(`checkov run could not be timed: ${(run.stderr ?? '').slice(0, 200)}`);
  }
} else {
  console.log('checkov not installed (python3 -m venv ~/.cache/gatehouse-test/checkov-venv && …/bin/pip install checkov): no peer ratio');
}
