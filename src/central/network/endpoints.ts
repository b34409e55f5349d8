/**
 * Endpoint resolution for observed flows, through Central's stored inventory:
 *
 * - a pod IP (status.podIP / podIPs of a live Pod not on the host network) → the Pod → its
 *   controller chain (Pod → ReplicaSet → Deployment, Pod → Job → CronJob) → the deployment;
 * - a flow's own pod (namespace/name from the sensor) the same way, also when the Pod is
 *   already deleted (a container that exited quickly) or was never stored (its ReplicaSet is
 *   found from the pod name);
 * - a container IP on a plain host → the container (a deployment of kind Container);
 * - a Service ClusterIP (or external IP) → the Service → the one deployment it selects, or a
 *   `service` node when it selects several or none;
 * - anything else → an external CIDR: a configured network holding the address, else the
 *   address itself as /32 (/128), labelled with the DNS name the flow carries.
 *
 * One index per source, built from the objects table on first use and then updated
 * incrementally: each use reads only the objects whose last_seen moved since the previous
 * look (index objects_by_source_seen, migration 0008; deletions set last_seen too). Memory is
 * one small entry per live Pod, Service, ReplicaSet, Job and container, plus at most
 * TOMBSTONES recently deleted Pods kept for late flows.
 */
import { hash128 } from '../../findings/fingerprint.js';
import { parseCidr, type Interval } from '../../kube/netpol/ipset.js';
import { workloadKindOf } from '../../kube/workload-kinds.js';
import type { ObservedFlow } from '../../network/flow.js';
import type { GraphEndpoint } from '../../network/graph.js';
import { deploymentId } from '../live/deployments.js';
import type { Database } from '../store/schema.js';
import { OwnerNames } from '../store/owner-names.js';
import type { Kysely, Transaction } from 'kysely';
import { Slices } from '../bus/slices.js';

type Db = Kysely<Database> | Transaction<Database>;

const KINDS = ['Pod', 'Service', 'ReplicaSet', 'Job', 'Container'];
const TOMBSTONES = 10_000;
const PAGE = 2000;
const REREAD_MS = 5000;

export interface ExternalNetwork {
  cidr: string;
  name?: string;
}

interface PodEntry {
  namespace: string;
  name: string;
  ips: string[];
  labels: Record<string, string>;
  owner?: { kind: string; name: string };
}

interface ServiceEntry {
  namespace: string;
  name: string;
  ips: string[];
  selector?: Record<string, string>;
}

interface ContainerEntry {
  name: string;
  ips: string[];
}

type Target = { kind: 'pod' | 'service' | 'container'; uid: string };

/** The resolved ends of one flow, as the graph's source (client) and destination (server). */
export interface ResolvedFlow {
  src: GraphEndpoint;
  dst: GraphEndpoint;
  port: number;
}

class SourceIndex {
  mark = '';
  readonly byIp = new Map<string, Target>();
  readonly pods = new Map<string, PodEntry>();
  readonly podsByName = new Map<string, string>();
  /** Deleted pods by namespace/name, oldest first (Map order), for flows that arrive late. */
  readonly gonePods = new Map<string, PodEntry>();
  readonly owners = new Map<string, { kind: string; name: string } | null>();
  readonly services = new Map<string, ServiceEntry>();
  readonly containers = new Map<string, ContainerEntry>();
  readonly containersByName = new Map<string, string>();

  constructor(readonly sourceId: string, readonly kind: 'cluster' | 'host', readonly name: string) {}

  /**
   * Where the last read ended once the mark was older than REREAD_MS: nothing can still commit
   * at or before it, so the next read starts there. Without it, a quiet inventory whose first
   * list stamped a whole kind with one time (45,000 pods) was read again at every refresh.
   */
  private settled?: { seen: string; kind: string; uid: string };

  private refreshing: Promise<void> = Promise.resolve();

  /**
   * Reads what changed since the last look, one refresh at a time: the bus consumer's two
   * fetch loops otherwise both read the whole inventory at their first flows (45,000 pods at
   * 15k deployments), and each later one reads only what moved after the one before.
   */
  refresh(db: Db): Promise<void> {
    const run = this.refreshing.catch(() => undefined).then(() => this.read(db));
    this.refreshing = run;
    return run;
  }

