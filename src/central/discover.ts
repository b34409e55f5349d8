/**
 * What a Central started with nothing configured can watch on this machine: a local
 * Docker/podman engine socket and a kubeconfig. Discovery only looks; watching them is the
 * inventory jobs' work.
 */
import { realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { describeError } from '../util/errors.js';

export interface LocalSources {
  /** Engine API endpoints, as `unix:///path` (or DOCKER_HOST's tcp:// URL as given). */
  engineSockets: string[];
  /** The kubeconfig Central would use, and its current context. */
  kubeconfig?: { file: string; context: string };
  /** Why something that looked like a source was left out (one line each). */
  skipped: string[];
}

export function discoverLocalSources(env: NodeJS.ProcessEnv = process.env): LocalSources {
  const skipped: string[] = [];
  return { engineSockets: engineSockets(env, skipped), kubeconfig: kubeconfig(env, skipped), skipped };
}

function engineSockets(env: NodeJS.ProcessEnv, skipped: string[]): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const addSocket = (path: string, from: string): void => {
    const real = socketPath(path);
    if (real === undefined) {
      if (from === 'DOCKER_HOST') skipped.push(`DOCKER_HOST ${env.DOCKER_HOST}: no socket at ${path}`);
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    found.push(`unix://${path}`);
  };
  const dockerHost = env.DOCKER_HOST?.trim();
  if (dockerHost) {
    if (dockerHost.startsWith('unix://')) addSocket(dockerHost.slice('unix://'.length), 'DOCKER_HOST');
    else if (/^(tcp|https?):\/\//.test(dockerHost)) found.push(dockerHost);
    else skipped.push(`DOCKER_HOST ${dockerHost}: not a unix:// or tcp:// address`);
  }
  const candidates = ['/run/podman/podman.sock', '/var/run/docker.sock'];
  if (env.XDG_RUNTIME_DIR) candidates.push(join(env.XDG_RUNTIME_DIR, 'podman', 'podman.sock'));
  for (const path of candidates) addSocket(path, path);
  return found;
}

/** The socket's real path (links such as /var/run → /run resolved), or undefined when there is none. */
function socketPath(path: string): string | undefined {
  try {
    if (!statSync(path).isSocket()) return undefined;
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

function kubeconfig(env: NodeJS.ProcessEnv, skipped: string[]): LocalSources['kubeconfig'] {
  // KUBECONFIG may list several files; kubectl merges them, and its first file is the one
  // whose current-context wins, which is the one named here.
  const listed = env.KUBECONFIG?.split(':').filter(Boolean) ?? [];
  const files = listed.length ? listed : [join(env.HOME || homedir(), '.kube', 'config')];
  const file = files.find(isFile);
  if (file === undefined) {
    if (listed.length) skipped.push(`KUBECONFIG ${env.KUBECONFIG}: no such file`);
    return undefined;
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    skipped.push(`kubeconfig ${file}: ${describeError(e)}`);
    return undefined;
  }
  const context = kc.getCurrentContext();
  if (!context || !kc.getCurrentCluster()) {
    skipped.push(`kubeconfig ${file}: no current context with a cluster`);
    return undefined;
  }
  return { file, context };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
