/**
 * The live evaluator's targeted pass: an image push (or an alert) re-evaluates only the
 * deployments running that image (or alerted), found through the source's image index
 * rather than by walking every object, and the image catalog reads only the pushed rows
 * again. Proven on both stores against the full pass: after the targeted passes, a full
 * pass changes no deployment's risk.
 */
import assert from 'node:assert/strict';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { deploymentId } from '../../src/central/live/deployments.js';
import { createSource } from '../../src/central/store/sources.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { startTestCentral, storeTest } from '../helpers/central.js';

const APP = 'registry.example/team/app:1';
const PINNED = `sha256:${'a'.repeat(64)}`;

function deployment(sourceId: string, name: string, images: string[]): InventoryObject {
  return {
    sourceId, kind: 'Deployment', uid: `uid-${name}`, namespace: 'shop', name, resourceVersion: '1',
    body: {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', uid: `uid-${name}` },
      spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) } } },
    },
  };
}

const vuln = (id: string, severity: string) => ({ id, kind: 'vulnerability', severity, title: `${id} in openssl`, resource: { image: {} }, data: { package: 'openssl', fixedVersion: '3.0.9' } });

storeTest('an image push or an alert re-evaluates only the deployments it concerns, as a full pass would score them', async (dialect) => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => new Date(clock);
  const c = await startTestCentral({ dialect, now });
  const evaluator = new LiveEvaluator(c.db(), c.ctx.policies, now, { debounceMs: 3_600_000 });
  try {
    const source = (await createSource(c.db(), { kind: 'cluster', name: 'index-test', sealedConfig: c.ctx.secrets.seal('{}') }, now().toISOString()))!;
    const sink = new StoreInventorySink(c.db(), evaluator, now);
    const specs: Record<string, string[]> = {
      tagged: [APP], tagged2: [`${APP}@${PINNED}`], pinned: [`registry.example/other/name@${PINNED}`],
      nginx: ['nginx:1.25'], sidecar: ['registry.example/team/web:2', APP], other: ['registry.example/team/web:2'],
    };
    await sink.replaceKind(source.id, 'Deployment', Object.entries(specs).map(([name, images]) => deployment(source.id, name, images)));
    await evaluator.settle();
    const idOf = (name: string) => deploymentId(source.id, 'Deployment', 'shop', name);
    const rows = async () => new Map((await c.db().selectFrom('deployments').select(['name', 'last_seen', 'risk_score', 'risk']).execute()).map((r) => [r.name, r]));
    /** Advances the clock, does `step`, settles: the names of the deployments the pass evaluated (their last_seen is the new time). */
    const evaluatedBy = async (step: () => Promise<void>) => {
      clock += 60_000;
      await step();
      await evaluator.settle();
      return [...(await rows()).values()].filter((r) => r.last_seen === now().toISOString()).map((r) => r.name).sort();
    };
    const push = async (digest: string, refs: string[], findings: object[]) => {
      const r = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs }, findings });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // As the live-inventory job does on the push's 'image' event.
      evaluator.imageChanged([digest, ...refs]);
    };
    assert.equal((await rows()).size, 6);
    const before = await rows();

    // A tag: the deployments naming it (pinned or not, alone or beside another image).
    const d1 = `sha256:${'1'.repeat(64)}`;
    assert.deepEqual(await evaluatedBy(() => push(d1, [APP], [vuln('CVE-2024-0001', 'HIGH')])), ['sidecar', 'tagged', 'tagged2']);
    assert.ok((await rows()).get('tagged')!.risk_score > before.get('tagged')!.risk_score, 'the pushed image raises the risk of who runs it');
    // A digest: who pins it, under any name.
    assert.deepEqual(await evaluatedBy(() => push(PINNED, [], [vuln('CVE-2024-0002', 'CRITICAL')])), ['pinned', 'tagged2']);
    // A Docker Hub short name, pushed in its canonical form.
    assert.deepEqual(await evaluatedBy(() => push(`sha256:${'2'.repeat(64)}`, ['docker.io/library/nginx:1.25'], [])), ['nginx']);
    // The same digest again with more findings: the catalog reads the row again, the risk follows.
    const once = (await rows()).get('tagged')!.risk_score;
    assert.deepEqual(await evaluatedBy(() => push(d1, [APP], [vuln('CVE-2024-0001', 'HIGH'), vuln('CVE-2024-0003', 'CRITICAL'), vuln('CVE-2024-0004', 'CRITICAL')])), ['sidecar', 'tagged', 'tagged2']);
    assert.ok((await rows()).get('tagged')!.risk_score > once, 'a second push of a digest is scored from its new findings');
    // An image nobody runs: nothing.
    assert.deepEqual(await evaluatedBy(() => push(`sha256:${'3'.repeat(64)}`, ['registry.example/unused:1'], [])), []);
    // An alert: that deployment only.
    assert.deepEqual(await evaluatedBy(async () => evaluator.alertsChanged([idOf('other')])), ['other']);

    // The index follows object changes: 'other' now runs the app, 'tagged' no longer does.
    await sink.upsert(deployment(source.id, 'other', [APP]));
    await sink.upsert(deployment(source.id, 'tagged', ['registry.example/team/web:2']));
    await evaluator.settle();
    assert.deepEqual(await evaluatedBy(() => push(d1, [APP], [vuln('CVE-2024-0001', 'HIGH')])), ['other', 'sidecar', 'tagged2']);
    await sink.replaceKind(source.id, 'Deployment', Object.entries(specs).filter(([name]) => name !== 'sidecar').map(([name, images]) => deployment(source.id, name, images)));
    await evaluator.settle();
    assert.deepEqual(await evaluatedBy(() => push(d1, [APP], [])), ['tagged', 'tagged2']);

    // What the targeted passes scored is what a full pass scores.
    const targeted = await rows();
    assert.equal((await evaluatedBy(async () => evaluator.invalidateAll('images'))).length, 5);
    const full = await rows();
    for (const [name, r] of full) assert.equal(r.risk, targeted.get(name)!.risk, `${name}: the full pass scores it the same`);
  } finally {
    evaluator.stop();
    await c.close();
  }
});
