/**
 * Central's main thread on a large source (issue 16): the live evaluator's loads and passes run
 * in time slices (src/central/live/slice.ts) and give the event loop a turn when a slice is used
 * up, so API requests are answered while 15,000 deployments are loaded and evaluated. With a
 * 0 ms slice every loaded object, image row and evaluated deployment ends a slice: other work
 * (a setImmediate ticker here, an HTTP request in Central) runs between them, and the pass
 * scores and writes exactly what a pass without turns does. On the code before, a page of
 * 2,000 bodies was parsed, and 25 deployments evaluated, with no turn between (SQLite's driver
 * never returns to the event loop inside a query), so the ticker did not move.
 *
 * Second test: violations reconciled for a batch of subjects at once (reconcileManyViolations,
 * what a batch of 25 deployments now writes) leave the same rows and counts as one subject at
 * a time, over opening, changing, resolving and re-opening.
 */
import assert from 'node:assert/strict';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import { reconcileManyViolations, reconcileViolations, type SubjectViolations } from '../../src/central/store/violations.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import type { Finding } from '../../src/findings/finding.js';
import { startTestCentral, storeTest } from '../helpers/central.js';

const APP = 'registry.example/team/app:1';
const COUNT = 40;

function deployment(sourceId: string, name: string): InventoryObject {
  return {
    sourceId, kind: 'Deployment', uid: `uid-${name}`, namespace: 'shop', name, resourceVersion: '1',
    body: {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', uid: `uid-${name}`, labels: { app: name } },
      spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: APP, ...(name.endsWith('0') ? { securityContext: { privileged: true } } : {}) }] } } },
    },
  };
}

