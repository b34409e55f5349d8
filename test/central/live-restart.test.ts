/**
 * A restarted Central evaluates what its store holds at once, without waiting for the
 * watcher: here the cluster cannot be reached at all, and its stored objects still become
 * ranked deployments with their violations.
 */
import assert from 'node:assert/strict';
import { startLiveInventory } from '../../src/central/live/job.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import { startTestCentral, storeTest } from '../helpers/central.js';

const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: gone, cluster: { server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { token: abc } }]
contexts: [{ name: gone, context: { cluster: gone, user: u } }]
current-context: gone
`;

const deployment = (name: string, privileged: boolean) => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: name } },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'nginx:1.27', securityContext: { privileged } }] } } },
});

await storeTest('stored objects of an unreachable cluster are evaluated at start', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const live = startLiveInventory(c.ctx, { info: () => undefined, warn: () => undefined }, { debounceMs: 20 });
  try {
    const source = await createSource(c.db(), { kind: 'cluster', name: 'gone', sealedConfig: c.ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString());
    // What an earlier run of Central stored (no listener: nothing was evaluated then).
    const earlier = new StoreInventorySink(c.db(), { changed: () => undefined });
    await earlier.replaceKind(source!.id, 'Deployment', [deployment('web', true), deployment('api', false)].map((o) => ({ sourceId: source!.id, kind: 'Deployment', uid: o.metadata.uid, namespace: 'shop', name: o.metadata.name, body: o })));
    assert.equal((await c.api('GET', '/api/v1/deployments')).body.items.length, 0);
    await live.sync();
    let items: { name: string; riskScore: number }[] = [];
    for (let i = 0; i < 600 && items.length < 2; i++) {
      await live.evaluator.settle();
      items = (await c.api('GET', '/api/v1/deployments')).body.items;
      if (items.length < 2) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(items.map((d) => d.name), ['web', 'api'], 'ranked by risk: the privileged one first');
    const v = await c.api('GET', '/api/v1/violations?policy=privileged-container&state=active');
    assert.equal(v.body.items.length, 1);
  } finally {
    await live.stop();
    await c.close();
  }
});

await storeTest('deploy policies over image.* fields read what Central stored about the image', async (dialect) => {
  const c = await startTestCentral({ dialect });
  const live = startLiveInventory(c.ctx, { info: () => undefined, warn: () => undefined }, { debounceMs: 20 });
  try {
    const yaml = `apiVersion: gatehouse.dev/v1\nkind: PolicyPack\npolicies:\n  - id: no-critical-images\n    name: No image with critical vulnerabilities\n    severity: HIGH\n    subject: workload\n    stages: [deploy]\n    criteria:\n      field: image.vulnerabilities.critical\n      op: gt\n      value: 0\n    enforcement: [inform]\n`;
    const up = await c.api('POST', '/api/v1/policies', { pack: 'images', yaml });
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const vuln = { id: 'CVE-2024-0001', kind: 'vulnerability', severity: 'CRITICAL', title: 'CVE-2024-0001', resource: { image: { ref: 'nginx:1.27' } }, data: { package: 'openssl' } };
    await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${'a'.repeat(64)}`, refs: ['docker.io/library/nginx:1.27'] }, findings: [vuln] });
    const source = await createSource(c.db(), { kind: 'cluster', name: 'gone', sealedConfig: c.ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString());
    const earlier = new StoreInventorySink(c.db(), { changed: () => undefined });
    const web = deployment('web', false);
    const other = { ...deployment('other', false), metadata: { ...deployment('other', false).metadata } };
    other.spec.template.spec.containers[0]!.image = 'busybox:1';
    await earlier.replaceKind(source!.id, 'Deployment', [web, other].map((o) => ({ sourceId: source!.id, kind: 'Deployment', uid: o.metadata.uid, namespace: 'shop', name: o.metadata.name, body: o })));
    await live.sync();
    let items: { finding: { resource: { k8s: { name: string } } } }[] = [];
    for (let i = 0; i < 600 && items.length === 0; i++) {
      await live.evaluator.settle();
      items = (await c.api('GET', '/api/v1/violations?policy=no-critical-images')).body.items;
      if (items.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(items.length, 1, 'only the deployment running the vulnerable image');
    assert.equal(items[0]!.finding.resource.k8s.name, 'web');
  } finally {
    await live.stop();
    await c.close();
  }
});
