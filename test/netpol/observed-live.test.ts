/**
 * Policy from observation against a real kube-apiserver: the workloads are read from the
 * live cluster (`netpol generate --cluster --observed --flows FILE`: Pods grouped under their
 * ReplicaSets, the flows' pod names resolved to them), the generated NetworkPolicies are
 * created in the cluster (the API server validates every one of them, IPv6 ipBlock
 * included), and `netpol analyze --cluster` reading them back lists exactly the observed
 * connections.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, kubeRequest, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import type { ObservedFlow } from '../../src/network/flow.js';

const NS = 'shop';
const RS = { web: 'web-5d8f7c9b4', api: 'api-7f6d5c4b3' };
const POD = { web: `${RS.web}-x7k2p`, api: `${RS.api}-q2w3e` };

function workloadObjects(): Record<string, any>[] {
  const out: Record<string, any>[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }];
  for (const app of ['web', 'api'] as const) {
    const labels = { app };
    const spec = { containers: [{ name: app, image: `registry.example/${app}:1`, ports: [{ containerPort: 8080 }] }] };
    out.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: RS[app], namespace: NS }, spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec } } });
    out.push({
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: POD[app], namespace: NS, labels, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: RS[app], uid: `00000000-0000-0000-0000-00000000000${app === 'web' ? 1 : 2}`, controller: true }] },
      spec,
    });
  }
  return out;
}

function flows(): string {
  const t = new Date().toISOString();
  const f = (o: Pick<ObservedFlow, 'direction' | 'local' | 'remote'> & Partial<ObservedFlow>): ObservedFlow => ({ protocol: 'TCP', firstSeen: t, lastSeen: t, connections: 1, observedBy: 'ebpf', ...o });
  return [
    f({ direction: 'egress', local: { ip: '10.1.0.5', port: 0, pod: { namespace: NS, name: POD.web } }, remote: { ip: '10.1.0.9', port: 8080 } }),
    f({ direction: 'ingress', local: { ip: '10.1.0.9', port: 8080, pod: { namespace: NS, name: POD.api } }, remote: { ip: '10.1.0.5', port: 40400 } }),
    f({ protocol: 'UDP', direction: 'egress', local: { ip: '10.1.0.9', port: 0, pod: { namespace: NS, name: POD.api } }, remote: { ip: '1.1.1.1', port: 53 } }),
    f({ direction: 'egress', local: { ip: '10.1.0.9', port: 0, pod: { namespace: NS, name: POD.api } }, remote: { ip: '2001:db8::1', port: 443 } }),
  ].map((x) => JSON.stringify(x)).join('\n');
}

describe('policy from observation on a real kube-apiserver', { skip: missing(kubeBinariesPresent(), 'kube-apiserver and kine (bash .ci/setup.d/66-kube.sh)'), timeout: 600_000 }, () => {
  let cluster: TestCluster;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-observed-live-'));

  before(async () => {
    cluster = await startCluster();
    await createObjects(cluster, workloadObjects());
  });
  after(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generated from the live workloads, created in the cluster, read back: exactly the observed connections', async () => {
    const flowFile = join(dir, 'flows.jsonl');
    writeFileSync(flowFile, flows());
    const out = join(dir, 'policies.yaml');
    const gen = await runCli(['netpol', 'generate', '--cluster', '--kubeconfig', cluster.kubeconfig, '--observed', '--flows', flowFile, '--output', out]);
    assert.equal(gen.code, 0, gen.stderr);
    const policies = parseAllDocuments(readFileSync(out, 'utf8')).map((d) => d.toJS() as Record<string, any>);
    const api = policies.find((p) => p.metadata.name === 'gatehouse-allow-api-7f6d5c4b3-replicaset')!;
    assert.deepEqual(api.spec.egress.map((r: any) => r.to[0].ipBlock?.cidr).filter(Boolean).sort(), ['1.1.1.1/32', '2001:db8::1/128']);
    // The API server validates every policy as it creates it.
    await createObjects(cluster, policies);
    const listed = await kubeRequest(cluster, 'GET', `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((p: any) => p.metadata.name).sort(), policies.map((p) => p.metadata.name).sort());

    const analyzed = await runCli(['netpol', 'analyze', '--cluster', '--kubeconfig', cluster.kubeconfig]);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    assert.deepEqual(analyzed.stdout.split('\n').filter(Boolean).sort(), [
      `${NS}/${RS.api}[ReplicaSet] => 1.1.1.1-1.1.1.1[External] : UDP 53`,
      `${NS}/${RS.web}[ReplicaSet] => ${NS}/${RS.api}[ReplicaSet] : TCP 8080`,
    ]);
  });
});
