/**
 * A real kube-apiserver (built by .ci/setup.d/66-kube.sh) over kine, started with extra flags
 * (test/helpers/kube-cluster.ts takes none): for the encryption-at-rest and audit checks, and
 * for kube-bench, which finds it by its process name (`exe` names a symlink to the binary).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { cachedPath } from '../helpers/components.js';
import { freePort } from '../helpers/free-port.js';


export interface RunningApiserver {
  pid: number;
  dir: string;
  /** The flags it was started with (after the binary). */
  args: string[];
  stop(): Promise<void>;
}

const agent = new Agent({ connect: { rejectUnauthorized: false } });

/** `files` are written into the work dir first; `{dir}` in extra flags is replaced by it. */
export async function startApiserver(opts: { extra?: (dir: string) => string[]; files?: Record<string, string>; exe?: string; authorizationMode?: string } = {}): Promise<RunningApiserver> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-node-api-'));
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
  const [etcdPort, apiPort] = [await freePort(), await freePort()];
  writeFileSync(join(dir, 'tokens.csv'), 'admin-token-0000,admin,admin-uid,system:masters\n');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  const log = (n: string) => openSync(join(dir, `${n}.log`), 'a');
  const kine = spawn(cachedPath('bin', 'kine'), ['--listen-address', `127.0.0.1:${etcdPort}`, '--endpoint', `sqlite://${join(dir, 'state.db')}?_journal=WAL&cache=shared`, '--metrics-bind-address', '0'], { cwd: dir, stdio: ['ignore', log('kine'), log('kine')] });
  const args = [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(dir, 'certs')}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--authorization-mode=${opts.authorizationMode ?? 'RBAC'}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--enable-priority-and-fairness=false',
    ...(opts.extra?.(dir) ?? []),
  ];
  let bin = cachedPath('bin', 'kube-apiserver');
  if (opts.exe) {
    symlinkSync(bin, join(dir, opts.exe));
    bin = join(dir, opts.exe);
  }
  const api = spawn(bin, args, { cwd: dir, stdio: ['ignore', log('apiserver'), log('apiserver')] });
  const stopProcess = async (p: ChildProcess) => {
    if (p.exitCode !== null || p.signalCode !== null) return;
    p.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => (p.kill('SIGKILL'), r(undefined)), 5000);
      p.once('exit', () => (clearTimeout(t), r(undefined)));
    });
  };
  const stop = async () => {
    await stopProcess(api);
    await stopProcess(kine);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (api.exitCode !== null || kine.exitCode !== null) {
      const tail = readFileSync(join(dir, 'apiserver.log'), 'utf8').split('\n').slice(-15).join('\n');
      await stop();
      throw new Error(`kube-apiserver exited:\n${tail}`);
    }
    try {
      const res = await undiciFetch(`https://127.0.0.1:${apiPort}/readyz`, { headers: { authorization: 'Bearer admin-token-0000' }, dispatcher: agent });
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
  return { pid: api.pid!, dir, args, stop };
}

export const ENCRYPTION_CONFIG = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: ${Buffer.alloc(32, 7).toString('base64')}
      - identity: {}
`;

export const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
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
