/**
 * Connection events of the sensor (connect, accept, UDP first packet) as flow observations:
 * the process, container and pod of the local end, both ends' addresses and ports.
 */
import type { RuntimeEvent } from '../../runtime/event.js';
import type { FlowLocalEnd } from '../../network/flow.js';
import type { FlowObservation } from './aggregator.js';

/** -EINPROGRESS: a non-blocking connect under way (curl, most clients) counts as a connection. */
const EINPROGRESS = -115;

const UNSPECIFIED = new Set(['', '0.0.0.0', '::']);

export function isUnspecified(ip: string): boolean {
  return UNSPECIFIED.has(ip);
}

/**
 * The observation of one event, or undefined when it is not a connection: a TCP connect that
 * succeeded or is under way, an accept, a UDP first packet. A connect on a UDP socket sends
 * nothing (its first datagram is the observation).
 * `containerIp` gives a container's address when the socket's own is unspecified (an unbound
 * UDP socket).
 */
export function observationOf(ev: RuntimeEvent, containerIp?: (containerId: string) => string | undefined): FlowObservation | undefined {
  const type = ev['evt.type'];
  let direction: 'egress' | 'ingress';
  let protocol: 'TCP' | 'UDP';
  if (type === 'connect') {
    if (ev['fd.l4proto'] !== 'tcp') return undefined;
    const res = Number(ev['evt.rawres']);
    if (res !== 0 && res !== EINPROGRESS) return undefined;
    direction = 'egress';
    protocol = 'TCP';
  } else if (type === 'accept') {
    if (ev['fd.l4proto'] !== 'tcp') return undefined;
    direction = 'ingress';
    protocol = 'TCP';
  } else if (type === 'sendto') {
    if (ev['fd.l4proto'] !== 'udp') return undefined;
    direction = 'egress';
    protocol = 'UDP';
  } else return undefined;
  const rip = String(ev['fd.rip'] ?? '');
  const rport = Number(ev['fd.rport'] ?? 0);
  if (!rip) return undefined;
  const cid = String(ev['container.id'] ?? 'host');
  let lip = String(ev['fd.lip'] ?? '') || '0.0.0.0';
  if (isUnspecified(lip) && cid !== 'host') lip = containerIp?.(cid) ?? lip;
  const local: FlowLocalEnd = { ip: lip, port: Number(ev['fd.lport'] ?? 0) };
  if (cid !== 'host') {
    local.container = { id: cid };
    const name = ev['container.name'];
    const image = ev['container.image'];
    if (name) local.container.name = String(name);
    if (image) local.container.image = String(image);
    const ns = ev['container.label[io.kubernetes.pod.namespace]'];
    const pod = ev['container.label[io.kubernetes.pod.name]'];
    const uid = ev['container.label[io.kubernetes.pod.uid]'];
    if (ns && pod) local.pod = { namespace: String(ns), name: String(pod), ...(uid ? { uid: String(uid) } : {}) };
  }
  const pname = ev['proc.name'];
  if (pname) {
    const exe = ev['proc.exepath'] || ev['proc.exe'];
    local.process = { name: String(pname), ...(exe ? { exe: String(exe) } : {}) };
  }
  const raw = ev['evt.rawtime'];
  const timeMs = typeof raw === 'bigint' ? Number(raw / 1_000_000n) : typeof raw === 'number' ? Math.floor(raw / 1e6) : Date.now();
  return { timeMs, protocol, direction, local, remote: { ip: rip, port: rport }, observedBy: 'ebpf' };
}
