/**
 * Sensors' flows (ingest events of type `flow`, each an ObservedFlow) as correlator inputs:
 * the lateral-movement link of incidents ("a flow from a flagged workload to another that
 * then alerts") needs both ends as workload identities, the same ids the ends' alerts get
 * (src/runtime/baseline/identity.ts over the alert's container and k8s fields).
 *
 * A flow names its local end (container, pod); the remote end is an address. Addresses are
 * resolved through what the sensors themselves reported: every flow's local end teaches
 * "this address is this workload on this host" (bounded, most recent wins). A connection
 * between two watched workloads is seen twice — the client's egress and the server's
 * ingress — so whichever arrives second is resolved by the first: the egress names the
 * client's address, the ingress the server's.
 */
import type { EventBatch, IngestEvent } from '../client/ingest-types.js';
import type { ObservedFlow } from '../../network/flow.js';
import type { RuntimeEvent } from '../../runtime/event.js';
import { workloadOf } from '../../runtime/baseline/identity.js';
import type { CorrelationInput, FlowEnd, FlowRecord } from '../../runtime/incidents/types.js';
import { splitImageName } from '../../image/reference.js';
import type { CentralContext } from '../context.js';
import type { CentralJob } from '../jobs.js';
import { EVENT_BATCH_NOTICE, incidentService } from './service.js';

const MAX_ADDRESSES = 50_000;

interface Known { workload: string; host?: string }

/** Address → the workload that last reported it as its own (per cluster). */
export class FlowAddressBook {
  private readonly map = new Map<string, Known>();

  learn(cluster: string, ip: string, known: Known): void {
    const k = `${cluster}|${ip}`;
    this.map.delete(k);
    if (this.map.size >= MAX_ADDRESSES) this.map.delete(this.map.keys().next().value!);
    this.map.set(k, known);
  }

  lookup(cluster: string, ip: string): Known | undefined {
    return this.map.get(`${cluster}|${ip}`);
  }

  get size(): number {
    return this.map.size;
  }
}

/** The workload identity of a flow's local end, as its container's alerts would have it. */
export function localWorkload(flow: ObservedFlow, host: string | undefined, cluster: string | undefined): string | undefined {
  const c = flow.local.container;
  if (!c) return undefined;
  const ev: RuntimeEvent = { 'container.id': c.id, ...(c.name ? { 'container.name': c.name } : {}) };
  if (c.image) ev['container.image.repository'] = splitImageName(c.image).repository;
  if (flow.local.pod) {
    ev['k8s.pod.name'] = flow.local.pod.name;
    ev['k8s.ns.name'] = flow.local.pod.namespace;
  }
  return workloadOf(ev, { ...(host ? { host } : {}), ...(cluster ? { cluster } : {}) }).id;
}

function isFlow(e: IngestEvent): boolean {
  return e.type === 'flow' && !!e.data && typeof e.data === 'object';
}

/** The flows of a sensor batch as correlator inputs (the book learns their local ends first). */
export function sensorFlowInputs(batch: EventBatch, book: FlowAddressBook): CorrelationInput[] {
  if (batch.source.kind !== 'sensor') return [];
  const flows = batch.events.filter(isFlow);
  if (!flows.length) return [];
  const cluster = batch.source.cluster;
  const ck = cluster ?? 'default';
  const host = batch.source.host ?? batch.source.node;
  const locals = flows.map((e) => localWorkload(e.data as unknown as ObservedFlow, host, cluster));
  flows.forEach((e, i) => {
    const f = e.data as unknown as ObservedFlow;
    const wl = locals[i];
    if (wl && f.local.ip) book.learn(ck, f.local.ip, { workload: wl, ...(host ? { host } : {}) });
  });
  return flows.map((e, i): CorrelationInput => {
    const f = e.data as unknown as ObservedFlow;
    const local: FlowEnd = { ip: f.local.ip, ...(f.local.port ? { port: f.local.port } : {}), ...(locals[i] ? { workload: locals[i] } : {}), ...(host ? { host } : {}) };
    const known = book.lookup(ck, f.remote.ip);
    const remote: FlowEnd = { ip: f.remote.ip, port: f.remote.port, ...(known ? { workload: known.workload, ...(known.host ? { host: known.host } : {}) } : {}) };
    const flow: FlowRecord = {
      time: f.firstSeen, protocol: f.protocol === 'UDP' ? 'udp' : 'tcp',
      src: f.direction === 'egress' ? local : remote, dst: f.direction === 'egress' ? remote : local,
    };
    return { kind: 'flow', id: e.id, flow, ...(cluster ? { cluster } : {}) };
  });
}

/**
 * Feeds sensors' flows (POST /api/v1/ingest/events and the bus both emit `event-batch`) to
 * the incident correlator until Central stops.
 */
export const incidentFlowsJob: CentralJob = async (ctx: CentralContext, signal, { log }) => {
  const book = new FlowAddressBook();
  const service = incidentService(ctx);
  // Queued with the alerts of the same turn: one correlation and one write for a whole bus fetch, not one per node's batch.
  const listener = (batch: EventBatch) => void service.queue(sensorFlowInputs(batch, book))?.catch((e: unknown) => log.error({ error: String(e) }, 'incident correlation of flows: store write failed'));
  ctx.events.on(EVENT_BATCH_NOTICE, listener);
  try {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  } finally {
    ctx.events.off(EVENT_BATCH_NOTICE, listener);
  }
};
