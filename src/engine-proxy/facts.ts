/**
 * Facts: the flat record a policy's conditions read, built from the request (endpoint,
 * query, JSON body), the caller and, for requests addressing a container, that
 * container's name and labels. Field names are the policy vocabulary documented in
 * docs/notes/engine-proxy.md.
 */
import { parseRegistryReference } from '../image/reference.js';
import { normalizeHostPath } from '../util/host-paths.js';
import type { Endpoint } from './endpoints.js';
import type { Caller } from './identity.js';
import { asString, asStrings, isObject, member, memberPath, type Json } from './json-body.js';

export type FactValue = string | number | boolean | string[];
export type Facts = Record<string, FactValue | undefined>;

/** What the proxy knows about a container a request addresses (from the engine). */
export interface TargetContainer {
  id: string;
  name: string;
  image: string;
  labels: Record<string, string>;
}

export function baseFacts(ep: Endpoint, method: string, caller: Caller): Facts {
  const f: Facts = {
    action: ep.action,
    'request.method': method,
    'request.path': ep.path,
    'caller.uid': caller.uid,
    'caller.gid': caller.gid,
    'caller.pid': caller.pid,
    'caller.user': caller.user,
    'caller.cn': caller.cn,
    'caller.transport': caller.transport,
  };
  return f;
}

