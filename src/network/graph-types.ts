/**
 * The network graph Central serves at `GET /api/v1/network/graph` (query: `cluster`,
 * `namespace`, `deployment`, `since`): workloads and the peers they talk to, with the edges
 * NetworkPolicies allow (today's `netpol analyze`) and the edges the sensors observed.
 * The console's /network page and the deployment view's neighbours read this shape.
 */
import type { FlowProtocol } from './flow.js';

export type GraphNodeKind = 'deployment' | 'service' | 'namespace' | 'external';

export interface GraphNode {
  /** Deployment nodes: Central's deployment id; others: `external:CIDR`, `namespace:CLUSTER/NS`, … */
  id: string;
  kind: GraphNodeKind;
  /** What a person reads: `ns/name`, a CIDR or a DNS name. */
  label: string;
  cluster?: string;
  host?: string;
  namespace?: string;
  name?: string;
  /** Workload kind (Deployment, StatefulSet, Container on plain hosts, …). */
  workloadKind?: string;
  labels?: Record<string, string>;
  /** The workload's baseline is still in its observation window: its observed edges are not yet complete. */
  learning?: boolean;
  /**
   * Deployments, when Central has the cluster's policies: whether a NetworkPolicy (or an
   * admin network policy) decides its ingress and egress; both false: no policy protects it.
   */
  isolated?: { ingress: boolean; egress: boolean };
  /** External nodes: the DNS name a sensor saw resolve to the address, when known. */
  dns?: string;
}

export type EdgeFlag = 'observed-not-allowed' | 'allowed-not-observed';

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  protocol: FlowProtocol;
  /** Destination port; undefined: any port. */
  port?: number;
  /** Allowed edges over a port range: its last port (`port` is the first). */
  portEnd?: number;
  /** NetworkPolicies (as `netpol analyze` computes) allow this connection. */
  allowed: boolean;
  observed?: { firstSeen: string; lastSeen: string; connections: number; bytes?: number };
  flag?: EdgeFlag;
  /** Mesh protection of this edge: from PeerAuthentication/DestinationRule/Linkerd, and the observed flows. */
  mtls?: 'mtls' | 'plaintext' | 'unknown';
}

export interface NetworkGraph {
  generatedAt: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  counts: { nodes: number; edges: number; observedNotAllowed: number; allowedNotObserved: number };
}