  private async read(db: Db): Promise<void> {
    const started = Date.now();
    // A page is up to 2,000 bodies to parse: in slices, so API requests are answered between.
    const slices = new Slices();
    if (!this.mark) return this.readAll(db, started, slices);
    // Re-read a few seconds back: a writer's transaction may commit rows stamped before our last look.
    const since = this.mark ? new Date(Date.parse(this.mark) - REREAD_MS).toISOString() : '';
    let after = this.mark && this.settled?.seen === this.mark ? this.settled : { seen: since, kind: '', uid: '' };
    for (;;) {
      const rows = await db.selectFrom('objects').select(['kind', 'uid', 'namespace', 'name', 'body', 'deleted_at', 'last_seen'])
        .where('source_id', '=', this.sourceId).where('kind', 'in', KINDS)
        .where((eb) => eb.or([
          eb('last_seen', '>', after.seen),
          eb.and([eb('last_seen', '=', after.seen), eb.or([eb('kind', '>', after.kind), eb.and([eb('kind', '=', after.kind), eb('uid', '>', after.uid)])])]),
        ]))
        .orderBy('last_seen').orderBy('kind').orderBy('uid').limit(PAGE).execute();
      for (const r of rows) {
        await slices.pass();
        this.apply(r.kind, r.uid, r.namespace, r.name, r.deleted_at === null ? JSON.parse(r.body) : undefined);
      }
      const last = rows[rows.length - 1];
      if (last) {
        after = { seen: last.last_seen, kind: last.kind, uid: last.uid };
        if (last.last_seen > this.mark) this.mark = last.last_seen;
      }
      if (rows.length < PAGE) break;
    }
    // (assumes Central's and the writers' clocks agree within REREAD_MS)
    if (this.mark && started - Date.parse(this.mark) > REREAD_MS && after.seen === this.mark) this.settled = after;
  }

  /**
   * The first load, kind by kind in primary-key order (source_id, kind, uid): each page is one
   * index range. Paged by last_seen (as later reads are), every page re-read and sorted, bodies
   * and all, every row stamped with the page's last_seen — and a cluster's first list stamps a
   * whole kind with one time: 45,000 pods read for each of their 23 pages at 15k deployments
   * (pg_stat_statements: 3.5–7.6 s of PostgreSQL's time in a bench:scale run).
   */
  private async readAll(db: Db, started: number, slices: Slices): Promise<void> {
    let maxSeen = '';
    // The greatest (kind, uid) read at maxSeen, in the store's order: kinds in sorted order (these
    // five ASCII names sort the same in every collation), uids as the store returns them.
    let atMax = { kind: '', uid: '' };
    for (const kind of [...KINDS].sort()) {
      let after = '';
      for (;;) {
        const rows = await db.selectFrom('objects').select(['uid', 'namespace', 'name', 'body', 'deleted_at', 'last_seen'])
          .where('source_id', '=', this.sourceId).where('kind', '=', kind).where('uid', '>', after)
          .orderBy('uid').limit(PAGE).execute();
        for (const r of rows) {
          await slices.pass();
          this.apply(kind, r.uid, r.namespace, r.name, r.deleted_at === null ? JSON.parse(r.body) : undefined);
          if (r.last_seen > maxSeen) maxSeen = r.last_seen;
          if (r.last_seen === maxSeen) atMax = { kind, uid: r.uid };
        }
        if (rows.length < PAGE) break;
        after = rows[rows.length - 1]!.uid;
      }
    }
    if (!maxSeen) return;
    // A row changed during the scan (after its key was passed) is stamped at or after `started`:
    // the mark never passes it, so the next read (from mark - REREAD_MS) finds it.
    const startedIso = new Date(started).toISOString();
    this.mark = maxSeen < startedIso ? maxSeen : startedIso;
    // Nothing can still commit at or before an old mark, and every row at it was read.
    if (this.mark === maxSeen && started - Date.parse(maxSeen) > REREAD_MS) this.settled = { seen: maxSeen, ...atMax };
  }

  private unmapIps(ips: readonly string[], uid: string): void {
    for (const ip of ips) if (this.byIp.get(ip)?.uid === uid) this.byIp.delete(ip);
  }

