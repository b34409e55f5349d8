/**
 * `gatehouse sensor --cgroup-parent PATH`: the sensor reports only containers whose cgroup
 * lies below PATH in the cgroup v2 hierarchy — what one node's containers share when several
 * "nodes" run on one kernel (kind, nested kubelets, two sensors in a test), and how a node's
 * pods are told from everything else on it (kubelet puts them below kubepods.slice; podman
 * and Docker take --cgroup-parent). The engine API does not know the kubelet's parent, and a
 * label selector trusts whoever starts the container: the cgroup is what the kernel says.
 *
 * Container ids are read from the names of the cgroup directories below PATH (libpod-<id>,
 * docker-<id>.scope, cri-containerd-<id>.scope, crio-<id>.scope, or <id>); the subtree is
 * walked again only when a container id is not known either way, and a container found
 * outside PATH is remembered as such (cgroups do not move), so the per-event cost is one
 * map lookup.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';

const CONTAINER_DIR = /(?:^|[-_])([0-9a-f]{64})(?:\.scope)?$/;
/** Walks of the subtree are bounded: a node has hundreds of cgroups, not millions. */
const MAX_DIRS = 100_000;
/** Negative answers kept (oldest forgotten first). */
const MAX_OUTSIDE = 50_000;

/** The cgroup v2 mount: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
export function cgroupV2Root(base = '/sys/fs/cgroup'): string {
  if (existsSync(join(base, 'cgroup.controllers'))) return base;
  if (existsSync(join(base, 'unified', 'cgroup.controllers'))) return join(base, 'unified');
  throw new UserError(`--cgroup-parent needs the cgroup v2 hierarchy: neither ${base} nor ${base}/unified is one`, 'usage');
}

/** A --cgroup-parent value: an absolute cgroup path without `..`, e.g. /kubepods.slice or /node-a. */
export function parseCgroupParent(value: string): string {
  const v = value.trim();
  if (!v.startsWith('/') || v.split('/').some((p) => p === '..' || p === '.') || /[\0\n]/.test(v)) {
    throw new UserError(`--cgroup-parent must be an absolute cgroup path such as /kubepods.slice, got '${value}'`, 'usage');
  }
  const normal = v.replace(/\/+/g, '/').replace(/\/$/, '');
  if (!normal) throw new UserError("--cgroup-parent '/' is every container: leave the option out instead", 'usage');
  return normal;
}

export class CgroupScope {
  private readonly dir: string;
  /** Short (12-character) ids of containers found below the parent. */
  private readonly inside = new Set<string>();
  private readonly outside = new Set<string>();
  walks = 0;

  /** `parent` as parseCgroupParent returns it; `root` the cgroup v2 mount. */
  constructor(readonly parent: string, root = cgroupV2Root()) {
    this.dir = join(root, parent);
  }

  /** True when the container (by Falco's 12-character container.id) runs below the parent; the host never does. */
  hasContainer(shortId: string | undefined): boolean {
    if (!shortId || shortId === 'host') return false;
    const id = shortId.slice(0, 12);
    if (this.inside.has(id)) return true;
    if (this.outside.has(id)) return false;
    this.walk();
    if (this.inside.has(id)) return true;
    if (this.outside.size >= MAX_OUTSIDE) this.outside.delete(this.outside.values().next().value!);
    this.outside.add(id);
    return false;
  }

  /** Reads the container ids below the parent (a missing parent: none yet). */
  walk(): void {
    this.walks++;
    const stack = [this.dir];
    let seen = 0;
    while (stack.length && seen < MAX_DIRS) {
      const d = stack.pop()!;
      let entries;
      try {
        entries = readdirSync(d, { withFileTypes: true });
      } catch {
        continue; // removed while we walked, or the parent does not exist yet
      }
      for (const e of entries) {
        if (!e.isDirectory()) continue;
        seen++;
        const m = CONTAINER_DIR.exec(e.name);
        if (m) this.inside.add(m[1]!.slice(0, 12));
        stack.push(join(d, e.name));
      }
    }
  }
}
