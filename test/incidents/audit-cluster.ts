/**
 * kube-apiserver (over kine) with its audit webhook backend pointed at a Central: the
 * shared helper (test/helpers/kube-cluster.ts) takes no extra flags, so this wrapper starts
 * the same two binaries with the same settings plus --audit-policy-file and
 * --audit-webhook-config-file (batch mode, flushed every second).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch as undiciFetch } from 'undici';
import { cachedPath } from '../helpers/components.js';
import { insecureAgent } from '../helpers/kube-cluster.js';
import { freePort } from '../helpers/free-port.js';

export interface AuditCluster { server: string; adminToken: string; dir: string; stop(): Promise<void> }


/** Audits pods' exec/attach/portforward and everything the admin does (so unrelated audit events arrive too). */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    resources: [{ group: "", resources: ["pods/exec", "pods/attach", "pods/portforward"] }]
  - level: Metadata
    users: ["admin"]
  - level: None
`;

/** `extraArgs`: more kube-apiserver flags (e.g. `--audit-log-path=FILE`, the log backend beside the webhook). */
export async function startAuditCluster(webhookUrl: string, webhookToken: string, webhookCaPem?: string, extraArgs: string[] = []): Promise<AuditCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-kube-audit-'));
  const [etcdPort, apiPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'tokens.csv'), 'admin-token-0000,admin,admin-uid,system:masters\n');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'audit-policy.yaml'), AUDIT_POLICY);
  writeFileSync(join(dir, 'audit-webhook.json'), JSON.stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'central', cluster: { server: webhookUrl, ...(webhookCaPem ? { 'certificate-authority-data': Buffer.from(webhookCaPem).toString('base64') } : {}) } }],
    users: [{ name: 'apiserver', user: { token: webhookToken } }],
    contexts: [{ name: 'central', context: { cluster: 'central', user: 'apiserver' } }],
    'current-context': 'central',
  }));
  const log = (name: string) => openSync(join(dir, `${name}.log`), 'a');
  const procs: ChildProcess[] = [];
  const kine = spawn(cachedPath('bin', 'kine'), ['--listen-address', `127.0.0.1:${etcdPort}`, '--endpoint', `sqlite://${join(dir, 'state.db')}?_journal=WAL&cache=shared`, '--metrics-bind-address', '0'], {
    cwd: dir, stdio: ['ignore', log('kine'), log('kine')],
  });
  procs.push(kine);
  const api = spawn(cachedPath('bin', 'kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`, '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, `--cert-dir=${join(dir, 'certs')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc', `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16', '--allow-privileged=true', '--disable-admission-plugins=ServiceAccount',
    '--enable-priority-and-fairness=false', '--profiling=false',
    `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
    `--audit-webhook-config-file=${join(dir, 'audit-webhook.json')}`,
    // batch mode, flushed every second: a slow Central never holds up the apiserver's requests
    '--audit-webhook-mode=batch', '--audit-webhook-batch-max-wait=1s',
    ...extraArgs,
  ], { cwd: dir, stdio: ['ignore', log('apiserver'), log('apiserver')] });
  procs.push(api);
  const server = `https://127.0.0.1:${apiPort}`;
  const stop = async () => {
    for (const p of procs.reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => (p.kill('SIGKILL'), r(undefined)), 5000);
        p.once('exit', () => (clearTimeout(t), r(undefined)));
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (api.exitCode !== null || kine.exitCode !== null) {
      const tail = readFileSync(join(dir, 'apiserver.log'), 'utf8').split('\n').slice(-20).join('\n');
      await stop();
      throw new Error(`kube-apiserver or kine exited:\n${tail}`);
    }
    try {
      const res = await undiciFetch(`${server}/readyz`, { headers: { authorization: 'Bearer admin-token-0000' }, dispatcher: insecureAgent() });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error('kube-apiserver did not become ready within 180 s');
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { server, adminToken: 'admin-token-0000', dir, stop };
}
