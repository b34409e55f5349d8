/**
 * Central's and the webhook's pods, as the chart renders them, start and answer. A small
 * stand-in for the kubelet turns each rendered container into `podman run`: its args (with
 * `$(VAR)` expanded as the kubelet does), env (values and Secret keys from the rendered
 * Secrets), volumes (Secrets and ConfigMaps as read-only files, emptyDirs as tmpfs, the PVC
 * as a directory), uid/gid, read-only root, no_new_privs and dropped capabilities. The
 * host's /usr (Debian bookworm, as the image) brings Node; the checkout brings Gatehouse.
 * Then: Central's readiness probe passes over TLS checked against the chart's CA for its
 * Service name, and the webhook denies a privileged pod over TLS checked the same way.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { cachedPath, hasCommand, missing, testRegistry } from '../helpers/components.js';
import { freePort } from '../helpers/free-port.js';

type Obj = Record<string, any>;

const root = fileURLToPath(new URL('../..', import.meta.url));
const chart = join(root, 'deploy/helm/gatehouse');
const helm4 = cachedPath('bin', 'helm4');
const IMAGE = `${testRegistry}/gatehouse-test/debian:bookworm`;
const NS = 'gatehouse';
const imageReady = hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;
const skip =
  missing(process.getuid?.() === 0, 'podman runs the pods as root here') ||
  missing(imageReady, `podman image ${IMAGE} missing (.ci/setup.d/40-test-images.sh)`) ||
  missing(existsSync(helm4), `helm v4 (${helm4}; bash .ci/setup.d/69-helm4.sh)`);

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pods-'));
const started: string[] = [];
after(() => {
  for (const name of started) spawnSync('podman', ['rm', '-f', '-t', '0', name], { stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
});


function render(): Obj[] {
  const r = spawnSync(helm4, ['template', 'gh', chart, '--namespace', NS], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
}

const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

/**
 * `podman run -d` for one rendered container. `secrets` holds the Secrets the chart does not
 * render (made by the operator); the pod's fsGroup owns the files, as the kubelet does.
 */
