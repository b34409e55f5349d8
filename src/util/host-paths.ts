/**
 * Host paths that hand a container the host when mounted into it: the one list behind the
 * workload field `container.hostMounts.runtimeSocket` (src/kube/fields/container.ts) and
 * the engine-request fields `container.sensitiveBinds` / `volume.sensitiveDevices`
 * (src/engine-proxy/fields/), so Kubernetes and engine-proxy policies agree on what a
 * runtime socket is.
 */
import { posix } from 'node:path';

/** Container runtime API sockets (docker, containerd, CRI-O, cri-dockerd, podman). */
export const RUNTIME_SOCKETS: readonly string[] = [
  '/var/run/docker.sock', '/run/docker.sock',
  '/var/run/containerd/containerd.sock', '/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock', '/run/crio/crio.sock',
  '/var/run/cri-dockerd.sock', '/run/cri-dockerd.sock',
  '/var/run/podman/podman.sock', '/run/podman/podman.sock',
];

/**
 * Directories holding runtime sockets (mounting one exposes the socket inside), including
 * /run/gatehouse where the engine proxy's own socket lives.
 */
export const RUNTIME_SOCKET_DIRS: readonly string[] = [
  '/var/run/docker', '/run/docker',
  '/var/run/containerd', '/run/containerd',
  '/var/run/crio', '/run/crio',
  '/var/run/podman', '/run/podman',
  '/run/gatehouse',
];

/** Runtime state (images, container filesystems, volumes of every container). */
export const RUNTIME_STATE_DIRS: readonly string[] = ['/var/lib/docker', '/var/lib/containers', '/var/lib/containerd'];

/** Host directories that are sensitive at and beneath them (configuration, kernel interfaces, root's home, devices). */
export const SENSITIVE_HOST_DIRS: readonly string[] = ['/etc', '/proc', '/sys', '/root', '/boot', '/dev'];

/**
 * Directories sensitive as a whole only: mounting one exposes everything above beneath it
 * (`/var/run` holds the docker socket), but ordinary paths below them (`/home/app/data`) are fine.
 */
export const SENSITIVE_PARENT_DIRS: readonly string[] = ['/', '/var', '/var/run', '/run', '/var/lib', '/usr', '/home'];

/** Paths whose mount exposes a runtime socket: a socket itself, or a directory holding one (as a whole). */
export const RUNTIME_SOCKET_MOUNTS: readonly string[] = [...RUNTIME_SOCKETS, ...RUNTIME_SOCKET_DIRS, '/var/run', '/run'];

/** Everything sensitive at and beneath the path. */
export const SENSITIVE_HOST_PATHS: readonly string[] = [...SENSITIVE_HOST_DIRS, ...RUNTIME_SOCKETS, ...RUNTIME_SOCKET_DIRS, ...RUNTIME_STATE_DIRS];

/** A host path without `.`/`..` segments or a trailing slash. */
export function normalizeHostPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

const under = (p: string, dir: string) => dir === '/' || p === dir || p.startsWith(`${dir}/`);

/** Why mounting this host path hands a container the host, or undefined when it does not. */
export function sensitiveHostPath(path: string): string | undefined {
  if (!path.startsWith('/')) return undefined;
  const p = normalizeHostPath(path);
  if (SENSITIVE_PARENT_DIRS.includes(p)) return `${p} holds host configuration and runtime sockets`;
  if (RUNTIME_SOCKETS.some((s) => under(p, s))) return `${p} is a container runtime socket`;
  const dir = [...RUNTIME_SOCKET_DIRS, ...RUNTIME_STATE_DIRS, ...SENSITIVE_HOST_DIRS].find((d) => under(p, d));
  if (!dir) return undefined;
  if (RUNTIME_SOCKET_DIRS.includes(dir)) return `${p} is in the runtime socket directory ${dir}`;
  if (RUNTIME_STATE_DIRS.includes(dir)) return `${p} is in the runtime state directory ${dir}`;
  return `${p} is in the sensitive host directory ${dir}`;
}

/** Whether mounting this host path exposes a container runtime socket. */
export function isRuntimeSocketMount(path: string): boolean {
  return RUNTIME_SOCKET_MOUNTS.includes(path.replace(/\/+$/, '') || '/');
}