  /** One object changed (body) or was deleted (undefined). */
  apply(kind: string, uid: string, namespace: string, name: string, body: Record<string, any> | undefined): void {
    if (kind === 'Pod') {
      const old = this.pods.get(uid);
      if (old) this.unmapIps(old.ips, uid);
      if (!body) {
        if (old) {
          this.pods.delete(uid);
          if (this.podsByName.get(`${old.namespace}/${old.name}`) === uid) this.podsByName.delete(`${old.namespace}/${old.name}`);
          const key = `${old.namespace}/${old.name}`;
          this.gonePods.delete(key);
          this.gonePods.set(key, old);
          if (this.gonePods.size > TOMBSTONES) this.gonePods.delete(this.gonePods.keys().next().value!);
        }
        return;
      }
      const owner = controllerOf(body);
      const phase = body.status?.phase;
      const ips = body.spec?.hostNetwork === true || phase === 'Succeeded' || phase === 'Failed' ? [] : podIps(body);
      const entry: PodEntry = { namespace, name, ips, labels: strMap(body.metadata?.labels), owner };
      this.pods.set(uid, entry);
      this.podsByName.set(`${namespace}/${name}`, uid);
      for (const ip of ips) this.byIp.set(ip, { kind: 'pod', uid });
    } else if (kind === 'Service') {
      const old = this.services.get(uid);
      if (old) this.unmapIps(old.ips, uid);
      if (!body) {
        this.services.delete(uid);
        return;
      }
      const spec = body.spec ?? {};
      const ips = [...new Set([...(Array.isArray(spec.clusterIPs) ? spec.clusterIPs : []), spec.clusterIP, ...(Array.isArray(spec.externalIPs) ? spec.externalIPs : [])]
        .filter((ip): ip is string => typeof ip === 'string' && ip !== '' && ip !== 'None'))];
      const selector = spec.selector && typeof spec.selector === 'object' && Object.keys(spec.selector).length ? strMap(spec.selector) : undefined;
      this.services.set(uid, { namespace, name, ips, selector });
      for (const ip of ips) if (this.byIp.get(ip)?.kind !== 'pod') this.byIp.set(ip, { kind: 'service', uid });
    } else if (kind === 'ReplicaSet' || kind === 'Job') {
      const key = `${kind}/${namespace}/${name}`;
      if (!body) this.owners.delete(key);
      else this.owners.set(key, controllerOf(body) ?? null);
    } else if (kind === 'Container') {
      const old = this.containers.get(uid);
      if (old) this.unmapIps(old.ips, uid);
      if (!body) {
        if (old && this.containersByName.get(old.name) === uid) this.containersByName.delete(old.name);
        this.containers.delete(uid);
        return;
      }
      const nets = body.NetworkSettings ?? {};
      const ips = [...new Set([nets.IPAddress, nets.GlobalIPv6Address, ...Object.values(nets.Networks ?? {}).flatMap((n: any) => [n?.IPAddress, n?.GlobalIPv6Address])]
        .filter((ip): ip is string => typeof ip === 'string' && ip !== ''))];
      this.containers.set(uid, { name, ips });
      this.containersByName.set(name, uid);
      for (const ip of ips) this.byIp.set(ip, { kind: 'container', uid });
    }
  }

  /** The top-level workload of a pod, following controllers (at most three hops). */
  workloadOfPod(namespace: string, pod: PodEntry | undefined, podName: string): { kind: string; name: string } | undefined {
    let cur = pod?.owner;
    if (!pod) {
      // Never stored (it came and went between two watch events): guess its ReplicaSet or Job from the name.
      const cut = podName.lastIndexOf('-');
      const base = cut > 0 ? podName.slice(0, cut) : '';
      if (base && this.owners.has(`ReplicaSet/${namespace}/${base}`)) cur = { kind: 'ReplicaSet', name: base };
      else if (base && this.owners.has(`Job/${namespace}/${base}`)) cur = { kind: 'Job', name: base };
      else return undefined;
    }
    if (!cur) return { kind: 'Pod', name: podName };
    for (let hop = 0; hop < 3; hop++) {
      const key = `${cur.kind}/${namespace}/${cur.name}`;
      const up = this.owners.get(key);
      if (up) {
        cur = up;
        continue;
      }
      // A ReplicaSet not stored (yet): a Deployment's is named `<deployment>-<pod-template-hash>`.
      const hash = pod?.labels['pod-template-hash'];
      if (!this.owners.has(key) && cur.kind === 'ReplicaSet' && hash && cur.name.endsWith(`-${hash}`)) cur = { kind: 'Deployment', name: cur.name.slice(0, -hash.length - 1) };
      break;
    }
    return cur;
  }

