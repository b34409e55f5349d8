/**
 * Generated correlator inputs (shared by the engine's and the store's differential tests):
 * alerts with process lineage, pods and public endpoints, flows that wait and then join,
 * exec audit events and denials, out of time order, from small pools so keys collide.
 */
import type { CorrelationInput } from '../../src/runtime/incidents/index.js';
import { rng } from '../helpers/random.js';

export const T0 = Date.parse('2026-03-02T10:00:00Z');

/** Inputs over `spanMin` minutes, drawn from small pools so keys, pids, pods and ids collide. */
export function inputs(seed: number, n: number, spanMin: number, pools: number): CorrelationInput[] {
  const r = rng(seed);
  const pick = (k: number) => Math.floor(r() * k);
  const wl = (m: number) => `k8s:c1/shop/Deployment/app-${m}/app`;
  const ip = (m: number) => `10.1.0.${m}`;
  return Array.from({ length: n }, (): CorrelationInput => {
    const time = new Date(T0 + pick(spanMin * 60) * 1000).toISOString();
    const m = pick(pools);
    const x = r();
    if (x < 0.45) {
      // A flow between pool workloads (their alerts' identities), sometimes to a public address or without a source workload.
      const dst = pick(pools);
      const external = r() < 0.15;
      return {
        kind: 'flow', id: `f${pick(n)}`, cluster: 'c1',
        flow: {
          time, protocol: r() < 0.9 ? 'tcp' : 'udp',
          // A pod's address is reused by another workload now and then: a flow then links two incidents' keys.
          src: { ...(r() < 0.9 ? { workload: wl(m) } : {}), ip: ip(r() < 0.7 ? m : pick(pools)), ...(r() < 0.5 ? { host: `node-${m % 3}` } : {}) },
          dst: external ? { ip: `93.184.0.${pick(4)}`, port: 443 } : { ...(r() < 0.8 ? { workload: wl(dst) } : {}), ip: ip(dst), port: 8080 },
        },
      };
    }
    if (x < 0.85) {
      const pid = 100 + pick(pools * 2);
      const fields: Record<string, string | number> = {
        'proc.name': 'sh', 'proc.pid': pid, 'proc.ppid': 100 + pick(pools * 2), 'container.id': `cid${m}`, 'container.name': 'app',
        'k8s.ns.name': 'shop', 'k8s.pod.name': `app-${m}-7d9f8b6c5d-x2k4p`,
      };
      if (r() < 0.3) fields['proc.apid[2]'] = 100 + pick(pools * 2);
      if (r() < 0.2) Object.assign(fields, { 'fd.rip': r() < 0.5 ? `93.184.0.${pick(4)}` : '10.0.0.9', 'fd.rport': 443 });
      const rule = ['Terminal shell in container', 'Write below etc', 'Anomalous process execution', 'Gatehouse sensor dropped events'][pick(4)]!;
      return {
        kind: 'alert', id: `a${pick(n)}`, cluster: 'c1', host: `node-${m % 3}`,
        alert: { time, rule, priority: ['Notice', 'Warning', 'Critical', 'Error'][pick(4)]!, output_fields: fields, tags: r() < 0.5 ? ['mitre_execution', 'T1059'] : ['mitre_persistence'] },
      };
    }
    if (x < 0.95) {
      const auditID = `au${pick(n)}`;
      return {
        kind: 'audit', cluster: 'c1',
        event: {
          auditID, stage: r() < 0.5 ? 'ResponseStarted' : 'ResponseComplete', verb: 'create', user: { username: 'mallory' },
          requestURI: `/api/v1/namespaces/shop/pods/app-${m}-7d9f8b6c5d-x2k4p/exec?command=sh&container=app`,
          objectRef: { resource: 'pods', namespace: 'shop', name: `app-${m}-7d9f8b6c5d-x2k4p`, subresource: 'exec' }, requestReceivedTimestamp: time,
        },
      };
    }
    return { kind: 'denial', id: `d${pick(n)}`, cluster: 'c1', denial: { time, layer: 'admission', rule: 'no-privileged', severity: 'HIGH', namespace: 'shop', name: `app-${m}`, kind: 'Deployment', user: r() < 0.5 ? 'mallory' : 'ci' } };
  });
}

