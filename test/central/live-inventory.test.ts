/**
 * Central's live inventory end to end: a real kube-apiserver (test/helpers/kube-cluster.ts)
 * holding Google's microservices-demo plus a privileged node agent, added to a real Central
 * through the API; the watcher, the store sink and the evaluator turn it into ranked
 * deployments and violations that follow every change.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { fetch as undiciFetch } from 'undici';
import { startLiveInventory, type LiveInventory } from '../../src/central/live/job.js';
import { missing } from '../helpers/components.js';
import { createObjects, insecureAgent, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { DIALECTS, dialectSkip, startTestCentral, type TestCentral } from '../helpers/central.js';

const demo = parseAllDocuments(readFileSync(fileURLToPath(new URL('../netpol/fixtures/microservices-demo-kubernetes-manifests.yaml', import.meta.url)), 'utf8')).map((d) => d.toJS() as Record<string, any>);

const nodeAgent = (privileged: boolean) => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'node-agent', namespace: 'default', labels: { app: 'node-agent' } },
  spec: {
    selector: { matchLabels: { app: 'node-agent' } },
    template: {
      metadata: { labels: { app: 'node-agent' } },
      spec: {
        hostNetwork: true,
        containers: [{ name: 'agent', image: 'registry.example/agent:2', securityContext: { privileged }, volumeMounts: [{ name: 'root', mountPath: '/host' }] }],
        volumes: [{ name: 'root', hostPath: { path: '/' } }],
      },
    },
  },
});

const quiet = { info: () => undefined, warn: (o: object) => console.error('live:', JSON.stringify(o)) };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const skipKube = missing(kubeBinariesPresent(), 'kube-apiserver and kine (built by .ci/setup.d/66-kube.sh)');

for (const dialect of DIALECTS) {
  describe(`live inventory [${dialect}]`, { skip: skipKube || (await dialectSkip(dialect)) }, () => {
    let cluster: TestCluster;
    let c: TestCentral;
    let live: LiveInventory;
    const k8s = (method: string, path: string, body?: unknown) => undiciFetch(`${cluster.server}${path}`, {
      method, dispatcher: insecureAgent(),
      headers: { authorization: `Bearer ${cluster.adminToken}`, 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

    before(async () => {
      cluster = await startCluster();
      await createObjects(cluster, [...demo, nodeAgent(true)]);
      c = await startTestCentral({ dialect });
      live = startLiveInventory(c.ctx, quiet, { debounceMs: 50 });
    });
    after(async () => {
      await live?.stop();
      await c?.close();
      await cluster?.stop();
    });

    test('a cluster added through the API is listed, evaluated and ranked by risk', async () => {
      const bad = await c.api('POST', '/api/v1/clusters', { name: 'lab', kubeconfig: 'apiVersion: v1\nkind: Config\n', context: 'nope' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /no context "nope"/);
      const added = await c.api('POST', '/api/v1/clusters', { name: 'lab', kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      assert.equal((await c.api('POST', '/api/v1/clusters', { name: 'lab', kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') })).status, 409);
      const stored = JSON.stringify(await c.db().selectFrom('sources').selectAll().execute());
      assert.ok(!stored.includes(cluster.adminToken), 'the kubeconfig credentials are sealed in the store');
      await live.sync();
      // Kinds arrive in any order (23 lists): wait until the Services have been seen too.
      const exposedFrontend = (items: { name: string; riskFactors: { details: string[] }[] }[]) =>
        /frontend-external \(LoadBalancer\)/.test(items.find((d) => d.name === 'frontend')?.riskFactors.flatMap((f) => f.details).join('\n') ?? '');
      const list = await until('13 deployments, the frontend exposed by its LoadBalancer', async () => {
        await live.evaluator.settle();
        const r = await c.api('GET', '/api/v1/deployments?sort=risk&limit=50');
        return r.body.items.length === 13 && exposedFrontend(r.body.items) && r.body.items;
      });
      assert.equal(list[0].name, 'node-agent', `riskiest first: ${list.map((d: { name: string; riskScore: number }) => `${d.name}=${d.riskScore}`).join(' ')}`);
      assert.equal(list[0].cluster, 'lab');
      const details = list[0].riskFactors.flatMap((f: { details: string[] }) => f.details).join('\n');
      assert.match(details, /privileged container 'agent'/);
      for (let i = 1; i < list.length; i++) assert.ok(list[i - 1].riskScore >= list[i].riskScore, 'sorted by risk');
      const frontend = list.find((d: { name: string }) => d.name === 'frontend');
      assert.match(frontend.riskFactors.flatMap((f: { details: string[] }) => f.details).join('\n'), /frontend-external \(LoadBalancer\)/);

      const v = await c.api('GET', `/api/v1/violations?subject=${list[0].id}&state=active&limit=100`);
      assert.ok(v.body.items.some((x: { policyId: string }) => x.policyId === 'privileged-container'), 'deploy policies ran on the live object');
      const detail = await c.api('GET', `/api/v1/deployments/${list[0].id}`);
      assert.equal(detail.status, 200);
      assert.ok(detail.body.violations.some((x: { policyId: string }) => x.policyId === 'host-network'));
      const clusters = await c.api('GET', '/api/v1/clusters');
      assert.equal(clusters.body.items[0].deployments, 13);
    });

    test('an image push re-scores the deployments that run it, and only those', async () => {
      const before = new Map<string, number>((await c.api('GET', '/api/v1/deployments?limit=50')).body.items.map((d: { name: string; riskScore: number }) => [d.name, d.riskScore]));
      const frontendImage = demo.find((o) => o.kind === 'Deployment' && o.metadata.name === 'frontend')!.spec.template.spec.containers[0].image as string;
      const vuln = { id: 'CVE-2024-0001', kind: 'vulnerability', severity: 'CRITICAL', title: 'CVE-2024-0001 in openssl', resource: { image: { ref: frontendImage } }, data: { package: 'openssl', fixedVersion: '3.0.9' } };
      assert.equal((await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${'f'.repeat(64)}`, refs: [frontendImage] }, findings: [vuln] })).status, 200);
      const after = await until('frontend re-scored', async () => {
        await live.evaluator.settle();
        const list = (await c.api('GET', '/api/v1/deployments?limit=50')).body.items as { name: string; riskScore: number }[];
        const m = new Map(list.map((d) => [d.name, d.riskScore]));
        return m.get('frontend')! > before.get('frontend')! && m;
      });
      for (const [name, score] of before) if (name !== 'frontend') assert.equal(after.get(name), score, `${name} is not affected`);
    });

    test('changes on the cluster re-evaluate: a fix resolves its violation, a delete removes the deployment', async () => {
      const id = (await c.api('GET', '/api/v1/deployments?namespace=default&limit=50')).body.items.find((d: { name: string }) => d.name === 'node-agent').id;
      const before = (await c.api('GET', `/api/v1/deployments/${id}`)).body.riskScore;
      const r = await k8s('PATCH', '/apis/apps/v1/namespaces/default/daemonsets/node-agent', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'registry.example/agent:2', securityContext: { privileged: false }, volumeMounts: [{ name: 'root', mountPath: '/host' }] }] } } } });
      assert.equal(r.status, 200, await r.text());
      await until('privileged-container resolved', async () => {
        await live.evaluator.settle();
        const v = await c.api('GET', `/api/v1/violations?subject=${id}&policy=privileged-container`);
        return v.body.items[0]?.state === 'resolved';
      });
      const after = (await c.api('GET', `/api/v1/deployments/${id}`)).body.riskScore;
      assert.ok(after < before, `risk falls when privileged goes (${before} → ${after})`);

      const exc = await c.api('POST', '/api/v1/exceptions', { policy: 'host-network', workload: 'DaemonSet/node-agent', owner: 'platform', reason: 'node agent needs the host network', expires: '2099-01-01' });
      assert.equal(exc.status, 201);
      assert.equal((await c.api('GET', `/api/v1/violations?subject=${id}&policy=host-network`)).body.items[0].state, 'excepted');

      assert.equal((await k8s('DELETE', '/apis/apps/v1/namespaces/default/daemonsets/node-agent')).status, 200);
      await until('node-agent gone', async () => {
        await live.evaluator.settle();
        const list = await c.api('GET', '/api/v1/deployments?limit=50');
        return list.body.items.length === 12 && !list.body.items.some((d: { name: string }) => d.name === 'node-agent');
      });
      const gone = await c.api('GET', `/api/v1/deployments/${id}`);
      assert.ok(gone.body.deletedAt, 'kept with its deletion time');
      const open = (await c.api('GET', `/api/v1/violations?subject=${id}&limit=100`)).body.items.filter((x: { state: string }) => x.state !== 'resolved');
      assert.deepEqual(open, [], 'a deleted deployment has no open violation');
      // A removed cluster takes its inventory with it.
      const clusterId = (await c.api('GET', '/api/v1/clusters')).body.items[0].id;
      assert.equal((await c.api('DELETE', `/api/v1/clusters/${clusterId}`)).status, 204);
      await live.sync();
      assert.equal((await c.api('GET', '/api/v1/deployments')).body.items.length, 0);
    });
  });
}
