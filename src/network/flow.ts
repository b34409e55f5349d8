/**
 * Observed network flows: what the sensor saw talking, aggregated per interval (never raw
 * connect/accept events), and what Central stores and builds its network graph from.
 *
 * The sensor ships each flow as an ingest event of type `flow` (the event's `data` is an
 * `ObservedFlow`, its `id` the flow's `flowId`), so flows ride the same spool, retries,
 * dedup and event bus as alerts.
 */

export type FlowProtocol = 'TCP' | 'UDP' | 'SCTP';

/** The local end: the process and container (and pod, when the sensor knows it) that made or took the connection. */
export interface FlowLocalEnd {
  ip: string;
  port: number;
  container?: { id: string; name?: string; image?: string; imageDigest?: string };
  /** From the container's io.kubernetes.* labels (or Central's inventory, later). */
  pod?: { namespace: string; name: string; uid?: string };
  process?: { exe?: string; name: string };
}

/** The other end, as seen on the wire; Central resolves it to a workload, Service, namespace or external CIDR. */
export interface FlowRemoteEnd {
  ip: string;
  port: number;
  /** A DNS name the sensor saw resolve to this address, when it knows one. */
  dns?: string;
}

export interface ObservedFlow {
  protocol: FlowProtocol;
  /** egress: the local end connected (or sent the first UDP packet); ingress: it accepted. */
  direction: 'egress' | 'ingress';
  local: FlowLocalEnd;
  remote: FlowRemoteEnd;
  /** RFC 3339: first and last connection in this interval. */
  firstSeen: string;
  lastSeen: string;
  /** Connections (TCP) or first packets (UDP) in the interval. */
  connections: number;
  /** Bytes both ways, when known (conntrack accounting); eBPF connect/accept alone does not know. */
  bytes?: number;
  /** Who saw it: the eBPF probe, or conntrack for traffic no probe saw. */
  observedBy: 'ebpf' | 'conntrack';
}
