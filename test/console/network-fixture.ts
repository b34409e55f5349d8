/**
 * A small cluster for the /network browser test, written through Central's real inventory
 * path (StoreInventorySink → LiveEvaluator, as a watcher's first list does), and the flows a
 * sensor would ship for it (ingest events of type `flow`, data an ObservedFlow).
 *
 *   web/frontend ──8080──▶ shop/cart ──5432──▶ shop/db        (allowed by NetworkPolicies)
 *   web/frontend ──5432──▶ shop/db                            (observed, NOT allowed)
 *   shop/cart    ──443───▶ 203.0.113.5 (api.payments.example)  (egress not isolated: allowed)
 *   shop default-deny ingress; cart ← web/frontend :8080; db ← cart :5432.
 * So: frontend→cart allowed and observed, frontend→db observed-not-allowed (red), cart→db
 * allowed-not-observed (dashed), cart→external observed and allowed.
 */
import type { InventoryObject } from '../../src/central/inventory/types.js';
import type { IngestEvent } from '../../src/central/client/ingest-types.js';
import type { ObservedFlow } from '../../src/network/flow.js';

export const CLUSTER = 'shop-prod';
export const IPS = { frontend: '10.1.0.2', cart: '10.1.1.2', db: '10.1.1.3', external: '203.0.113.5' };

export function shopObjects(sourceId: string): Map<string, InventoryObject[]> {
  const byKind = new Map<string, InventoryObject[]>();
  let n = 0;
  const add = (kind: string, namespace: string | undefined, name: string, body: Record<string, unknown>, apiVersion = 'v1') => {
    const uid = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`;
    const metadata = { name, ...(namespace ? { namespace } : {}), uid, resourceVersion: '1', creationTimestamp: '2026-11-01T10:00:00Z', ...(body.metadata as object | undefined) };
    const obj: InventoryObject = { sourceId, kind, uid, namespace, name, resourceVersion: '1', body: { apiVersion, kind, ...body, metadata } };
    byKind.set(kind, [...(byKind.get(kind) ?? []), obj]);
    return uid;
  };
  for (const ns of ['web', 'shop']) add('Namespace', undefined, ns, { metadata: { labels: { 'kubernetes.io/metadata.name': ns } } });
  const workload = (ns: string, name: string, port: number, ip: string) => {
    const labels = { app: name };
    const spec = { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image: `registry.example/${name}:1`, ports: [{ containerPort: port }] }] } } };
    const dUid = add('Deployment', ns, name, { metadata: { labels }, spec }, 'apps/v1');
    const rs = `${name}-5d8f7c9b4`;
    const rsUid = add('ReplicaSet', ns, rs, { metadata: { labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: dUid, controller: true }] }, spec }, 'apps/v1');
    add('Pod', ns, `${rs}-abcde`, {
      metadata: { labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: rsUid, controller: true }] },
      spec: { ...spec.template.spec, nodeName: 'node-1' }, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
    });
    add('Service', ns, name, { spec: { type: 'ClusterIP', selector: labels, ports: [{ port, targetPort: port }] } });
  };
  workload('web', 'frontend', 8080, IPS.frontend);
  workload('shop', 'cart', 8080, IPS.cart);
  workload('shop', 'db', 5432, IPS.db);
  const np = (name: string, spec: Record<string, unknown>) => add('NetworkPolicy', 'shop', name, { spec }, 'networking.k8s.io/v1');
  np('default-deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] });
  np('cart-from-frontend', { podSelector: { matchLabels: { app: 'cart' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'web' } }, podSelector: { matchLabels: { app: 'frontend' } } }], ports: [{ protocol: 'TCP', port: 8080 }] }] });
  np('db-from-cart', { podSelector: { matchLabels: { app: 'db' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { app: 'cart' } } }], ports: [{ protocol: 'TCP', port: 5432 }] }] });
  return byKind;
}

/** What the sensors on node-1 ship: one aggregated flow per connection pair. */
export function shopFlows(now: number): IngestEvent[] {
  const t = (s: number) => new Date(now + s * 1000).toISOString();
  const flow = (id: string, ns: string, pod: string, ip: string, remote: { ip: string; port: number; dns?: string }, connections: number, s: number): IngestEvent => {
    const data: ObservedFlow = {
      protocol: 'TCP', direction: 'egress', local: { ip, port: 40000 + connections, pod: { namespace: ns, name: pod }, process: { name: 'app' } },
      remote, firstSeen: t(s), lastSeen: t(s + 30), connections, observedBy: 'ebpf',
    };
    return { id, type: 'flow', time: t(s + 30), data: data as unknown as Record<string, unknown> };
  };
  return [
    flow('flow-frontend-cart', 'web', 'frontend-5d8f7c9b4-abcde', IPS.frontend, { ip: IPS.cart, port: 8080 }, 42, 0),
    flow('flow-frontend-db', 'web', 'frontend-5d8f7c9b4-abcde', IPS.frontend, { ip: IPS.db, port: 5432 }, 3, 10),
    flow('flow-cart-external', 'shop', 'cart-5d8f7c9b4-abcde', IPS.cart, { ip: IPS.external, port: 443, dns: 'api.payments.example' }, 7, 20),
  ];
}
