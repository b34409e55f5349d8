/**
 * Connection events of the sensor (connect, accept, UDP first packet) as flow observations:
 * the process, container and pod of the local end, both ends' addresses and ports.
 */
import type { RuntimeEvent } from '../../runtime/event.js';
import type { FlowLocalEnd } from '../../network/flow.js';
import type { FlowObservation } from './aggregator.js';
import { parseDnsAnswer, type DnsAnswer } from './dns.js';

/** -EINPROGRESS: a non-blocking connect under way (curl, most clients) counts as a connection. */
const EINPROGRESS = -115;

export function isUnspecified(ip: string): boolean {
  return ip === '' || ip === '0.0.0.0' || ip === '::';
}

const V4_MAPPED = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * An IPv4 address written as IPv6 (`::ffff:7f00:1`: an IPv6 socket talking to an IPv4 peer,
 * e.g. a dual-stack client) as the IPv4 address it is, so both ends of one connection and
 * Central's inventory agree on it; any other address unchanged.
 */
export function unmapV4(ip: string): string {
  // per connection: most addresses are plain IPv4, which never start with ':'
  if (ip.charCodeAt(0) !== 58) return ip;
  const m = V4_MAPPED.exec(ip);
  if (!m) return ip;
  const hi = parseInt(m[1]!, 16);
  const lo = parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/** A field as a string ('' when absent), without a String() call for what is one already. */
function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
}

/** The wall-clock time of an event in ms. */
function timeMsOf(ev: RuntimeEvent): number {
  const raw = ev['evt.rawtime'];
  return typeof raw === 'bigint' ? Number(raw / 1_000_000n) : typeof raw === 'number' ? Math.floor(raw / 1e6) : Date.now();
}

/**
 * A DNS answer the event carries (the probe's UDP receive from port 53, with flows on), with
 * who received it (container id, or `host`) and when; undefined for any other event.
 */
export function dnsAnswerOf(ev: RuntimeEvent): { container: string; timeMs: number; answer: DnsAnswer } | undefined {
  if (ev['evt.type'] !== 'recvfrom' || ev['fd.l4proto'] !== 'udp' || Number(ev['fd.rport']) !== 53) return undefined;
  const payload = ev['evt.buffer'];
  if (typeof payload !== 'string' || payload.length < 12) return undefined;
  const answer = parseDnsAnswer(Buffer.from(payload, 'latin1'));
  return answer ? { container: String(ev['container.id'] ?? 'host'), timeMs: timeMsOf(ev), answer } : undefined;
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
  const rip = unmapV4(str(ev['fd.rip']));
  const rport = Number(ev['fd.rport'] ?? 0);
  if (!rip) return undefined;
  const cidField = ev['container.id'];
  const cid = cidField === undefined || cidField === null ? 'host' : str(cidField);
  let lip = unmapV4(str(ev['fd.lip'])) || '0.0.0.0';
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
  return { timeMs: timeMsOf(ev), protocol, direction, local, remote: { ip: rip, port: rport }, observedBy: 'ebpf' };
}
