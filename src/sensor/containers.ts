/**
 * Attributes a process to its container: the mount namespace (reported by the probe for
 * every event) is mapped to a container id through /proc/<pid>/cgroup, then the id to
 * name, image, labels and privilege through the Docker-compatible API (Docker or podman's
 * socket). Results are cached per namespace, so the API is asked once per container.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { describeError } from '../util/errors.js';
import { splitImageName } from '../image/reference.js';

export interface ContainerInfo {
  /** 12-character short id, as Falco's container.id. */
  id: string;
  fullId: string;
  name: string;
  image: string;
  imageRepository: string;
  imageTag: string;
  imageId: string;
  privileged: boolean;
  labels: Record<string, string>;
  startTs?: number;
  type: string;
  /** uid → user name and gid → group name inside the container. */
  users: Map<number, string>;
  groups: Map<number, string>;
  /** Its addresses on the engine's networks (the container IP map of plain hosts). */
  ips?: string[];
}

interface InspectJson {
  Name?: string;
  Image?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean };
  State?: { StartedAt?: string; Pid?: number };
  NetworkSettings?: {
    IPAddress?: string;
    GlobalIPv6Address?: string;
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string }> | null;
  };
}

/** A container's addresses from its inspect document (every network, v4 and v6). */
export function containerIps(j: InspectJson): string[] {
  const out = new Set<string>();
  const ns = j.NetworkSettings;
  for (const ip of [ns?.IPAddress, ns?.GlobalIPv6Address]) if (ip) out.add(ip);
  for (const n of Object.values(ns?.Networks ?? {})) for (const ip of [n.IPAddress, n.GlobalIPv6Address]) if (ip) out.add(ip);
  return [...out];
}

/** libpod-<id>.scope, docker-<id>.scope, crio-<id>, cri-containerd-<id> or a bare /<id>. */
const CGROUP_ID = /(?:^|[/-])([0-9a-f]{64})(?:\.scope)?(?:$|\/)/m;

export function containerIdFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    const m = CGROUP_ID.exec(path);
    if (m) return m[1];
  }
  return undefined;
}

/** Repository and tag of a container's image name; an untagged name means "latest". */
export function splitImage(image: string): { repository: string; tag: string } {
  const { repository, tag, digest } = splitImageName(image);
  return { repository, tag: tag ?? (digest ? '' : 'latest') };
}

export function parsePasswd(text: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]!)) if (!m.has(Number(f[2]))) m.set(Number(f[2]), f[0]);
  }
  return m;
}

