/**
 * Central's compliance API end to end: a real kube-apiserver (test/helpers/kube-cluster.ts)
 * watched by a real Central (SQLite and PostgreSQL) through its live inventory, and a control
 * plane's failed checks pushed by the real `gatehouse node check --server`. The report per
 * control is checked against what was created, and against `gatehouse compliance report
 * --cluster` run on the same cluster; CSV and HTML come back as downloads.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { CHECKS_ON_UNSTORED_KINDS, UNSTORED_KINDS } from '../../src/central/api/compliance.js';
import { startLiveInventory } from '../../src/central/live/job.js';
import { CSV_HEADER, type ComplianceReport, type ControlResult } from '../../src/compliance/index.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { makeRoot } from '../node/fixture.js';

const objects: Record<string, any>[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } },
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } },
  { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'quota', namespace: 'team-a' }, spec: { hard: { pods: '10' } } },
  { apiVersion: 'v1', kind: 'LimitRange', metadata: { name: 'limits', namespace: 'team-a' }, spec: { limits: [{ type: 'Container', default: { cpu: '500m' } }] } },
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'team-b', labels: { app: 'web' } },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [{ name: 'web', image: 'registry.example/web:1', securityContext: { privileged: true }, ports: [{ containerPort: 80, hostPort: 8080 }], volumeMounts: [{ name: 'etc', mountPath: '/host-etc' }] }],
          volumes: [{ name: 'etc', hostPath: { path: '/etc' } }],
        },
      },
    },
  },
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'team-b' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 80 }] } },
  {
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'web', namespace: 'team-b' },
    spec: { rules: [{ host: 'web.example.com', http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  },
];

const skipKube = missing(kubeBinariesPresent(), 'kube-apiserver and kine (built by .ci/setup.d/66-kube.sh)');
const quiet = { info: () => undefined, warn: (o: object) => console.error('live:', JSON.stringify(o)) };
const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const withCheck = (r: ComplianceReport, id: string): ControlResult[] => r.controls.filter((c) => c.checks.some((k) => k.id === id));
const control = (r: ComplianceReport, id: string): ControlResult => {
  const c = r.controls.find((x) => x.id === id);
  assert.ok(c, `control ${id} is in the report`);
  return c;
};

let cluster: TestCluster | undefined;
// The same control plane, failing anonymous-auth and AlwaysAllow, for every dialect; host name cp-1.
const fx = makeRoot({ 'proc/sys/kernel/hostname': 'cp-1\n', flags: 'kube-apiserver --anonymous-auth=true --authorization-mode=AlwaysAllow --profiling=false\n' });
let cliReport: ComplianceReport | undefined;

before(async () => {
  if (skipKube) return;
  cluster = await startCluster();
  await createObjects(cluster, objects);
  // What the CLI says about the same cluster and the same node check (its JSON report, with every result).
  const node = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--format', 'json', '--output', fx.path('node.json')], { env });
  assert.equal(node.code, 0, node.stderr);
  const cli = await runCli(['compliance', 'report', '--framework', 'cis-kubernetes', '--cluster', '--kubeconfig', cluster.kubeconfig, '--findings', fx.path('node.json'), '--format', 'json'], { env });
  assert.ok(cli.code === 0, cli.stderr);
  cliReport = JSON.parse(cli.stdout) as ComplianceReport;
});
after(async () => {
  await cluster?.stop();
  fx.cleanup();
});

if (skipKube) test('compliance API over a live cluster', { skip: skipKube }, () => undefined);
else {
  await storeTest('compliance API: a live cluster and pushed node checks, per control, as JSON, CSV and HTML', async (dialect) => {
    const c = await startTestCentral({ dialect });
    const live = startLiveInventory(c.ctx, quiet, { debounceMs: 50 });
    try {
      const analyst = await c.token('analyst');
      const ci = await c.token('ci');
      const added = await c.api('POST', '/api/v1/clusters', { name: 'lab', kubeconfig: readFileSync(cluster!.kubeconfig, 'utf8') });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const clusterId = added.body.id as string;
      await live.sync();
      await until('the cluster objects in the store', async () => {
        const rows = await c.db().selectFrom('objects').select(['kind', 'name']).where('source_id', '=', clusterId).where('namespace', '=', 'team-b').where('deleted_at', 'is', null).execute();
        return ['Deployment', 'Service', 'Ingress'].every((k) => rows.some((r) => r.kind === k && r.name === 'web'));
      });
      // A scan of the image web runs, pushed through the ingest API: built in 2020, no vulnerability.
      const image = await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${'a'.repeat(64)}`, refs: ['registry.example/web:1'], created: '2020-01-01T00:00:00Z' }, findings: [] }, ci);
      assert.equal(image.status, 200, JSON.stringify(image.body));
      const push = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--format', 'json', '--output', fx.path(`push-${dialect}.json`), '--server', c.url, '--token', ci], { env });
      assert.equal(push.code, 0, push.stderr);

      // The frameworks, readable by an analyst.
      const fws = await c.api('GET', '/api/v1/compliance/frameworks', undefined, analyst);
      assert.equal(fws.status, 200, JSON.stringify(fws.body));
      assert.deepEqual(fws.body.items.map((f: { id: string }) => f.id).sort(), ['cis-kubernetes', 'nist-800-190']);
      assert.ok(fws.body.items.every((f: { controls: number; version: string }) => f.controls > 20 && f.version));

      const res = await c.api('GET', `/api/v1/compliance/report?framework=cis-kubernetes&cluster=${clusterId}`, undefined, analyst);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const report = res.body as ComplianceReport;
      assert.equal(report.framework.id, 'cis-kubernetes');
      assert.match(report.inputs.join('\n'), /cluster lab \(Central's live inventory/);
      assert.match(report.inputs.join('\n'), /node check from cp-1/);
      // hostPath and hostPort of team-b/web: CIS v1.10 5.2.12 and 5.2.13.
      for (const id of ['5.2.12', '5.2.13']) {
        const ctl = control(report, id);
        assert.equal(ctl.status, 'fail', `${id}: ${ctl.reason}`);
        assert.match(JSON.stringify(ctl.results.filter((x) => x.status === 'fail')), /web/);
      }
      // The node check's failures pushed to Central fail the API server's controls, named by host.
      for (const id of ['controlplane.apiserver.anonymous-auth', 'controlplane.apiserver.authorization-not-always-allow']) {
        const ctls = withCheck(report, id);
        assert.ok(ctls.length > 0, `${id} is mapped`);
        for (const ctl of ctls) {
          assert.equal(ctl.status, 'fail', `${ctl.id}: ${ctl.reason}`);
          assert.ok(ctl.results.some((x) => x.id === id && x.status === 'fail' && /cp-1/.test(x.evidence.join(' '))), `${ctl.id}: the failure names cp-1`);
        }
      }
      // ResourceQuota: team-a has one, team-b none. Central says so only when it stores ResourceQuotas.
      const quota = withCheck(report, 'k8s.namespace.resourcequota')[0]!.checks.find((k) => k.id === 'k8s.namespace.resourcequota')!;
      if (UNSTORED_KINDS.includes('ResourceQuota')) {
        assert.equal(quota.fail, 0, 'an absence Central cannot see is never a failure');
        assert.ok(quota.unknown >= 2, `team-a and team-b are unknown (${JSON.stringify(quota)})`);
      } else {
        assert.ok(quota.pass >= 1 && quota.fail >= 1, JSON.stringify(quota));
      }

      // The same cluster through the CLI: every control that rests on neither the node check
      // (Central keeps its failures only), nor unstored kinds, nor images has the same status and counts.
      const skip = (id: string) => id.startsWith('node.') || id.startsWith('controlplane.') || CHECKS_ON_UNSTORED_KINDS.includes(id);
      let compared = 0;
      for (const mine of report.controls) {
        // Image policies: Central has web's scan, the CLI has none.
        if (mine.checks.some((k) => skip(k.id)) || mine.results.some((x) => x.evidence.some((e) => e.startsWith('image ')))) continue;
        const theirs = cliReport!.controls.find((x) => x.id === mine.id)!;
        assert.equal(mine.status, theirs.status, `${mine.id}: Central "${mine.reason}" vs CLI "${theirs.reason}"`);
        assert.deepEqual(mine.checks.map((k) => [k.id, k.pass, k.fail]), theirs.checks.map((k) => [k.id, k.pass, k.fail]), mine.id);
        compared++;
      }
      assert.ok(compared > 15, `compared ${compared} controls`);

      // NIST: the orchestrator's unauthorized-access control fails on the pushed API server checks.
      const nist = await c.api('GET', `/api/v1/compliance/report?framework=nist-800-190&cluster=${clusterId}`, undefined, analyst);
      assert.equal(nist.status, 200);
      assert.equal(control(nist.body, '4.3.2').status, 'fail');
      // The image policies Central ran on web's scanned image count too: too old fails, no vulnerability passes.
      const imageResult = (id: string) => (nist.body as ComplianceReport).controls.flatMap((x) => x.results).find((x) => x.id === id && /registry\.example\/web:1/.test(x.evidence.join(' ')));
      assert.equal(imageResult('image-older-than-180-days')?.status, 'fail');
      assert.equal(imageResult('image-critical-fixable-vulnerability')?.status, 'pass');
      assert.match((nist.body as ComplianceReport).inputs.join('\n'), /image policies on 1 scanned image/);

      // CSV and HTML downloads.
      const get = (q: string, token = analyst) => fetch(`${c.url}/api/v1/compliance/report?${q}`, { headers: { authorization: `Bearer ${token}` } });
      const csv = await get(`framework=cis-kubernetes&cluster=${clusterId}&format=csv`);
      assert.equal(csv.status, 200);
      assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(csv.headers.get('content-disposition') ?? '', /^attachment; filename="gatehouse-compliance-cis-kubernetes-lab-\d{4}-\d\d-\d\d\.csv"$/);
      const lines = (await csv.text()).trim().split('\r\n');
      assert.equal(lines[0], CSV_HEADER.join(','));
      assert.ok(lines.some((l) => /^"?cis-kubernetes"?,[^,]*,"?5\.2\.12"?,.*\bfail\b/.test(l)), lines.slice(0, 3).join('\n'));
      const html = await get(`framework=nist-800-190&format=html`);
      assert.equal(html.status, 200);
      assert.match(html.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(html.headers.get('content-disposition') ?? '', /filename="gatehouse-compliance-nist-800-190-central-\d{4}-\d\d-\d\d\.html"/);
      const page = await html.text();
      assert.match(page, /@media print/);
      assert.match(page, /4\.3\.2/);
      assert.doesNotMatch(page, /<(script|link|img)[^>]+(src|href)=["']?https?:/i, 'self-contained');

      // Bad requests: one-line errors.
      const bad = await c.api('GET', '/api/v1/compliance/report?framework=pci-dss', undefined, analyst);
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /framework/);
      assert.equal((await c.api('GET', '/api/v1/compliance/report', undefined, analyst)).status, 400);
      assert.equal((await c.api('GET', '/api/v1/compliance/report?framework=cis-kubernetes&format=pdf', undefined, analyst)).status, 400);
      assert.equal((await c.api('GET', '/api/v1/compliance/report?framework=cis-kubernetes&namespace=x', undefined, analyst)).status, 400);
      const none = await c.api('GET', '/api/v1/compliance/report?framework=cis-kubernetes&cluster=cluster-000000000000', undefined, analyst);
      assert.equal(none.status, 404);
      assert.match(none.body.message, /no cluster source/);
      assert.equal((await c.api('GET', '/api/v1/compliance/report?framework=cis-kubernetes', undefined, ci)).status, 403);
      assert.equal((await get('framework=cis-kubernetes', 'not-a-token')).status, 401);
    } finally {
      await live.stop();
      await c.close();
    }
  });
}
