/**
 * Declared connectivity intent: which workloads (or IP ranges) must reach which, on which
 * ports. Read from an explicit list file, and inferred from service references a workload
 * carries in its environment (env values, ConfigMap keys it imports): `checkout-service.backend`,
 * `productcatalogservice:3550`, `http://cart.shop.svc.cluster.local:7070/x`, or an
 * `X_ADDR`/`X_HOST` value with a sibling `X_PORT`.
 */
import { parseDocument } from 'yaml';
import { UserError } from '../../util/errors.js';
import { ConnSet, PROTOCOLS, type Protocol } from './conns.js';
import { parseCidr, isIpv6Cidr, type IpSet } from './ipset.js';
import type { ClusterModel, ServiceModel, Workload } from './model.js';

export type Endpoint = { type: 'workload'; w: Workload } | { type: 'cidr'; cidr: string; set: IpSet };

export interface IntentConnection {
  from: Endpoint;
  to: Endpoint;
  conns: ConnSet;
  /** Where the intent comes from, for messages. */
  origin: string;
}

export function endpointId(e: Endpoint): string {
  return e.type === 'workload' ? e.w.id : e.cidr;
}

function resolveWorkload(model: ClusterModel, ref: string, where: string): Workload {
  const m = /^(?:([^/]+)\/)?([^/[\]]+)(?:\[(\w+)\])?$/.exec(ref.trim());
  if (!m) throw new UserError(`${where}: cannot read workload reference ${JSON.stringify(ref)} (expected NAME, NS/NAME or NS/NAME[Kind])`, 'bad-intent');
  const [, ns, name, kind] = m;
  const found = model.workloads.filter(
    (w) => !w.synthetic && w.name === name && (ns === undefined || w.namespace === ns) && (kind === undefined || w.kind === kind),
  );
  if (found.length === 0) throw new UserError(`${where}: no workload ${ref} in the manifests`, 'bad-intent');
  if (found.length > 1) throw new UserError(`${where}: ${ref} is ambiguous (${found.map((w) => w.id).join(', ')}); use NS/NAME[Kind]`, 'bad-intent');
  return found[0]!;
}

function endpointOf(model: ClusterModel, ref: unknown, where: string): Endpoint {
  if (typeof ref !== 'string' || ref.trim() === '') throw new UserError(`${where}: from/to must be a workload reference or a CIDR`, 'bad-intent');
  if (/^[\d.]+\/\d+$/.test(ref.trim()) || isIpv6Cidr(ref)) {
    const iv = parseCidr(ref);
    if (!iv) throw new UserError(`${where}: invalid or unsupported (IPv6) CIDR ${JSON.stringify(ref)}`, 'bad-intent');
    return { type: 'cidr', cidr: ref.trim(), set: [iv] };
  }
  return { type: 'workload', w: resolveWorkload(model, ref, where) };
}

/** "TCP 8080", "udp/53", "TCP 8000-8010", "SCTP" (all ports of a protocol), or a bare number (TCP). */
export function parsePortSpec(spec: unknown, where: string): ConnSet {
  const text = String(spec ?? '').trim();
  const m = /^(?:([A-Za-z]+)[\s/]*)?(?:(\d+)(?:-(\d+))?)?$/.exec(text);
  if (!m || (!m[1] && !m[2])) throw new UserError(`${where}: cannot read port ${JSON.stringify(spec)} (expected e.g. "TCP 8080", "UDP 53", "TCP 8000-8010")`, 'bad-intent');
  const proto = (m[1] ?? 'TCP').toUpperCase();
  if (!(PROTOCOLS as readonly string[]).includes(proto)) throw new UserError(`${where}: unknown protocol ${m[1]}`, 'bad-intent');
  if (!m[2]) return ConnSet.of(proto as Protocol);
  const s = Number(m[2]);
  const e = m[3] ? Number(m[3]) : s;
  if (s < 1 || e > 65535 || e < s) throw new UserError(`${where}: invalid port range ${text}`, 'bad-intent');
  return ConnSet.of(proto as Protocol, [[s, e]]);
}

