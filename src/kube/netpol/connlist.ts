/**
 * np-guard's connlist output formats: txt (`src => dst : conns`, sorted; with primary
 * user-defined networks, one section per network plus a workload-to-network mapping) and
 * json (one flat sorted list).
 */
import type { Connection, Peer } from './analyze.js';
import type { ClusterModel } from './model.js';

export type ConnlistFormat = 'txt' | 'json';

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sorted(conns: Connection[]): Connection[] {
  return [...conns].sort((a, b) => cmp(a.src.id, b.src.id) || cmp(a.dst.id, b.dst.id));
}

const connLine = (c: Connection): string => `${c.src.id} => ${c.dst.id} : ${c.conns.toString()}\n`;
const pairLine = (c: Connection): string => `${c.src.id} => ${c.dst.id}\n`;

/** The network a connection belongs to: that of its (non-synthetic) workload side. */
function networkOf(c: Connection): { kind: 'UDN' | 'CUDN'; name: string } | undefined {
  const side = (p: Peer) => (p.type === 'workload' && !p.w.synthetic ? p.w : undefined);
  return (side(c.dst) ?? side(c.src))?.network;
}

/**
 * `focusConn` ("TCP 80"): the connections were filtered to pairs allowing that port, and
 * are printed as pairs only, under a "Permitted connections on …" heading.
 */
export function formatConnlist(conns: Connection[], format: ConnlistFormat, model?: ClusterModel, focusConn?: string): string {
  const list = sorted(conns);
  if (format === 'json') {
    const rows = list.map((c) => (focusConn ? { src: c.src.id, dst: c.dst.id } : { src: c.src.id, dst: c.dst.id, conn: c.conns.toString() }));
    return `${JSON.stringify(rows, null, 2)}\n`;
  }
  const line = focusConn ? pairLine : connLine;
  if (!model?.multiNetwork && !focusConn) return list.map(line).join('');
  const pod: Connection[] = [];
  const udn = new Map<string, Connection[]>();
  const cudn = new Map<string, Connection[]>();
  const nad = new Map<string, Connection[]>();
  for (const c of list) {
    const n = networkOf(c);
    if (c.secondary !== undefined) nad.set(c.secondary, [...(nad.get(c.secondary) ?? []), c]);
    else if (!n) pod.push(c);
    else {
      const m = n.kind === 'UDN' ? udn : cudn;
      m.set(n.name, [...(m.get(n.name) ?? []), c]);
    }
  }
  let out = '';
  const sections = udn.size > 0 || cudn.size > 0 || nad.size > 0;
  if (focusConn) {
    out += `Permitted connections on ${focusConn}:\n`;
    if (sections && pod.length > 0) out += 'Permitted connectivity analyzed in Pod network:\n';
  } else if (sections) {
    out += 'Permitted connectivity analyzed in Pod network:\n';
    if (pod.length === 0) {
      const podNetworkWorkloads = (model?.workloads ?? []).filter((w) => !w.synthetic && !w.network).length;
      out += podNetworkWorkloads === 0
        ? 'all input workloads are configured with (C)UDN as their primary network interface\n'
        : 'All connections are not allowed for the workloads in the pod-network\n';
    }
  }
  out += pod.map(line).join('');
  for (const [kind, m] of [['primary UDN', udn], ['primary CUDN', cudn], ['secondary NAD', nad]] as const) {
    for (const name of [...m.keys()].sort(cmp)) {
      out += `\nPermitted connectivity analyzed in ${kind} ${name}:\n${m.get(name)!.map(line).join('')}`;
    }
  }
  const workloads = (model?.multiNetwork ? model.workloads : []).filter((w) => !w.synthetic).sort((a, b) => cmp(a.id, b.id));
  if (workloads.length > 0 && !focusConn) {
    out += '\nWorkload-to-Networks Mapping:\n';
    for (const w of workloads) {
      out += `${w.id}: \n\tPrimary Network: ${w.network ? `${w.network.name}[${w.network.kind}]` : 'pod-network'}\n`;
      const secondary = (w.secondary ?? []).map((k) => model!.nads.get(k)?.name ?? k).sort(cmp);
      if (secondary.length > 0) out += `\tSecondary Networks: ${secondary.map((n) => `${n}[NAD]`).join(',')}\n`;
    }
  }
  return out;
}