  deployment(kind: string, namespace: string, name: string): GraphEndpoint {
    const id = deploymentId(this.sourceId, kind, namespace, name);
    if (kind === 'Container') return { id, kind: 'deployment', label: `${this.name}/${name}`, name, workloadKind: 'Container' };
    return { id, kind: 'deployment', label: `${namespace}/${name}`, namespace, name, workloadKind: kind };
  }

  podEndpoint(namespace: string, name: string): GraphEndpoint | undefined {
    const uid = this.podsByName.get(`${namespace}/${name}`);
    const pod = uid ? this.pods.get(uid) : this.gonePods.get(`${namespace}/${name}`);
    const w = this.workloadOfPod(namespace, pod, name);
    return w ? this.deployment(w.kind, namespace, w.name) : undefined;
  }

  byAddress(ip: string): GraphEndpoint | undefined {
    const t = this.byIp.get(ip);
    if (!t) return undefined;
    if (t.kind === 'pod') {
      const pod = this.pods.get(t.uid)!;
      const w = this.workloadOfPod(pod.namespace, pod, pod.name)!;
      return this.deployment(w.kind, pod.namespace, w.name);
    }
    if (t.kind === 'container') return this.deployment('Container', '', this.containers.get(t.uid)!.name);
    const svc = this.services.get(t.uid)!;
    // The workloads its selector picks among the live pods of its namespace.
    const picked = new Map<string, GraphEndpoint>();
    if (svc.selector) {
      for (const pod of this.pods.values()) {
        if (pod.namespace !== svc.namespace || !Object.entries(svc.selector).every(([k, v]) => pod.labels[k] === v)) continue;
        const w = this.workloadOfPod(pod.namespace, pod, pod.name)!;
        const e = this.deployment(w.kind, pod.namespace, w.name);
        picked.set(e.id, e);
        if (picked.size > 1) break;
      }
    }
    if (picked.size === 1) return [...picked.values()][0];
    return { id: `service:${hash128(`${this.sourceId}\u001f${svc.namespace}\u001f${svc.name}`)}`, kind: 'service', label: `${svc.namespace}/${svc.name}`, namespace: svc.namespace, name: svc.name };
  }

  containerEndpoint(c: NonNullable<ObservedFlow['local']['container']>): GraphEndpoint | undefined {
    let uid = this.containers.has(c.id) ? c.id : undefined;
    if (!uid && c.id.length >= 12) for (const k of this.containers.keys()) if (k.startsWith(c.id)) { uid = k; break; }
    const name = uid ? this.containers.get(uid)!.name : c.name?.replace(/^\//, '');
    return name ? this.deployment('Container', '', name) : undefined;
  }
}

function strMap(v: unknown): Record<string, string> {
  return v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x ?? '')])) : {};
}

function controllerOf(body: Record<string, any>): { kind: string; name: string } | undefined {
  const refs = (body.metadata?.ownerReferences ?? []) as { kind?: string; name?: string; controller?: boolean }[];
  const r = refs.find((x) => x.controller && x.kind && x.name && workloadKindOf(x.kind)?.runsPods);
  return r ? { kind: r.kind!, name: r.name! } : undefined;
}

function podIps(body: Record<string, any>): string[] {
  const ips = new Set<string>();
  if (typeof body.status?.podIP === 'string' && body.status.podIP) ips.add(body.status.podIP);
  for (const p of Array.isArray(body.status?.podIPs) ? body.status.podIPs : []) if (typeof p?.ip === 'string' && p.ip) ips.add(p.ip);
  return [...ips];
}

/**
 * Resolves flows to graph endpoints. One per Central (see networkIndexOf); its per-source
 * indexes follow the inventory through the objects table, so it needs no change notices.
 */
export class NetworkIndex {
  private readonly sources = new Map<string, SourceIndex>();
  private readonly names = new OwnerNames();
  private readonly networks: { iv: Interval; cidr: string; name?: string }[];

