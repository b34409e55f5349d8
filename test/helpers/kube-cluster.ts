/**
 * A real Kubernetes API server for tests: kube-apiserver (built by .ci/setup.d/66-kube.sh)
 * on 127.0.0.1 with kine (etcd API over SQLite) as its store, RBAC authorization, a static
 * admin token and self-signed serving certificates. No controller manager or kubelet runs,
 * so objects stay as created (no pods behind deployments, no default service accounts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { cachedPath, cacheHas } from './components.js';
import { freePort } from './free-port.js';

export const kubeBinariesPresent = (): boolean => cacheHas('bin', 'kube-apiserver') && cacheHas('bin', 'kine');

export interface TestCluster {
  server: string;
  /** Token of a member of system:masters. */
  adminToken: string;
  /** A kubeconfig for the admin token (insecure-skip-tls-verify: the certificate is self-signed). */
  kubeconfig: string;
  /** Writes a kubeconfig for another token. */
  kubeconfigFor(user: string): string;
  /** Tokens of the extra users, by name. */
  tokens: Record<string, string>;
  dir: string;
  stop(): Promise<void>;
  /** Stops kube-apiserver only (kine and its data stay); clients see connections refused. */
  stopApiserver(): Promise<void>;
  /** Starts kube-apiserver again on the same port over the same kine store, and waits until it is ready. */
  startApiserver(): Promise<void>;
  /**
   * A second kube-apiserver on another port over the same kine store (changes made through it
   * happen while the first one is down or unseen); returns its URL and how to stop it.
   */
  sideApiserver(): Promise<{ server: string; stop(): Promise<void> }>;
}


/** Starts kine and kube-apiserver; `users` get static tokens (user name = token subject). */
export async function startCluster(users: { name: string; groups?: string[] }[] = []): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-'));
  const [etcdPort, apiPort] = [await freePort(), await freePort()];
  const tokens: Record<string, string> = {};
  const lines = ['admin-token-0000,admin,admin-uid,system:masters'];
  for (const u of users) {
    tokens[u.name] = `${u.name.replace(/[^a-z0-9]/gi, '')}-token-${Math.random().toString(36).slice(2, 10)}`;
    lines.push(`${tokens[u.name]},${u.name},${u.name}-uid${u.groups?.length ? `,"${u.groups.join(',')}"` : ''}`);
  }
  writeFileSync(join(dir, 'tokens.csv'), `${lines.join('\n')}\n`);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const log = (name: string) => openSync(join(dir, `${name}.log`), 'a');
  const procs: ChildProcess[] = [];
  const kine = spawn(cachedPath('bin', 'kine'), ['--listen-address', `127.0.0.1:${etcdPort}`, '--endpoint', `sqlite://${join(dir, 'state.db')}?_journal=WAL&cache=shared`, '--metrics-bind-address', '0'], {
    cwd: dir,
    stdio: ['ignore', log('kine'), log('kine')],
  });
  procs.push(kine);
  const apiArgs = (port: number, certDir: string) => [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--cert-dir=${certDir}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--allow-privileged=true',
    // No controller manager creates default service accounts, so that admission would refuse pods.
    '--disable-admission-plugins=ServiceAccount',
    '--enable-priority-and-fairness=false',
    '--profiling=false',
  ];
  const spawnApiserver = (port: number, certDir: string, logName: string) =>
    spawn(cachedPath('bin', 'kube-apiserver'), apiArgs(port, certDir), { cwd: dir, stdio: ['ignore', log(logName), log(logName)] });
  let api = spawnApiserver(apiPort, join(dir, 'certs'), 'apiserver');
  procs.push(api);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigFor = (user: string): string => {
    const token = user === 'admin' ? 'admin-token-0000' : tokens[user];
    if (!token) throw new Error(`no token for ${user}`);
    const file = join(dir, `kubeconfig-${user.replace(/[^a-z0-9]/gi, '_')}`);
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'gatehouse-test', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: user, user: { token } }],
        contexts: [{ name: 'test', context: { cluster: 'gatehouse-test', user } }],
        'current-context': 'test',
      }),
    );
    return file;
  };
  const stopProcess = async (p: ChildProcess) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => (p.kill('SIGKILL'), r(undefined)), 5000);
      p.once('exit', () => (clearTimeout(t), r(undefined)));
    });
  };
  const stop = async () => {
    for (const p of procs.reverse()) await stopProcess(p);
    rmSync(dir, { recursive: true, force: true });
  };
  // Ready when /readyz answers ok (the apiserver also waits for its RBAC bootstrap roles).
  const waitReady = async (proc: ChildProcess, url: string, logName: string) => {
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (proc.exitCode !== null || kine.exitCode !== null) {
        const tail = (f: string) => readFileSync(join(dir, f), 'utf8').split('\n').slice(-15).join('\n');
        throw new Error(`kube-apiserver or kine exited:\n${tail(`${logName}.log`)}\n${tail('kine.log')}`);
      }
      try {
        const res = await undiciFetch(`${url}/readyz`, { headers: { authorization: 'Bearer admin-token-0000' }, dispatcher: insecureAgent() });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error('kube-apiserver did not become ready within 180 s');
      await new Promise((r) => setTimeout(r, 500));
    }
  };
  try {
    await waitReady(api, server, 'apiserver');
  } catch (e) {
    await stop();
    throw e;
  }
  const stopApiserver = () => stopProcess(api);
  const startApiserver = async () => {
    if (api.exitCode === null && api.signalCode === null) throw new Error('kube-apiserver is still running');
    api = spawnApiserver(apiPort, join(dir, 'certs'), 'apiserver');
    procs.push(api);
    await waitReady(api, server, 'apiserver');
  };
  let sides = 0;
  const sideApiserver = async () => {
    const port = await freePort();
    const name = `apiserver-side-${++sides}`;
    const proc = spawnApiserver(port, join(dir, `certs-${name}`), name);
    procs.push(proc);
    const url = `https://127.0.0.1:${port}`;
    await waitReady(proc, url, name);
    return { server: url, stop: () => stopProcess(proc) };
  };
  return { server, adminToken: 'admin-token-0000', kubeconfig: kubeconfigFor('admin'), kubeconfigFor, tokens, dir, stop, stopApiserver, startApiserver, sideApiserver };
}

