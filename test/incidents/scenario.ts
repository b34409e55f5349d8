/**
 * The two-host scenario as recorded-shape inputs: an admin execs into a web pod
 * through the API (audit.k8s.io/v1 Event as the apiserver's webhook sends it), a shell
 * alert from host A's sensor (Falco's "Terminal shell in container", its real tags), a flow
 * from that workload to the database, then an anomaly alert for a new process in the
 * database pod on host B. Two unrelated alerts land in the same minute.
 */
import type { FalcoAlert, FlowRecord } from '../../src/runtime/incidents/index.js';

export const T0 = Date.parse('2026-03-02T10:00:00Z');
export const at = (s: number): string => new Date(T0 + s * 1000).toISOString();

export const WEB_POD = 'web-7d9f8b6c5d-x2k4p';
export const WEB_WORKLOAD = 'k8s:default/shop/Deployment/web/web';
export const DB_WORKLOAD = 'k8s:default/shop/StatefulSet/db/postgres';

export function shellAlert(time: string, pod = WEB_POD, container = 'web', pid = 4242, ppid = 4200): FalcoAlert {
  return {
    time, rule: 'Terminal shell in container', priority: 'Notice', source: 'syscall', hostname: 'node-a',
    output: `${time}: Notice A shell was spawned in a container with an attached terminal | process=sh parent=runc command=sh`,
    output_fields: {
      'evt.type': 'execve', 'proc.name': 'sh', 'proc.pid': pid, 'proc.ppid': ppid, 'proc.pname': 'runc', 'proc.cmdline': 'sh', 'proc.tty': 34816,
      'user.name': 'root', 'container.id': `c0ffee${pod.length}${container}`.slice(0, 12), 'container.name': container, 'container.image.repository': `registry.local/${container}`,
      'k8s.ns.name': 'shop', 'k8s.pod.name': pod,
    },
    tags: ['maturity_stable', 'container', 'shell', 'mitre_execution', 'T1059'],
  };
}

export function dbProcessAlert(time: string): FalcoAlert {
  return {
    time, rule: 'Anomalous process execution', priority: 'Warning', source: 'gatehouse-anomaly', hostname: 'node-b',
    output: `${time}: Warning process /usr/bin/curl never seen in k8s:default/shop/StatefulSet/db/postgres (score 0.999)`,
    output_fields: {
      'proc.name': 'curl', 'proc.exepath': '/usr/bin/curl', 'proc.pid': 9100, 'proc.ppid': 9001, 'container.id': 'db0c0ntainer', 'container.name': 'postgres',
      'k8s.ns.name': 'shop', 'k8s.pod.name': 'db-0',
    },
    tags: ['anomaly', 'process', 'mitre_execution'],
  };
}

export function flow(time: string): FlowRecord {
  return { time, protocol: 'tcp', src: { workload: WEB_WORKLOAD, ip: '10.244.1.7', port: 40112, host: 'node-a' }, dst: { workload: DB_WORKLOAD, ip: '10.244.2.9', port: 5432, host: 'node-b' } };
}

/** An unrelated alert on host A in another workload (same minute). */
export function unrelatedA(time: string): FalcoAlert {
  return shellAlert(time, 'cache-5c8d7f9b4-q7w2z', 'cache', 777, 700);
}

/** An unrelated alert on host B: a DaemonSet's outbound connection to an internal address. */
export function unrelatedB(time: string): FalcoAlert {
  return {
    time, rule: 'Anomalous outbound connection', priority: 'Warning', source: 'gatehouse-anomaly', hostname: 'node-b',
    output: `${time}: Warning outbound connection to 10.0.0.9:9100 never seen`,
    output_fields: { 'proc.name': 'node_exporter', 'proc.pid': 300, 'proc.ppid': 1, 'fd.rip': '10.0.0.9', 'fd.rport': 9100, 'container.id': 'metr1cs00000', 'container.name': 'exporter', 'k8s.ns.name': 'monitoring', 'k8s.pod.name': 'node-exporter-x8k2m' },
    tags: ['anomaly', 'network', 'mitre_command_and_control'],
  };
}

/** The audit event of `kubectl exec -it web-… -c web -- sh` (the webhook's Metadata level, ResponseStarted stage). */
export function execAudit(time: string, auditID = '6f1c2b9e-1d7a-4c3e-9a51-3b8b0a1f2c4d', stage = 'ResponseStarted'): Record<string, unknown> {
  return {
    kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID, stage,
    requestURI: `/api/v1/namespaces/shop/pods/${WEB_POD}/exec?command=sh&container=web&stdin=true&stdout=true&tty=true`,
    verb: 'create', user: { username: 'mallory', groups: ['system:authenticated'] }, sourceIPs: ['192.0.2.10'], userAgent: 'kubectl/v1.31.0',
    objectRef: { resource: 'pods', namespace: 'shop', name: WEB_POD, apiVersion: 'v1', subresource: 'exec' },
    responseStatus: { metadata: {}, code: 101 },
    requestReceivedTimestamp: time, stageTimestamp: time,
  };
}
