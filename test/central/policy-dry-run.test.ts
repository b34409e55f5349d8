/**
 * POST /api/v1/policies/dry-run: a changed or new policy evaluated against what Central
 * stores, nothing written. Images come in the real way (the CLI's `image sbom --server` for
 * the Debian test image; two pushes with creation dates through the ingest API, which
 * opens the built-in build violations); workloads are the real-repo manifests written
 * through Central's own inventory sink, and the dry run's workload violations are checked
 * against `k8s check --policy` of the same pack over the same manifests (the one engine).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { startTestCentral, storeTest } from '../helpers/central.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-dry-run-'));
after(() => rmSync(work, { recursive: true, force: true }));
const NO_CENTRAL_ENV = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
const manifests = fileURLToPath(new URL('../kube/fixtures/real-repo/kubernetes-manifests', import.meta.url));
const DAY = 86_400_000;

const imagePack = (days: number, component: string) => `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: trial }
subject: image
policies:
  - id: image-older-than-180-days
    name: Image older than ${days} days
    severity: MEDIUM
    stages: [build]
    criteria: { field: image.ageDays, op: gt, value: ${days} }
    enforcement: [inform]
  - id: trial-no-${component}
    name: ${component} is installed
    severity: LOW
    stages: [build]
    criteria: { field: component.name, op: equals, value: ${component} }
    enforcement: [inform]
`;

const workloadPack = `apiVersion: gatehouse.dev/v1
kind: PolicyPack
metadata: { name: trial-workloads }
subject: workload
policies:
  - id: trial-writable-root
    name: Container with a writable root filesystem
    severity: HIGH
    stages: [deploy]
    criteria: { field: container.securityContext.readOnlyRootFilesystem, op: notEquals, value: true }
    enforcement: [inform]
`;

await storeTest('a dry run shows the violations a changed or new policy would produce, and which would resolve, storing nothing', async (dialect) => {
  if (!cacheHas('oci', 'index.json')) return void missing(false, 'test images not built (.ci/setup.d/40-test-images.sh)');
  const c = await startTestCentral({ dialect });
  try {
    const ci = await c.token('ci');
    const analyst = await c.token('analyst');
    // The Debian test image's SBOM, pushed by the CLI.
    const out = join(work, `debian-${dialect}.cdx.json`);
    const push = await runCli(['image', 'sbom', `oci:${OCI_DIR}:debian`, '--format', 'cyclonedx', '--output', out, '--server', c.url, '--token', ci], { env: NO_CENTRAL_ENV, timeoutMs: 180_000 });
    assert.equal(push.code, 0, push.stderr);
    const debianDigest = /pushed image (sha256:[0-9a-f]{64})/.exec(push.stderr)![1]!;
    const debianComponents = (JSON.parse(readFileSync(out, 'utf8')).components as { type: string; name: string }[]).filter((x) => x.type !== 'operating-system');
    const component = debianComponents.find((x) => /^[a-z0-9.+-]+$/.test(x.name))!.name;
    // Two more images: 400 and 10 days old; only the old one breaks the built-in 180-day policy.
    const oldDigest = `sha256:${'1'.repeat(64)}`;
    const newDigest = `sha256:${'2'.repeat(64)}`;
    const now = Date.now();
    for (const [digest, days] of [[oldDigest, 400], [newDigest, 10]] as const) {
      const r = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs: [`registry.example/app:${days}d`], created: new Date(now - days * DAY).toISOString() } }, ci);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const openOld = (await c.api('GET', `/api/v1/violations?policy=image-older-than-180-days&state=active`)).body.items as { subject: string }[];
    assert.ok(openOld.some((v) => v.subject === oldDigest), `the built-in policy opened a violation on the old image: ${JSON.stringify(openOld)}`);
    const violationsBefore = await c.db().selectFrom('violations').selectAll().orderBy('id').execute();

    // 1000 days: the old image's violation would resolve. A new policy over the Debian image's packages opens one per matching package.
    const r = await c.api('POST', '/api/v1/policies/dry-run', { yaml: imagePack(1000, component), pack: 'trial' }, analyst);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const images = (await c.api('GET', '/api/v1/images')).body.items.length;
    assert.equal(r.body.evaluated.images, images);
    assert.equal(r.body.evaluated.deployments, 0, 'no workload policy in the pack');
    const matching = debianComponents.filter((x) => x.name === component).length;
    assert.equal(r.body.byPolicy[`trial-no-${component}`], matching);
    assert.equal(r.body.byPolicy['image-older-than-180-days'], undefined, 'no image is older than 1000 days');
    assert.equal(r.body.total, matching);
    assert.ok(r.body.violations.every((v: { subjectKey: string; change: string; state: string }) => v.subjectKey === debianDigest && v.change === 'new' && v.state === 'active'));
    assert.deepEqual(r.body.resolved.map((v: { subjectKey: string }) => v.subjectKey).filter((k: string) => k === oldDigest), [oldDigest], 'the old image\'s violation would resolve');
    assert.equal(r.body.changes.resolved, openOld.length);
    assert.ok(r.body.policies.every((p: { evaluated: boolean }) => p.evaluated));

    // 300 days: the old image's violation stays (unchanged); the bound keeps the first N.
    const stays = await c.api('POST', '/api/v1/policies/dry-run', { yaml: imagePack(300, component), limit: 0 }, analyst);
    assert.equal(stays.status, 200);
    assert.ok(!openOld.some((v) => v.subject === newDigest), 'the 10-day-old image breaks neither version');
    assert.equal(stays.body.changes.unchanged, openOld.length, 'every image older than 300 days keeps its violation');
    assert.equal(stays.body.changes.new, matching);
    assert.equal(stays.body.total, matching + openOld.length);
    assert.deepEqual(stays.body.violations, []);
    assert.equal(stays.body.truncated, true);

    // Workloads: the real-repo manifests through Central's inventory sink, on a cluster source.
    const cluster = await c.db().insertInto('sources').values({ id: 'cluster-dry', kind: 'cluster', name: 'shop', config: '{}', state: 'up', message: null, first_seen: new Date().toISOString(), last_seen: new Date().toISOString() }).execute();
    assert.ok(cluster);
    const sink = new StoreInventorySink(c.db(), { changed: () => undefined });
    let uid = 0;
    for (const f of readdirSync(manifests).filter((x) => x.endsWith('.yaml'))) {
      for (const doc of parseAllDocuments(readFileSync(join(manifests, f), 'utf8'))) {
        const body = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string; uid?: string } } | null;
        if (!body?.kind) continue;
        body.metadata = { namespace: 'default', ...body.metadata, uid: `u${++uid}` };
        await sink.upsert({ sourceId: 'cluster-dry', kind: body.kind, uid: body.metadata.uid!, namespace: body.metadata.namespace, name: body.metadata.name!, body });
      }
    }
    const packFile = join(work, 'trial-workloads.yaml');
    writeFileSync(packFile, workloadPack);
    const check = await runCli(['k8s', 'check', manifests, '--policy', packFile, '--no-defaults', '--format', 'json'], { env: NO_CENTRAL_ENV, timeoutMs: 180_000 });
    assert.ok(check.code === 0 || check.code === 1, check.stderr);
    const expected = (JSON.parse(check.stdout).findings as { policy?: { id: string } }[]).filter((f) => f.policy?.id === 'trial-writable-root').length;
    assert.ok(expected > 0, 'the manifests have containers with a writable root filesystem');
    const w = await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack }, analyst);
    assert.equal(w.status, 200, JSON.stringify(w.body));
    assert.ok(w.body.evaluated.deployments > 0);
    assert.equal(w.body.evaluated.images, 0, 'no image policy in the pack');
    assert.equal(w.body.byPolicy['trial-writable-root'], expected, 'the same violations as k8s check over the same manifests');
    assert.ok(w.body.violations.every((v: { subjectKind: string; subject: string }) => v.subjectKind === 'deployment' && v.subject.startsWith('shop/')));

    // Nothing stored by any dry run.
    assert.deepEqual(await c.db().selectFrom('violations').selectAll().orderBy('id').execute(), violationsBefore);

    // Bad input: an unknown field at file:line, a policy of a subject Central does not store, bad bodies.
    const typo = await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack.replace('    severity: HIGH', '    severity: HIGH\n    colour: red'), pack: 'mine' }, analyst);
    assert.equal(typo.status, 400);
    assert.match(typo.body.message, /^mine\.yaml:\d+: .*unknown policy key "colour"/);
    assert.equal(typo.body.problems.length, 1);
    assert.doesNotMatch(typo.body.message, /\n/);
    const notYaml = await c.api('POST', '/api/v1/policies/dry-run', { yaml: 'policies: [' }, analyst);
    assert.equal(notYaml.status, 400);
    assert.match(notYaml.body.message, /^policy\.yaml:\d+: /);
    const runtime = await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack.replace('subject: workload', 'subject: runtime').replace('stages: [deploy]', 'stages: [runtime]').replace('container.securityContext.readOnlyRootFilesystem', 'proc.name').replace('op: notEquals, value: true', 'op: equals, value: bash') }, analyst);
    assert.equal(runtime.status, 200, JSON.stringify(runtime.body));
    assert.equal(runtime.body.policies[0].evaluated, false);
    assert.match(runtime.body.policies[0].reason, /act on requests and events/);
    assert.deepEqual([runtime.body.total, runtime.body.evaluated], [0, { images: 0, deployments: 0 }]);
    assert.equal((await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack, colour: 'red' }, analyst)).status, 400);
    assert.equal((await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack, limit: 5000 }, analyst)).status, 400);
    assert.equal((await c.api('POST', '/api/v1/policies/dry-run', { yaml: workloadPack }, await c.token('sensor'))).status, 403);
  } finally {
    await c.close();
  }
});