let agent: Agent | undefined;
/** An undici agent that accepts the apiserver's self-signed certificate (tests only). */
export function insecureAgent(): Agent {
  agent ??= new Agent({ connect: { rejectUnauthorized: false } });
  return agent;
}

export interface KubeResponse { status: number; body: any; warnings: string[]; ms: number }

/**
 * One API request with the admin token, answered with its status, parsed body, the
 * admission warnings the apiserver passed on (`Warning: 299 - "text"`, one header,
 * comma-separated) and how long it took.
 */
export async function kubeRequest(cluster: Pick<TestCluster, 'server' | 'adminToken'>, method: string, path: string, body?: unknown): Promise<KubeResponse> {
  const t0 = Date.now();
  const res = await undiciFetch(cluster.server + path, {
    method, dispatcher: insecureAgent(),
    headers: { authorization: `Bearer ${cluster.adminToken}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  const warnings = [...(res.headers.get('warning') ?? '').matchAll(/299 - "((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
  return { status: res.status, body: parsed, warnings, ms: Date.now() - t0 };
}

/**
 * Creates objects exactly as written (plain JSON POSTs with the admin token). client-node's
 * generic create would pass them through its typed models, which drop fields it spells
 * differently (a NetworkPolicy peer's `from`, an ipBlock's `except`).
 */
export async function createObjects(cluster: TestCluster, objects: Record<string, any>[]): Promise<void> {
  const plural = new Map<string, { name: string; namespaced: boolean }>();
  const headers = { authorization: `Bearer ${cluster.adminToken}`, 'content-type': 'application/json', accept: 'application/json' };
  const base = (apiVersion: string) => `${cluster.server}${apiVersion.includes('/') ? '/apis' : '/api'}/${apiVersion}`;
  for (const o of objects) {
    const key = `${o.apiVersion} ${o.kind}`;
    if (!plural.has(key)) {
      const res = await undiciFetch(base(o.apiVersion), { headers, dispatcher: insecureAgent() });
      const list = (await res.json()) as { resources: { name: string; kind: string; namespaced: boolean }[] };
      const r = list.resources.find((x) => x.kind === o.kind && !x.name.includes('/'));
      if (!r) throw new Error(`${key} is not served`);
      plural.set(key, { name: r.name, namespaced: r.namespaced });
    }
    const r = plural.get(key)!;
    const url = `${base(o.apiVersion)}${r.namespaced ? `/namespaces/${o.metadata?.namespace ?? 'default'}` : ''}/${r.name}`;
    const res = await undiciFetch(url, { method: 'POST', headers, body: JSON.stringify(o), dispatcher: insecureAgent() });
    if (!res.ok) throw new Error(`creating ${key} ${o.metadata?.name}: HTTP ${res.status} ${await res.text()}`);
  }
}