storeTest('the live evaluator gives the event loop a turn between objects and deployments, and scores as a pass without turns', async (dialect) => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => new Date(clock);
  const c = await startTestCentral({ dialect, now });
  const db = c.db();
  const evaluators: LiveEvaluator[] = [];
  try {
    const pushed = await c.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${'a'.repeat(64)}`, refs: [APP] }, findings: [] });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
    const source = (await createSource(db, { kind: 'cluster', name: 'slice-test', sealedConfig: c.ctx.secrets.seal('{}') }, now().toISOString()))!;
    const objects = Array.from({ length: COUNT }, (_, i) => deployment(source.id, `app-${String(i).padStart(2, '0')}`));

    /** A fresh evaluator's first pass over the stored source; turns of the event loop counted meanwhile. */
    const firstPass = async (sliceMs: number) => {
      const errors: string[] = [];
      const evaluator = new LiveEvaluator(db, c.ctx.policies, now, { debounceMs: 3_600_000, sliceMs, onError: (m) => errors.push(m) });
      evaluators.push(evaluator);
      let ticks = 0;
      let ticking = true;
      const tick = () => {
        ticks++;
        if (ticking) setImmediate(tick);
      };
      setImmediate(tick);
      evaluator.track(source.id);
      await evaluator.settle();
      ticking = false;
      assert.deepEqual(errors, []);
      const rows = await db.selectFrom('deployments').select(['id', 'name', 'labels', 'images', 'risk_score', 'risk', 'last_seen']).orderBy('id').execute();
      const violations = await db.selectFrom('violations').select(['id', 'subject_key', 'state', 'severity', 'body', 'last_seen']).where('subject_kind', '=', 'deployment').orderBy('id').execute();
      const at = now().toISOString();
      assert.equal(rows.filter((r) => r.last_seen === at).length, COUNT, 'every deployment written by this pass');
      return { ticks, yields: evaluator.yields, rows: rows.map(({ last_seen: _, ...r }) => r), violations: violations.map(({ last_seen: _, ...v }) => v) };
    };

    await new StoreInventorySink(db, { changed: () => undefined }, now).replaceKind(source.id, 'Deployment', objects);
    const whole = await firstPass(1e9);
    assert.equal(whole.yields, 0, 'a slice longer than the pass never yields inside a loop');
    clock += 60_000;
    const sliced = await firstPass(0);
    // A turn after each loaded object, each image row of the catalog and each evaluated deployment.
    assert.ok(sliced.yields >= 2 * COUNT - 2, `yields: ${sliced.yields}`);
    assert.ok(sliced.ticks >= 2 * COUNT, `other work ran ${sliced.ticks} times during the pass`);
    // SQLite's driver never waits on I/O: without slices the ticker barely moves. (On PostgreSQL
    // it spins through every query's wait, so there the count says nothing.)
    if (dialect === 'sqlite') assert.ok(sliced.ticks > 2 * whole.ticks, `turns: sliced ${sliced.ticks}, whole ${whole.ticks}`);
    assert.equal(whole.rows.length, COUNT);
    assert.ok(whole.violations.some((v) => v.state === 'active'), 'the default policies find something to compare');
    assert.deepEqual(sliced.rows, whole.rows);
    assert.deepEqual(sliced.violations, whole.violations);
  } finally {
    for (const e of evaluators) e.stop();
    await c.close();
  }
});

/** A policy finding; `kind` keeps the two tables' fingerprints apart (violation ids are global). */
const finding = (kind: string, fp: string, severity: Finding['severity'] = 'HIGH'): Finding => ({
  id: `policy-${fp.slice(0, 1)}`, fingerprint: `${kind}-${fp}`, kind: 'policy', severity, title: `finding ${fp}`, resource: { k8s: { kind: 'Deployment', namespace: 'shop', name: fp } }, policy: { id: `policy-${fp.slice(0, 1)}` },
});

storeTest('violations of a batch of subjects reconciled at once equal one subject at a time', async (dialect) => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => new Date(clock);
  const c = await startTestCentral({ dialect, now });
  const db = c.db();
  try {
    // Each round: subject → fingerprints found now (severity after a colon). Opened, changed, seen again, resolved, re-opened.
    const rounds: Record<string, string[]>[] = [
      { s1: ['a1', 'b1'], s2: ['c1'], s3: [] },
      { s1: ['b1:CRITICAL'], s2: [], s3: ['d1'] },
      { s1: ['a1', 'b1:CRITICAL'], s2: ['c1'], s3: ['d1'] },
      { s1: [], s2: [], s3: [] },
    ];
    const subjects = (kind: string, round: Record<string, string[]>): SubjectViolations[] => Object.entries(round).map(([key, fps]) => ({
      subjectKind: kind, subjectKey: key, stage: 'deploy',
      findings: fps.map((f) => { const [fp, sev] = f.split(':'); return finding(kind, fp!, (sev ?? 'HIGH') as Finding['severity']); }),
    }));
    const table = async (kind: string) => (await db.selectFrom('violations').selectAll().where('subject_kind', '=', kind).orderBy('id').execute())
      .map((r) => ({ ...r, id: r.id.slice(kind.length + 1), subject_kind: undefined, body: r.body.replace(`"fingerprint":"${kind}-`, '"fingerprint":"') }));
    for (const round of rounds) {
      clock += 60_000;
      const many = await reconcileManyViolations(db, subjects('many', round), [], now());
      const one = { opened: 0, resolved: 0 };
      for (const s of subjects('one', round)) {
        const r = await reconcileViolations(db, s, [], now());
        one.opened += r.opened;
        one.resolved += r.resolved;
      }
      assert.deepEqual(many, one);
      assert.deepEqual(await table('many'), await table('one'));
    }
    // The last round resolved everything the third had open.
    assert.ok((await table('many')).every((r) => r.state === 'resolved'));
    await assert.rejects(reconcileManyViolations(db, [...subjects('many', rounds[0]!), { subjectKind: 'image', subjectKey: 'x', stage: 'deploy', findings: [] }], [], now()), /one kind and stage/);
  } finally {
    await c.close();
  }
});