  constructor(options: { externalNetworks?: readonly ExternalNetwork[] } = {}) {
    this.networks = (options.externalNetworks ?? []).map((n) => {
      const iv = parseCidr(n.cidr);
      if (!iv) throw new Error(`external network ${n.cidr}: not an IPv4 CIDR`);
      return { iv, cidr: n.cidr, name: n.name };
    }).sort((a, b) => (a.iv[1] - a.iv[0]) - (b.iv[1] - b.iv[0]));
  }

  /** The up-to-date index of the source a batch came from (undefined: a source Central does not watch). */
  async source(db: Db, kind: 'cluster' | 'host', name: string): Promise<SourceIndex | undefined> {
    const row = await db.selectFrom('sources').select('id').where('kind', '=', kind).where('name', '=', name).executeTakeFirst();
    if (!row) return undefined;
    let idx = this.sources.get(row.id);
    if (!idx) {
      idx = new SourceIndex(row.id, kind, name);
      this.sources.set(row.id, idx);
    }
    // Sources removed since: drop their indexes (bounded by the sources Central watches).
    if (this.sources.size > 1) {
      const live = new Set((await db.selectFrom('sources').select('id').execute()).map((r) => r.id));
      for (const id of this.sources.keys()) if (!live.has(id)) this.sources.delete(id);
    }
    await idx.refresh(db);
    return idx;
  }

  /** Alert resolution's names (store/owner-names.ts), kept as long as this index: one per Central. */
  ownerNames(): OwnerNames {
    return this.names;
  }

  /** An address Central cannot place in its inventory. */
  external(ip: string, dns: string | undefined): GraphEndpoint {
    const v4 = parseCidr(ip);
    const net = v4 ? this.networks.find((n) => n.iv[0] <= v4[0] && v4[1] <= n.iv[1]) : undefined;
    const cidr = net ? net.cidr : `${ip}/${v4 ? 32 : 128}`;
    const label = net?.name ?? (net ? cidr : dns ?? cidr);
    return { id: `external:${cidr}`, kind: 'external', label, cidr, ...(dns && !net ? { dns } : {}) };
  }

  /** Both ends of a flow, as client (src) and server (dst), and the server port. */
  resolve(idx: SourceIndex | undefined, origin: { cluster?: string; host?: string }, flow: ObservedFlow): ResolvedFlow {
    const local = this.localEnd(idx, origin, flow);
    const remote = (idx?.byAddress(flow.remote.ip)) ?? this.external(flow.remote.ip, flow.remote.dns);
    return flow.direction === 'egress' ? { src: local, dst: remote, port: flow.remote.port } : { src: remote, dst: local, port: flow.local.port };
  }

  private localEnd(idx: SourceIndex | undefined, origin: { cluster?: string; host?: string }, flow: ObservedFlow): GraphEndpoint {
    const pod = flow.local.pod;
    if (idx && pod) {
      const e = idx.podEndpoint(pod.namespace, pod.name);
      if (e) return e;
    }
    if (idx && flow.local.container && idx.kind === 'host') {
      const e = idx.containerEndpoint(flow.local.container);
      if (e) return e;
    }
    const byIp = idx?.byAddress(flow.local.ip);
    if (byIp) return byIp;
    if (pod) {
      // A pod Central cannot place (its source not watched, or nothing stored of it): its namespace.
      const where = origin.cluster ?? origin.host ?? '';
      return { id: `namespace:${where}/${pod.namespace}`, kind: 'namespace', label: pod.namespace, namespace: pod.namespace };
    }
    if (flow.local.container?.name && origin.host) {
      const name = flow.local.container.name.replace(/^\//, '');
      return { id: `container:${origin.host}/${name}`, kind: 'deployment', label: `${origin.host}/${name}`, name, workloadKind: 'Container' };
    }
    return this.external(flow.local.ip, undefined);
  }
}

const INDEXES = new WeakMap<object, NetworkIndex>();

/** The one NetworkIndex of a Central (keyed by its context object). */
export function networkIndexOf(owner: object): NetworkIndex {
  let idx = INDEXES.get(owner);
  if (!idx) {
    idx = new NetworkIndex();
    INDEXES.set(owner, idx);
  }
  return idx;
}