/** Reads an intent file: `connections: [{from, to, ports?}]`. */
export function parseIntentFile(text: string, file: string, model: ClusterModel): IntentConnection[] {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new UserError(`${file}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, 'bad-intent');
  let data: any;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UserError(`${file}: ${(e as Error).message.split('\n')[0]}`, 'bad-intent');
  }
  if (!data || typeof data !== 'object' || !Array.isArray(data.connections)) {
    throw new UserError(`${file}: expected a mapping with a "connections" list`, 'bad-intent');
  }
  return (data.connections as any[]).map((c, i) => {
    const where = `${file}: connections[${i}]`;
    if (!c || typeof c !== 'object') throw new UserError(`${where}: expected a mapping with from, to and optional ports`, 'bad-intent');
    const from = endpointOf(model, c.from, where);
    const to = endpointOf(model, c.to, where);
    if (from.type === 'cidr' && to.type === 'cidr') throw new UserError(`${where}: one side must be a workload`, 'bad-intent');
    let conns = ConnSet.all();
    if (c.ports !== undefined && c.ports !== null) {
      if (!Array.isArray(c.ports) || c.ports.length === 0) throw new UserError(`${where}: ports must be a non-empty list (omit it for all ports)`, 'bad-intent');
      conns = ConnSet.none();
      for (const p of c.ports) conns = conns.union(parsePortSpec(p, where));
    }
    return { from, to, conns, origin: where };
  });
}

interface EnvVar {
  name: string;
  value: string;
  origin: string;
}

function envOf(model: ClusterModel, w: Workload): EnvVar[] {
  const out: EnvVar[] = [];
  const cm = (name: string) => model.configMaps.get(`${w.namespace}/${name}`);
  for (const c of Array.isArray(w.podSpec?.containers) ? w.podSpec!.containers : []) {
    for (const e of Array.isArray(c?.env) ? c.env : []) {
      if (typeof e?.name !== 'string') continue;
      if (e.value !== undefined && e.value !== null) out.push({ name: e.name, value: String(e.value), origin: `env ${e.name}` });
      const ref = e.valueFrom?.configMapKeyRef;
      if (ref?.name && ref?.key) {
        const v = cm(String(ref.name))?.[String(ref.key)];
        if (v !== undefined) out.push({ name: e.name, value: v, origin: `env ${e.name} (ConfigMap ${ref.name})` });
      }
    }
    for (const ef of Array.isArray(c?.envFrom) ? c.envFrom : []) {
      const name = ef?.configMapRef?.name;
      const data = name ? cm(String(name)) : undefined;
      for (const [k, v] of Object.entries(data ?? {})) out.push({ name: `${ef.prefix ?? ''}${k}`, value: v, origin: `ConfigMap ${name} key ${k}` });
    }
  }
  return out;
}

const HOST_TOKEN = /(?:[a-z][a-z0-9+.-]*:\/\/)?([a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)(?::(\d{1,5}))?/gi;

/** Service references in a workload's environment, turned into connections to the service's pods. */
export function inferIntentFromEnv(model: ClusterModel): IntentConnection[] {
  const byName = new Map<string, ServiceModel>();
  for (const s of model.services) byName.set(`${s.namespace}/${s.name}`, s);
  const out: IntentConnection[] = [];
  for (const w of model.workloads) {
    if (w.synthetic) continue;
    const env = envOf(model, w);
    const values = new Map(env.map((e) => [e.name, e.value]));
    for (const e of env) {
      for (const m of e.value.matchAll(HOST_TOKEN)) {
        const parts = m[1]!.toLowerCase().split('.');
        const tail = parts.slice(2).join('.');
        if (parts.length > 2 && tail !== 'svc' && tail !== 'svc.cluster.local') continue;
        const ns = parts.length >= 2 ? parts[1]! : w.namespace;
        const svc = byName.get(`${ns}/${parts[0]}`);
        if (!svc || !svc.selector) continue;
        let port: number | undefined = m[2] ? Number(m[2]) : undefined;
        const sibling = /^(.*)_(ADDR|ADDRESS|HOST|HOSTNAME|SERVICE_HOST)$/.exec(e.name);
        if (port === undefined && sibling) {
          const p = values.get(`${sibling[1]}_PORT`) ?? values.get(`${sibling[1]}_SERVICE_PORT`);
          if (p && /^\d+$/.test(p)) port = Number(p);
        }
        for (const dst of model.workloads) {
          if (dst.synthetic || dst.namespace !== svc.namespace || dst.id === w.id) continue;
          if (!Object.entries(svc.selector).every(([k, v]) => dst.labels[k] === v)) continue;
          const conns = serviceConns(svc, port, dst);
          if (!conns.isEmpty()) {
            out.push({ from: { type: 'workload', w }, to: { type: 'workload', w: dst }, conns, origin: `${w.id} ${e.origin} -> Service ${svc.namespace}/${svc.name}` });
          }
        }
      }
    }
  }
  return out;
}

/** The pod-side connections behind a service port (all service ports when none is named). */
function serviceConns(svc: ServiceModel, port: number | undefined, dst: Workload): ConnSet {
  let c = ConnSet.none();
  for (const p of svc.ports) {
    if (port !== undefined && p.port !== port) continue;
    let target: number | undefined = typeof p.targetPort === 'number' ? p.targetPort : p.targetPort === undefined ? p.port : undefined;
    if (typeof p.targetPort === 'string') target = dst.ports.find((cp) => cp.name === p.targetPort && cp.protocol === p.protocol)?.port;
    if (target !== undefined && Number.isInteger(target)) c = c.union(ConnSet.of(p.protocol, [[target, target]]));
  }
  return c;
}

