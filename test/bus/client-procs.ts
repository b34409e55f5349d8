/**
 * The bus's other clients as a user runs them, for test/bus/clients*.test.ts:
 * `gatehouse engine-proxy` in front of podman's socket and `gatehouse admission serve` on
 * 127.0.0.1:0 (its local CA), each a child process with its stderr kept, plus AdmissionReview
 * and Docker API requests to them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, fetch } from 'undici';
import { podmanSocket } from '../helpers/components.js';
import { waitFor } from './helpers.js';

export { DENY_INFO } from '../helpers/engine-proxy-packs.js';

const bin = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));

export interface Child {
  child: ChildProcess;
  stderr(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

function launch(args: string[], env: Record<string, string | undefined>): Child {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

export interface ProxyChild extends Child {
  socket: string;
  audit: string;
}

/** `gatehouse engine-proxy --listen unix://DIR/docker.sock --upstream podman --audit DIR/audit.jsonl ARGS`. */
export async function startProxy(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<ProxyChild> {
  const socket = join(dir, 'docker.sock');
  const audit = join(dir, 'audit.jsonl');
  const p = launch(['engine-proxy', '--listen', `unix://${socket}`, '--upstream', `unix://${podmanSocket}`, '--audit', audit, '--spool-dir', join(dir, 'spool'), ...args], env);
  await waitFor('the proxy listening', () => {
    if (p.child.exitCode !== null) throw new Error(`engine-proxy exited: ${p.stderr()}`);
    return existsSync(socket);
  }, 120_000, 100);
  return { ...p, socket, audit };
}

/** A Docker API GET through the proxy's socket; its status. */
export function dockerGet(socketPath: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

export const auditLines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { decision: string; path: string; time: string }) : []);

export interface WebhookChild extends Child {
  url: string;
  /** POST an AdmissionReview to /validate; the response's `response`. */
  review(body: unknown): Promise<{ allowed: boolean; status?: { message: string } }>;
  close(): Promise<void>;
}

/**
 * `gatehouse admission serve --listen 127.0.0.1:0 --data-dir DIR/data ARGS`, once its ready line is out;
 * with `port` (for a run whose log level hides that line) on that port, once /healthz answers.
 */
export async function startWebhook(dir: string, args: string[], env: Record<string, string | undefined> = {}, port?: number): Promise<WebhookChild> {
  const p = launch(['admission', 'serve', '--listen', `127.0.0.1:${port ?? 0}`, '--data-dir', join(dir, 'data'), '--spool-dir', join(dir, 'spool'), ...args], env);
  const exited = () => {
    if (p.child.exitCode !== null) throw new Error(`admission serve exited: ${p.stderr()}`);
  };
  let url: string;
  let agent: Agent;
  if (port === undefined) {
    const ready = await waitFor('the webhook ready line', () => {
      exited();
      const line = p.stderr().split('\n').find((l) => l.includes('"admission webhook listening"'));
      return line ? (JSON.parse(line) as { url: string; caFile: string }) : undefined;
    }, 120_000, 100);
    url = ready.url;
    agent = new Agent({ connect: { ca: readFileSync(ready.caFile, 'utf8') } });
  } else {
    url = `https://127.0.0.1:${port}`;
    const caFile = join(dir, 'data', 'tls', 'ca.crt');
    agent = await waitFor('the webhook answering /healthz', async () => {
      exited();
      if (!existsSync(caFile)) return undefined;
      const a = new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
      const res = await fetch(`${url}/healthz`, { dispatcher: a }).catch(() => undefined);
      if (res?.status === 200) return a;
      await a.close();
      return undefined;
    }, 120_000, 200);
  }
  return {
    ...p,
    url,
    async review(body) {
      const res = await fetch(`${url}/validate`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { response: { allowed: boolean; status?: { message: string } } }).response;
    },
    close: () => agent.close(),
  };
}

let uidSeq = 0;

/** An AdmissionReview of a privileged Pod CREATE: the default packs deny it (pss-privileged). */
export function privilegedPodReview(name: string): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: `uid-${process.pid}-${++uidSeq}`,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'app', name, operation: 'CREATE',
      userInfo: { username: 'alice', groups: ['dev', 'system:authenticated'] },
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'app' }, spec: { containers: [{ name: 'web', image: 'registry.example/web:1.0', securityContext: { privileged: true } }] } },
      dryRun: false,
    },
  };
}

/** Every item of a paged Central list (admin token). */
export async function listAll<T>(get: (path: string) => Promise<{ status: number; text: string }>, path: string): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | null = null;
  do {
    const res = await get(`${path}${path.includes('?') ? '&' : '?'}limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
    const page = JSON.parse(res.text) as { items: T[]; nextCursor?: string | null };
    all.push(...page.items);
    cursor = page.nextCursor ?? null;
  } while (cursor);
  return all;
}
