/** Shared set-up for engine-proxy tests: an in-process proxy in front of podman's API. */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, podmanSocket } from '../helpers/components.js';
import { JsonlAuditLog } from '../../src/engine-proxy/audit.js';
import { EngineProxy, type EngineProxyOptions } from '../../src/engine-proxy/proxy.js';
import { loadEnginePolicies, type EnginePolicies } from '../../src/engine-proxy/policy.js';
import { subjects } from '../../src/subjects/index.js';

export const TEST_IMAGE = 'localhost/gatehouse-ep-busybox:1';
/** runc here cannot raise rlimits past the sandbox's hard limits; podman's defaults would. */
export const ULIMITS = ['--ulimit', 'nproc=1024:1024', '--ulimit', 'nofile=1024:1024'];

export function podmanUp(): boolean {
  return existsSync(podmanSocket) && hasCommand('docker');
}

export function testImagePresent(): Promise<boolean> {
  return docker(`unix://${podmanSocket}`, ['image', 'inspect', TEST_IMAGE]).then((r) => r.code === 0);
}

/** The built-in engine pack, compiled. */
export function defaultPolicies(): Promise<EnginePolicies> {
  return loadEnginePolicies([], subjects());
}

/** A pack file (full YAML text) written to a scratch directory; returns its path. */
export function writePack(text: string, name = 'pack.yaml'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'gh-ep-pack-')), name);
  writeFileSync(file, text);
  return file;
}

/** A PolicyPack named `name` about engine-request holding these policies (YAML list items under `policies:`). */
export function packText(name: string, policiesYaml: string): string {
  return `apiVersion: gatehouse.dev/v1\nkind: PolicyPack\nmetadata: { name: ${name} }\nsubject: engine-request\npolicies:\n${policiesYaml}`;
}

/** Only the given policies (a pack named `name`). */
export function policiesOnly(name: string, policiesYaml: string): Promise<EnginePolicies> {
  return loadEnginePolicies([writePack(packText(name, policiesYaml))], subjects());
}

/** The built-in engine pack plus a pack `test` of extra policies (YAML list items under `policies:`). */
export function policyWith(extraPoliciesYaml: string): Promise<EnginePolicies> {
  return loadEnginePolicies(['engine', writePack(packText('test', extraPoliciesYaml))], subjects());
}

export interface RunningProxy {
  proxy: EngineProxy;
  socket: string;
  host: string;
  auditPath: string;
  dir: string;
  audit(): Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startProxy(policy: EnginePolicies, extra: Partial<EngineProxyOptions> = {}): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-'));
  const socket = join(dir, 'docker.sock');
  const auditPath = join(dir, 'audit.jsonl');
  const audit = new JsonlAuditLog(auditPath, () => {});
  const proxy = new EngineProxy({
    listen: { kind: 'unix', path: socket },
    upstream: { kind: 'unix', path: podmanSocket },
    policy,
    audit,
    ...extra,
  });
  await proxy.start();
  return {
    proxy,
    socket,
    host: `unix://${socket}`,
    auditPath,
    dir,
    audit: () =>
      existsSync(auditPath)
        ? readFileSync(auditPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
        : [],
    close: async () => {
      await proxy.close();
      await audit.close();
    },
  };
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real docker CLI (asynchronously: the proxy may live in this process). */
export function docker(host: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<Run> {
  return run('docker', args, { ...opts, env: { DOCKER_HOST: host, DOCKER_BUILDKIT: '0', ...opts.env } });
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 90_000, maxBuffer: 64 << 20, env: { ...process.env, ...opts.env } },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