function readTable(path: string): Map<number, string> {
  try {
    return parsePasswd(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** Where the container engine's API listens: $DOCKER_HOST, else podman's, else Docker's socket. */
export function engineSocket(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return env.GATEHOUSE_PODMAN_SOCKET ?? '/run/podman/podman.sock';
}

export interface HostIdentity {
  users: Map<number, string>;
  groups: Map<number, string>;
}

export class ContainerResolver {
  /** cgroup v2 id → container (null: not a container). Ids are never reused, so this is exact. */
  private byCgroup = new Map<number, ContainerInfo | null>();
  private byId = new Map<string, Promise<ContainerInfo | null>>();
  private readonly agent: Agent;
  readonly host: HostIdentity;
  /** API lookups that failed (engine down, container gone): the event says so, not a guess. */
  lookupErrors = 0;
  lastError = '';
  /** Containers inspected, by short id, and address → container (latest start wins). */
  private readonly byShortId = new Map<string, ContainerInfo>();
  private readonly byIp = new Map<string, ContainerInfo>();
  /** Name and image from the engine's create/start events: what a container gone before its inspect still gets. */
  private readonly fromEvents = new Map<string, { name: string; image: string }>();
  private watching: AbortController | undefined;

  constructor(
    private readonly socketPath = engineSocket(),
    private readonly procRoot = '/proc',
  ) {
    this.agent = new Agent({ connect: { socketPath }, connections: 4 });
    this.host = { users: readTable('/etc/passwd'), groups: readTable('/etc/group') };
  }

  /** Synchronous answer when the cgroup is already known (the common case). */
  cached(cgroup: number): ContainerInfo | null | undefined {
    if (cgroup <= 1) return null;
    return this.byCgroup.get(cgroup);
  }

  /**
   * Learns a cgroup from an exec record, which carries the cgroup directory's name
   * (libpod-<id>.scope, docker-<id>.scope, cri-containerd-<id>.scope, or <id>).
   */
  async learn(cgroup: number, cgroupName: string, pid: number): Promise<ContainerInfo | null> {
    const hit = this.cached(cgroup);
    if (hit !== undefined) return hit;
    const id = containerIdFromCgroup(`0::/${cgroupName}`);
    return this.settle(cgroup, id, pid);
  }

  /** Resolves a cgroup first seen on a non-exec event, from /proc/<pid>/cgroup. */
  async resolve(cgroup: number, pid: number): Promise<ContainerInfo | null> {
    const hit = this.cached(cgroup);
    if (hit !== undefined) return hit;
    let text: string;
    try {
      text = readFileSync(`${this.procRoot}/${pid}/cgroup`, 'utf8');
    } catch {
      return null; // exited before we looked; a later exec in the cgroup will name it
    }
    const v2 = text.split('\n').find((l) => l.startsWith('0::')) ?? '';
    return this.settle(cgroup, containerIdFromCgroup(v2), pid);
  }

  private async settle(cgroup: number, id: string | undefined, pid: number): Promise<ContainerInfo | null> {
    if (!id) {
      this.byCgroup.set(cgroup, null);
      return null;
    }
    const info = await this.inspect(id, pid);
    if (info) this.byCgroup.set(cgroup, info);
    return info;
  }

  private inspect(fullId: string, pid: number): Promise<ContainerInfo | null> {
    let p = this.byId.get(fullId);
    if (!p) {
      p = this.fetchInspect(fullId, pid);
      this.byId.set(fullId, p);
    }
    return p;
  }

  private async fetchInspect(fullId: string, pid: number): Promise<ContainerInfo | null> {
    // Read the container's own user table while one of its processes is alive.
    let users = pid > 0 ? readTable(`${this.procRoot}/${pid}/root/etc/passwd`) : new Map<number, string>();
    let groups = pid > 0 ? readTable(`${this.procRoot}/${pid}/root/etc/group`) : new Map<number, string>();
    const known = this.fromEvents.get(fullId);
    const fallback: ContainerInfo = {
      id: fullId.slice(0, 12), fullId, name: known?.name ?? '', image: known?.image ?? '', imageRepository: '', imageTag: '', imageId: '',
      privileged: false, labels: {}, type: 'unknown', users, groups, ips: [],
    };
    if (known?.image) Object.assign(fallback, { imageRepository: splitImage(known.image).repository, imageTag: splitImage(known.image).tag });
    try {
      const res = await request(`http://engine/containers/${fullId}/json`, { dispatcher: this.agent, headersTimeout: 5000, bodyTimeout: 5000 });
      if (res.statusCode !== 200) {
        await res.body.dump();
        this.lookupErrors++;
        this.lastError = `engine API answered ${res.statusCode} for container ${fullId.slice(0, 12)}`;
        return this.remember(fallback);
      }
      const j = (await res.body.json()) as InspectJson;
      const image = j.Config?.Image ?? '';
      const { repository, tag } = splitImage(image);
      const started = j.State?.StartedAt ? Date.parse(j.State.StartedAt) : NaN;
      if (pid <= 0 && j.State?.Pid) {
        users = readTable(`${this.procRoot}/${j.State.Pid}/root/etc/passwd`);
        groups = readTable(`${this.procRoot}/${j.State.Pid}/root/etc/group`);
      }
      return this.remember({
        ...fallback,
        users,
        groups,
        name: (j.Name ?? '').replace(/^\//, ''),
        image,
        imageRepository: repository,
        imageTag: tag,
        imageId: (j.Image ?? '').replace(/^sha256:/, '').slice(0, 12),
        privileged: j.HostConfig?.Privileged === true,
        labels: j.Config?.Labels ?? {},
        startTs: Number.isNaN(started) ? undefined : started * 1e6,
        type: this.socketPath.includes('podman') ? 'podman' : 'docker',
        ips: containerIps(j),
      });
    } catch (e) {
      this.lookupErrors++;
      this.lastError = `container engine API at ${this.socketPath}: ${describeError(e)}`;
      this.byId.delete(fullId);
      return fallback;
    }
  }

  private remember(info: ContainerInfo): ContainerInfo {
    this.byShortId.set(info.id, info);
    for (const ip of info.ips ?? []) this.byIp.set(ip, info);
    return info;
  }

  /** A container inspected so far, by its 12-character id. */
  byShort(id: string): ContainerInfo | undefined {
    return this.byShortId.get(id);
  }

  /** The container that has this address on this host, when one is known. */
  byAddress(ip: string): ContainerInfo | undefined {
    return this.byIp.get(ip);
  }

  /**
   * Learns every running container now and each one that starts later (the engine's event
   * stream), so containers are known by address (the container IP map of plain hosts) and a
   * container that exits right after its work still has its name and image: the create
   * event's attributes are kept, and its inspect document is fetched when it starts.
   */
  async watch(): Promise<void> {
    if (this.watching) return;
    const ac = new AbortController();
    this.watching = ac;
    try {
      const res = await request('http://engine/containers/json', { dispatcher: this.agent, headersTimeout: 5000, bodyTimeout: 5000 });
      if (res.statusCode === 200) {
        const list = (await res.body.json()) as { Id?: string }[];
        await Promise.all(list.filter((c) => c.Id && /^[0-9a-f]{64}$/.test(c.Id)).map((c) => this.inspect(c.Id!, 0)));
      } else await res.body.dump();
    } catch (e) {
      this.lookupErrors++;
      this.lastError = `container engine API at ${this.socketPath}: ${describeError(e)}`;
    }
    void this.follow(ac.signal);
  }

  private async follow(signal: AbortSignal): Promise<void> {
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'] }));
    while (!signal.aborted) {
      try {
        const res = await request(`http://engine/events?filters=${filters}`, { dispatcher: this.agent, signal, headersTimeout: 5000, bodyTimeout: 0 });
        if (res.statusCode !== 200) {
          await res.body.dump();
          throw new Error(`events answered ${res.statusCode}`);
        }
        let buf = '';
        for await (const chunk of res.body) {
          buf += (chunk as Buffer).toString('utf8');
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            this.onEngineEvent(buf.slice(0, nl));
            buf = buf.slice(nl + 1);
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        this.lastError = `container engine events at ${this.socketPath}: ${describeError(e)}`;
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  private onEngineEvent(line: string): void {
    let ev: { id?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      ev = JSON.parse(line) as typeof ev;
    } catch {
      return;
    }
    const id = ev.Actor?.ID ?? ev.id ?? '';
    if (!/^[0-9a-f]{64}$/.test(id)) return;
    const a = ev.Actor?.Attributes ?? {};
    if (ev.Action === 'create' || ev.Action === 'init' || ev.Action === 'start') {
      if (a.name || a.image) {
        if (this.fromEvents.size >= 10_000) this.fromEvents.delete(this.fromEvents.keys().next().value!);
        this.fromEvents.set(id, { name: a.name ?? '', image: a.image ?? '' });
      }
    }
    // addresses are assigned by the time the container starts: its first inspect happens now
    if (ev.Action === 'start') {
      const prev = this.byId.get(id);
      if (!prev) void this.inspect(id, 0);
      else void prev.then((info) => {
        if (info && !info.ips?.length) {
          this.byId.delete(id);
          void this.inspect(id, 0);
        }
      });
    }
  }

  async close(): Promise<void> {
    this.watching?.abort();
    await this.agent.close();
  }
}