async function runPod(objects: Obj[], workload: Obj, secrets: Record<string, Record<string, string>>): Promise<{ name: string; port: number }> {
  const spec = workload.spec.template.spec;
  const c = spec.containers[0];
  const uid = c.securityContext.runAsUser ?? spec.securityContext.runAsUser;
  const gid = spec.securityContext.runAsGroup ?? uid;
  const fsGroup = spec.securityContext.fsGroup ?? gid;
  const secretData = (name: string): Record<string, string> => {
    const s = objects.find((o) => o.kind === 'Secret' && o.metadata.name === name);
    if (s) return Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, b64(v)]));
    assert.ok(secrets[name], `Secret ${name} is neither rendered nor given`);
    return secrets[name];
  };
  const name = `gatehouse-pod-${workload.metadata.name}-${process.pid}`;
  const flags = ['run', '-d', '--name', name, '--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096', '--user', `${uid}:${gid}`];
  if (c.securityContext.readOnlyRootFilesystem) flags.push('--read-only');
  if (c.securityContext.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  flags.push('--cap-drop=ALL');
  for (const m of c.volumeMounts as Obj[]) {
    const v = (spec.volumes as Obj[]).find((x) => x.name === m.name)!;
    if (v.emptyDir) {
      flags.push('--tmpfs', `${m.mountPath}:rw,nosuid,nodev,mode=1777`);
      continue;
    }
    const host = join(dir, `${name}-${m.name}`);
    mkdirSync(host, { recursive: true });
    let files: Record<string, string> = {};
    if (v.secret) {
      const data = secretData(v.secret.secretName);
      files = v.secret.items ? Object.fromEntries((v.secret.items as Obj[]).map((i) => [i.path, data[i.key]!])) : data;
    } else if (v.configMap) {
      files = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === v.configMap.name)!.data;
    } else assert.ok(v.persistentVolumeClaim, `volume ${v.name}: unsupported here`);
    for (const [f, text] of Object.entries(files)) {
      writeFileSync(join(host, f), text);
      chownSync(join(host, f), 0, fsGroup);
      chmodSync(join(host, f), v.secret?.defaultMode ?? 0o444);
    }
    chownSync(host, v.persistentVolumeClaim ? uid : 0, fsGroup);
    chmodSync(host, v.persistentVolumeClaim ? 0o770 : 0o755);
    flags.push('-v', `${host}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
  }
  const env: Record<string, string> = {};
  for (const e of c.env as Obj[]) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = secretData(e.valueFrom.secretKeyRef.name)[e.valueFrom.secretKeyRef.key]!;
  }
  for (const [k, v] of Object.entries(env)) flags.push('-e', `${k}=${v}`);
  const port = await freePort();
  flags.push('-p', `127.0.0.1:${port}:${c.ports[0].containerPort}`);
  flags.push('-e', 'GATEHOUSE_FROM_SOURCE=1', '-v', '/usr:/usr:ro', '-v', `${root}:${root}:ro`);
  // The kubelet expands $(VAR) from the container's env.
  const args = (c.args as string[]).map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_m, v: string) => env[v] ?? `$(${v})`));
  const r = spawnSync('podman', [...flags, IMAGE, 'node', join(root, 'bin/gatehouse.mjs'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  started.push(name);
  return { name, port };
}

/** HTTPS to 127.0.0.1:port, verified against `ca` for the Service name the clients dial. */
function https(port: number, servername: string, ca: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, servername, ca, method, path, headers: body ? { 'content-type': 'application/json' } : {}, timeout: 5000 }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

async function until<T>(what: string, name: string, f: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    const state = spawnSync('podman', ['inspect', '-f', '{{.State.Running}}', name], { encoding: 'utf8' }).stdout.trim();
    if (state === 'false') break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const logs = spawnSync('podman', ['logs', name], { encoding: 'utf8' });
  assert.fail(`${what}: ${String(last)}\n${logs.stdout}${logs.stderr}`);
}

describe("Central's and the webhook's pods, run from the rendered chart", { skip }, () => {
  const objects = skip ? [] : render();
  const workload = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
  const secret = (name: string, key: string) => b64(objects.find((o) => o.kind === 'Secret' && o.metadata.name === name)!.data[key]);
  // Made by the operator after Central's first start (NOTES.txt); any token will do for starting.
  const operatorSecrets = { 'gh-gatehouse-admission-token': { token: 'admission-token-for-the-pod-test-0000000000' } };

  test("Central as uid 65532 with a read-only root: its readiness probe passes over TLS for its Service name, and it adopted the chart's admin token", async () => {
    const central = workload('Deployment', 'gh-gatehouse-central');
    const c = central.spec.template.spec.containers[0];
    const { name, port } = await runPod(objects, central, operatorSecrets);
    const ca = secret('gh-gatehouse-central-tls', 'ca.crt');
    const svc = `gh-gatehouse-central.${NS}.svc`;
    const probe = c.readinessProbe.httpGet;
    assert.equal(probe.scheme, 'HTTPS');
    await until('Central readiness', name, async () => {
      const r = await https(port, svc, ca, 'GET', probe.path);
      return r.status === 200 ? r : undefined;
    });
    // The admin token the chart made is the one Central adopted: an authenticated call succeeds with it.
    const token = secret('gh-gatehouse-central-admin', 'admin-token');
    const authed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, servername: svc, ca, path: '/api/v1/clusters', headers: { authorization: `Bearer ${token}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(authed, 200);
    const anon = await https(port, svc, ca, 'GET', '/api/v1/clusters');
    assert.equal(anon.status, 401);
  });

  test('the webhook as uid 65532 with a read-only root: it answers AdmissionReviews over TLS for its Service name and denies a privileged pod', async () => {
    const webhook = workload('Deployment', 'gh-gatehouse-admission');
    const { name, port } = await runPod(objects, webhook, operatorSecrets);
    const ca = secret('gh-gatehouse-admission-tls', 'ca.crt');
    const svc = `gh-gatehouse-admission.${NS}.svc`;
    const path = objects.find((o) => o.kind === 'ValidatingWebhookConfiguration')!.webhooks[0].clientConfig.service.path;
    const review = (privileged: boolean) => ({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: `uid-${privileged}`, kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' },
        namespace: 'team', operation: 'CREATE', userInfo: { username: 'dev' },
        object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team' }, spec: { containers: [{ name: 'c', image: 'registry.example/app:1', securityContext: { privileged } }] } },
      },
    });
    const answer = await until('webhook answer', name, async () => {
      const r = await https(port, svc, ca, 'POST', path, review(true));
      return r.status === 200 ? (JSON.parse(r.body) as Obj) : undefined;
    });
    assert.equal(answer.response.uid, 'uid-true');
    assert.equal(answer.response.allowed, false, JSON.stringify(answer.response));
    const ok = JSON.parse((await https(port, svc, ca, 'POST', path, review(false))).body) as Obj;
    assert.equal(ok.response.allowed, true, JSON.stringify(ok.response));
  });
});
