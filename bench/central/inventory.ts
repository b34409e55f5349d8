/**
 * A synthetic but realistic cluster for bench:central: `deployments` top-level workloads
 * (three quarters Deployments with their ReplicaSet, a fifth StatefulSets, the rest
 * DaemonSets) spread over namespaces of 50, three pods each, a Service per workload (a few
 * LoadBalancers and NodePorts), NetworkPolicies in half the namespaces, a ServiceAccount,
 * Role and RoleBinding per namespace, and a few cluster-admin bindings. A few workloads are
 * privileged, mount hostPath or use the host network, as in real fleets.
 */
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { syntheticDigest } from '../../src/central/images/bench-hook.js';

const uid = (s: string) => {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return `${h.toString(16).padStart(8, '0')}-bench-${s.length}-${s.replace(/[^a-z0-9]/g, '').slice(-24)}`;
};

/** The image reference stored image `i` is run under (its seeded ref pinned by digest). */
export const imageRef = (i: number) => `registry.example/team-${i % 50}/app-${i}:1.${i % 20}@${syntheticDigest(i)}`;

function podSpec(i: number, images: number): Record<string, unknown> {
  const privileged = i % 97 === 0;
  const hostPath = i % 53 === 0;
  const containers: Record<string, unknown>[] = [{
    name: 'app', image: imageRef(i % images),
    ports: [{ containerPort: 8080, name: 'http' }],
    env: [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    resources: i % 7 === 0 ? {} : { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
    readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
    securityContext: privileged ? { privileged: true } : i % 5 === 0 ? {} : { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    volumeMounts: [{ name: 'config', mountPath: '/etc/app' }, ...(hostPath ? [{ name: 'host', mountPath: '/host/var/log' }] : [])],
  }];
  if (i % 10 === 0) containers.push({ name: 'proxy', image: imageRef((i + 1) % images), ports: [{ containerPort: 15001 }], resources: { limits: { cpu: '200m', memory: '128Mi' } } });
  return {
    serviceAccountName: `sa-${i % 5}`,
    ...(i % 211 === 0 ? { hostNetwork: true } : {}),
    containers,
    volumes: [{ name: 'config', configMap: { name: `cfg-${i}` } }, ...(hostPath ? [{ name: 'host', hostPath: { path: '/var/log' } }] : [])],
  };
}

/** Objects of the cluster, grouped by kind (as a watcher's first list hands them over). */
export function clusterObjects(sourceId: string, deployments: number, images: number): Map<string, InventoryObject[]> {
  const byKind = new Map<string, InventoryObject[]>();
  const add = (kind: string, namespace: string | undefined, name: string, body: Record<string, unknown>, apiVersion = 'v1') => {
    const id = uid(`${kind}/${namespace ?? ''}/${name}`);
    const metadata = { name, ...(namespace ? { namespace } : {}), uid: id, resourceVersion: '1', creationTimestamp: '2026-11-01T10:00:00Z', ...(body.metadata as object | undefined) };
    const obj: InventoryObject = { sourceId, kind, uid: id, namespace, name, resourceVersion: '1', body: { apiVersion, kind, ...body, metadata } };
    let list = byKind.get(kind);
    if (!list) byKind.set(kind, (list = []));
    list.push(obj);
    return id;
  };
  const namespaces = Math.ceil(deployments / 50);
  for (let n = 0; n < namespaces; n++) {
    const ns = `team-${n}`;
    add('Namespace', undefined, ns, { metadata: { labels: { 'kubernetes.io/metadata.name': ns, team: `t${n % 40}` } } });
    for (let s = 0; s < 5; s++) add('ServiceAccount', ns, `sa-${s}`, {});
    add('Role', ns, 'app-reader', { rules: [{ apiGroups: [''], resources: ['configmaps', 'pods'], verbs: ['get', 'list', 'watch'] }, ...(n % 9 === 0 ? [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }] : [])] }, 'rbac.authorization.k8s.io/v1');
    add('RoleBinding', ns, 'app-reader', { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'app-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'sa-0', namespace: ns }] }, 'rbac.authorization.k8s.io/v1');
    if (n % 2 === 0) {
      add('NetworkPolicy', ns, 'default-deny', { spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } }, 'networking.k8s.io/v1');
      add('NetworkPolicy', ns, 'allow-http', { spec: { podSelector: { matchLabels: { tier: 'web' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'ingress' } } }], ports: [{ port: 8080 }] }], policyTypes: ['Ingress'] } }, 'networking.k8s.io/v1');
    }
    if (n % 25 === 0) add('ClusterRoleBinding', undefined, `ops-${ns}`, { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'sa-4', namespace: ns }] }, 'rbac.authorization.k8s.io/v1');
  }
  add('ClusterRole', undefined, 'cluster-admin', { rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }, 'rbac.authorization.k8s.io/v1');

  for (let i = 0; i < deployments; i++) {
    const ns = `team-${Math.floor(i / 50)}`;
    const name = `svc-${i}`;
    const labels = { app: name, tier: i % 3 === 0 ? 'web' : 'backend', 'app.kubernetes.io/part-of': `product-${i % 30}` };
    const kind = i % 20 < 15 ? 'Deployment' : i % 20 < 19 ? 'StatefulSet' : 'DaemonSet';
    const template = { metadata: { labels }, spec: podSpec(i, images) };
    const spec: Record<string, unknown> = { selector: { matchLabels: { app: name } }, template, ...(kind !== 'DaemonSet' ? { replicas: 3 } : {}), ...(kind === 'StatefulSet' ? { serviceName: name } : {}) };
    const ownerUid = add(kind, ns, name, { metadata: { labels }, spec }, 'apps/v1');
    let podOwner = { apiVersion: 'apps/v1', kind, name, uid: ownerUid, controller: true };
    if (kind === 'Deployment') {
      const rs = `${name}-7d9f8c6b5`;
      const rsUid = add('ReplicaSet', ns, rs, { metadata: { labels, ownerReferences: [podOwner] }, spec: { ...spec, replicas: 3 } }, 'apps/v1');
      podOwner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rsUid, controller: true };
    }
    for (let p = 0; p < 3; p++) {
      add('Pod', ns, `${name}-${p}-x${(i * 7 + p) % 1000}`, { metadata: { labels, ownerReferences: [podOwner] }, spec: { ...podSpec(i, images), nodeName: `node-${(i + p) % 60}` }, status: { phase: 'Running', podIP: `10.${(i >> 8) & 255}.${i & 255}.${p + 2}` } });
    }
    const type = i % 83 === 0 ? 'LoadBalancer' : i % 41 === 0 ? 'NodePort' : 'ClusterIP';
    add('Service', ns, name, { spec: { type, selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
  }
  return byKind;
}
