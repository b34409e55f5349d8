/**
 * The `connection` subject: one edge between workloads — who connects (`source`, a
 * ServiceIdentity from src/identity: workload, service account, SPIFFE ID, labels, images
 * with signature, vulnerabilities and build provenance) and where to (`destination`:
 * namespace, workload, port, protocol, labels). So a policy can say "only signed images
 * built from main with no critical vulnerability may talk to the payments namespace".
 *
 * scope.namespaces and excludeNamespaces match the DESTINATION's namespace (the side being
 * protected); scope.images the source's images; scope.clusters the connection's cluster.
 * Violations are located at the source workload.
 */
import type { ResourceRef } from '../findings/finding.js';
import { DataReader, serviceIdentityFromData } from '../identity/parse.js';
import type { ServiceIdentity } from '../identity/types.js';
import type { SubjectAdapter, SubjectNode } from '../policy/subject.js';
import { UserError } from '../util/errors.js';
import { connectionFieldRegistry, type ConnectionContext } from './connection-fields.js';

export interface ConnectionDestination {
  cluster?: string;
  host?: string;
  namespace?: string;
  kind?: string;
  workload?: string;
  labels?: Record<string, string>;
  port?: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  spiffeId?: string;
  /** Outside the known workloads. */
  external?: boolean;
  /** IP address or DNS name, when known. */
  address?: string;
}

export interface ConnectionSubject {
  cluster?: string;
  source: ServiceIdentity;
  destination: ConnectionDestination;
}

const isMap = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
const DEST_KEYS = ['cluster', 'host', 'namespace', 'kind', 'workload', 'labels', 'port', 'protocol', 'spiffeId', 'external', 'address'] as const;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** Checks a connection given as data (`cluster`, `source`, `destination`); a one-line UserError naming the file and path. */
export function connectionFromData(data: unknown, file: string): ConnectionSubject {
  const r = new DataReader(file);
  const m = r.map(data, 'connection', ['cluster', 'source', 'destination']);
  if (m.source === undefined) r.fail('source', 'is required (the identity of the connecting workload)');
  const d = r.map(m.destination ?? r.fail('destination', 'is required'), 'destination', DEST_KEYS);
  const port = d.port;
  if (port !== undefined && (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)) r.fail('destination.port', 'must be a port number (0-65535)');
  if (d.protocol !== undefined && !PROTOCOLS.includes(d.protocol)) r.fail('destination.protocol', `must be one of ${PROTOCOLS.join(', ')}`);
  const destination: ConnectionDestination = {};
  for (const k of ['cluster', 'host', 'namespace', 'kind', 'workload', 'spiffeId', 'address'] as const) {
    const v = r.str(d[k], `destination.${k}`);
    if (v) destination[k] = v;
  }
  if (d.labels !== undefined) destination.labels = r.strMap(d.labels, 'destination.labels');
  if (port !== undefined) destination.port = port;
  if (d.protocol !== undefined) destination.protocol = d.protocol;
  const external = r.bool(d.external, 'destination.external');
  if (external !== undefined) destination.external = external;
  const cluster = r.str(m.cluster, 'cluster');
  return { ...(cluster ? { cluster } : {}), source: serviceIdentityFromData(m.source, `${file}: source`), destination };
}

function sourceResource(s: ServiceIdentity): ResourceRef {
  const w = s.workload;
  if (w.kind === 'Container') return { container: { id: '', name: w.name, ...(s.images[0] ? { image: s.images[0].ref } : {}) }, ...(w.host ? { host: w.host } : {}) };
  return { k8s: { kind: w.kind, ...(w.namespace ? { namespace: w.namespace } : {}), name: w.name } };
}

const nameOf = (s: ServiceIdentity) => `${s.workload.kind} ${s.workload.namespace ? `${s.workload.namespace}/` : ''}${s.workload.name}`;
function destName(d: ConnectionDestination): string {
  const what = d.workload ? `${d.namespace ? `${d.namespace}/` : ''}${d.workload}` : d.namespace ? `namespace ${d.namespace}` : d.address ?? d.host ?? '?';
  return `${what}${d.port !== undefined ? `:${d.port}${d.protocol && d.protocol !== 'TCP' ? `/${d.protocol}` : ''}` : ''}`;
}

export function connectionSubject(): SubjectAdapter<ConnectionSubject, ConnectionContext> {
  return {
    kind: 'connection',
    description: 'a connection between workloads: the source\'s identity (images, signature, vulnerabilities, build commit/branch, service account, SPIFFE ID) and the destination (namespace, workload, port)',
    defaultStage: 'runtime',
    findingKind: 'policy',
    fields: connectionFieldRegistry(),
    rootTarget: 'connection',
    targetDocs: { connection: 'the connection (one per source → destination edge)' },
    elements: {},
    scopeKeys: ['clusters', 'namespaces', 'excludeNamespaces', 'images'],
    *roots(subject) {
      const { source, destination } = subject;
      const resource = sourceResource(source);
      const label = `connection ${nameOf(source)} → ${destName(destination)}`;
      const node: SubjectNode<ConnectionContext> = {
        ctx: { connection: subject },
        scope: {
          cluster: subject.cluster ?? destination.cluster ?? source.workload.cluster,
          namespace: destination.namespace,
          images: source.images.map((i) => i.ref),
        },
        label,
        identity: `${source.spiffeId ?? nameOf(source)}->${destName(destination)}`,
        resource: () => resource,
        data: {
          source: { ...source.workload, ...(source.spiffeId ? { spiffeId: source.spiffeId } : {}) },
          destination,
        },
      };
      yield node;
    },
    fromData: (data, file) => {
      if (!isMap(data)) throw new UserError(`${file}: a connection is a mapping with source and destination`, 'bad-input');
      return connectionFromData(data, file);
    },
  };
}
