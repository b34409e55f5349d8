/**
 * The edges of Central's network graph as `connection` subjects: each edge whose source is
 * a deployment with a known identity (an item of `GET /api/v1/identities`, keyed by the
 * deployment id the graph's deployment nodes carry) becomes one connection, its destination
 * the target node (a deployment, a Service, a namespace or an external address). Edges
 * from external peers have no source identity and are left out.
 */
import type { ServiceIdentity } from '../identity/types.js';
import type { GraphEdge, GraphNode, NetworkGraph } from '../network/graph-types.js';
import type { ConnectionDestination, ConnectionSubject } from './connection.js';

export interface GraphConnection {
  edge: GraphEdge;
  connection: ConnectionSubject;
}

function destinationOf(node: GraphNode, port: number | undefined, edge: GraphEdge, identity: ServiceIdentity | undefined): ConnectionDestination {
  const d: ConnectionDestination = { protocol: edge.protocol };
  if (port !== undefined) d.port = port;
  if (node.cluster) d.cluster = node.cluster;
  if (node.host) d.host = node.host;
  if (node.namespace) d.namespace = node.namespace;
  if (node.kind === 'deployment') {
    if (node.name) d.workload = node.name;
    if (node.workloadKind) d.kind = node.workloadKind;
    if (node.labels) d.labels = { ...node.labels };
    if (identity?.spiffeId) d.spiffeId = identity.spiffeId;
  } else if (node.kind === 'service') {
    d.kind = 'Service';
    if (node.name) d.workload = node.name;
  } else if (node.kind === 'external') {
    d.external = true;
    d.address = node.dns ?? node.label;
  }
  return d;
}

/** Connections of the graph's edges (observed ones only with `observedOnly`). */
export function graphConnections(graph: NetworkGraph, identities: readonly ServiceIdentity[], opts: { observedOnly?: boolean } = {}): GraphConnection[] {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  const byId = new Map(identities.filter((i) => i.id).map((i) => [i.id!, i]));
  const out: GraphConnection[] = [];
  for (const edge of graph.edges) {
    if (opts.observedOnly && !edge.observed) continue;
    const source = nodes.get(edge.source);
    const target = nodes.get(edge.target);
    if (!source || !target || source.kind !== 'deployment') continue;
    const identity = byId.get(source.id);
    if (!identity) continue;
    out.push({
      edge,
      connection: {
        ...(source.cluster ? { cluster: source.cluster } : {}),
        source: identity,
        destination: destinationOf(target, edge.port, edge, byId.get(target.id)),
      },
    });
  }
  return out;
}