export function targetFacts(t: TargetContainer): Facts {
  return {
    'target.id': t.id,
    'target.name': t.name.replace(/^\//, ''),
    'target.image': t.image,
    'target.labels': Object.entries(t.labels).map(([k, v]) => `${k}=${v}`),
    'target.labelKeys': Object.keys(t.labels),
  };
}

/**
 * Image facts from a reference as a client wrote it. An unparsable reference gets an empty
 * registry, so an allow-list of registries denies it (fail closed).
 */
export function imageFacts(ref: string, prefix = 'image'): Facts {
  const f: Facts = { [`${prefix}.ref`]: ref };
  try {
    const r = parseRegistryReference(ref);
    f[`${prefix}.registry`] = r.registry;
    f[`${prefix}.repository`] = r.repository;
    if (r.tag) f[`${prefix}.tag`] = r.tag;
    if (r.digest) f[`${prefix}.digest`] = r.digest;
    f[`${prefix}.pinned`] = r.digest !== undefined;
  } catch {
    f[`${prefix}.registry`] = '';
  }
  return f;
}

const NS_MODES = ['NetworkMode', 'PidMode', 'IpcMode', 'UTSMode', 'UsernsMode', 'CgroupnsMode'] as const;

/** Facts of POST /containers/create (query `name`, body: Config + HostConfig). */
export function createFacts(body: Json, query: URLSearchParams): Facts {
  const hc = member(body, 'HostConfig');
  const f: Facts = { ...imageFacts(asString(member(body, 'Image')) ?? '') };
  f['container.name'] = query.get('name') ?? '';
  f['container.privileged'] = memberPath(hc, 'Privileged') === true;
  f['container.capAdd'] = asStrings(member(hc, 'CapAdd')).map(normalizeCap);
  for (const m of NS_MODES) f[`container.${m[0]!.toLowerCase()}${m.slice(1)}`] = asString(member(hc, m)) ?? '';
  f['container.hostNamespaces'] = NS_MODES.filter((m) => (asString(member(hc, m)) ?? '') === 'host').map((m) => m.replace(/Mode$/, '').toLowerCase());
  f['container.bindSources'] = bindSources(hc);
  f['container.devices'] = devices(hc);
  f['volume.devices'] = mountVolumeDevices(hc);
  f['container.securityOpt'] = asStrings(member(hc, 'SecurityOpt')).map(normalizeSecurityOpt);
  f['container.user'] = asString(member(body, 'User')) ?? '';
  f['container.runsAsRoot'] = isRootUser(asString(member(body, 'User')) ?? '');
  f['container.labels'] = labelList(member(body, 'Labels'));
  f['container.readonlyRootfs'] = member(hc, 'ReadonlyRootfs') === true;
  f['container.volumesFrom'] = asStrings(member(hc, 'VolumesFrom'));
  return f;
}

/**
 * Facts of POST /volumes/create. The local driver's `device` option with `o=bind` mounts
 * any host path as a named volume, which would sidestep bind-mount rules.
 */
export function volumeFacts(body: Json): Facts {
  const opts = member(body, 'DriverOpts');
  const entries = isObject(opts) ? Object.entries(opts).map(([k, v]) => [k.toLowerCase(), typeof v === 'string' ? v : ''] as const) : [];
  const device = entries.find(([k]) => k === 'device')?.[1];
  return {
    'volume.name': asString(member(body, 'Name')) ?? '',
    'volume.driver': asString(member(body, 'Driver')) || 'local',
    'volume.options': entries.map(([k, v]) => `${k}=${v}`),
    'volume.devices': device && device.startsWith('/') ? [normalizeHostPath(device)] : [],
  };
}

/** Facts of POST /containers/{id}/exec. */
export function execFacts(body: Json): Facts {
  return {
    'exec.user': asString(member(body, 'User')) ?? '',
    'exec.privileged': member(body, 'Privileged') === true,
    'exec.cmd': asStrings(member(body, 'Cmd')),
    'exec.tty': member(body, 'Tty') === true,
  };
}

/** Facts of POST /containers/{id}/update (privilege-relevant parts only). */
export function updateFacts(body: Json): Facts {
  return { 'container.devices': devices(body) };
}

/** Facts from query parameters of image endpoints. */
export function imageEndpointFacts(ep: Endpoint): Facts {
  switch (ep.action) {
    case 'image.pull': {
      const from = ep.query.get('fromImage');
      if (from === null) return { 'image.import': true, 'image.source': ep.query.get('fromSrc') ?? '' };
      const tag = ep.query.get('tag');
      // fromImage may already carry a tag or digest; tag=... is appended like the engine does.
      const ref = tag && !/[:@][^/]*$/.test(from) ? (tag.startsWith('sha256:') ? `${from}@${tag}` : `${from}:${tag}`) : from;
      return imageFacts(ref);
    }
    case 'image.push':
      return imageFacts(ep.query.get('tag') ? `${ep.target}:${ep.query.get('tag')}` : (ep.target ?? ''));
    case 'image.tag':
      return { ...imageFacts(ep.target ?? '', 'source'), ...imageFacts(`${ep.query.get('repo') ?? ''}${ep.query.get('tag') ? `:${ep.query.get('tag')}` : ''}`) };
    case 'image.build':
      return {
        'build.tags': ep.query.getAll('t'),
        'build.networkMode': ep.query.get('networkmode') ?? '',
        'build.remote': ep.query.get('remote') ?? '',
      };
    default:
      return ep.target ? imageFacts(ep.target) : {};
  }
}

function normalizeCap(c: string): string {
  const u = c.trim().toUpperCase();
  return u.startsWith('CAP_') ? u.slice(4) : u;
}

/** Older clients write `seccomp:unconfined`; both spellings mean the same to the engine. */
function normalizeSecurityOpt(o: string): string {
  const m = /^([a-z-]+)[:=](.*)$/i.exec(o.trim());
  return m ? `${m[1]!.toLowerCase()}=${m[2]}` : o.trim();
}

function isRootUser(user: string): boolean {
  const name = user.split(':')[0] ?? '';
  // An empty user means the image's USER, root unless the image says otherwise.
  return name === '' || name === 'root' || name === '0';
}

function labelList(v: Json | undefined): string[] {
  if (!isObject(v)) return [];
  return Object.entries(v).map(([k, val]) => `${k}=${typeof val === 'string' ? val : JSON.stringify(val)}`);
}

/** Host paths bind-mounted: HostConfig.Binds ("src:dst[:opts]") and Mounts of type bind. */
function bindSources(hc: Json | undefined): string[] {
  const out: string[] = [];
  for (const b of asStrings(member(hc, 'Binds'))) {
    const src = b.split(':')[0] ?? '';
    // Named volumes have no leading slash; only host paths are binds.
    if (src.startsWith('/')) out.push(normalizeHostPath(src));
  }
  const mounts = member(hc, 'Mounts');
  if (Array.isArray(mounts)) {
    for (const m of mounts) {
      const type = asString(member(m, 'Type')) ?? '';
      const src = asString(member(m, 'Source')) ?? '';
      if (type.toLowerCase() === 'bind' || (type === '' && src.startsWith('/'))) out.push(normalizeHostPath(src));
    }
  }
  return out;
}

/** Anonymous volumes declared inline (Mounts[].VolumeOptions.DriverConfig.Options.device). */
function mountVolumeDevices(hc: Json | undefined): string[] {
  const mounts = member(hc, 'Mounts');
  const out: string[] = [];
  if (!Array.isArray(mounts)) return out;
  for (const m of mounts) {
    const opts = memberPath(m, 'VolumeOptions', 'DriverConfig', 'Options');
    const device = isObject(opts) ? asString(member(opts, 'device')) : undefined;
    if (device?.startsWith('/')) out.push(normalizeHostPath(device));
  }
  return out;
}

function devices(hc: Json | undefined): string[] {
  const d = member(hc, 'Devices');
  const out: string[] = [];
  if (Array.isArray(d)) for (const x of d) out.push(asString(member(x, 'PathOnHost')) ?? '');
  return out;
}
