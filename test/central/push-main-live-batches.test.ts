/**
 * The live evaluator writes evaluated deployments in batches (one transaction each; see
 * WRITE_BATCH in src/central/live/evaluator.ts). Both kinds of pass cross a batch boundary
 * here (60 deployments: two full batches and a partial one): every deployment and its
 * violations are written, by the full pass and by an image push's targeted pass. A batch
 * whose write fails (a real store error: a trigger refusing one deployment's update) leaves
 * none of its deployments written, and the next pass evaluates the source whole.
 */
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import type { InventoryObject } from '../../src/central/inventory/types.js';
import { startTestCentral, storeTest } from '../helpers/central.js';

const APP = 'registry.example/team/app:1';
const COUNT = 60;

function deployment(sourceId: string, name: string): InventoryObject {
  return {
    sourceId, kind: 'Deployment', uid: `uid-${name}`, namespace: 'shop', name, resourceVersion: '1',
    body: {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop', uid: `uid-${name}` },
      spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: APP }] } } },
    },
  };
}

storeTest('the live evaluator writes deployments in batches: all of them, and a failed batch none', async (dialect) => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => new Date(clock);
  const c = await startTestCentral({ dialect, now });
  const errors: string[] = [];
  const evaluator = new LiveEvaluator(c.db(), c.ctx.policies, now, { debounceMs: 3_600_000, onError: (m) => errors.push(m) });
  const db = c.db();
  try {
    const source = (await createSource(db, { kind: 'cluster', name: 'batch-test', sealedConfig: c.ctx.secrets.seal('{}') }, now().toISOString()))!;
    const sink = new StoreInventorySink(db, evaluator, now);
    const names = Array.from({ length: COUNT }, (_, i) => `app-${String(i).padStart(2, '0')}`);
    await sink.replaceKind(source.id, 'Deployment', names.map((n) => deployment(source.id, n)));
    await evaluator.settle();
    /** Deployments, and those with open violations, whose last evaluation is now. */
    const evaluatedNow = async () => {
      const at = now().toISOString();
      const rows = await db.selectFrom('deployments').select(['id', 'name', 'last_seen']).execute();
      const violated = new Set((await db.selectFrom('violations').select('subject_key').where('subject_kind', '=', 'deployment').where('state', '=', 'active').where('last_seen', '=', at).execute()).map((r) => r.subject_key));
      const current = rows.filter((r) => r.last_seen === at);
      return { rows: current.length, withViolations: current.filter((r) => violated.has(r.id)).length };
    };
    // The full pass (first load): every deployment, and the violations the default policies find (a container without limits…).
    assert.deepEqual(await evaluatedNow(), { rows: COUNT, withViolations: COUNT });

    const push = async (digest: string) => {
      clock += 60_000;
      const r = await c.api('POST', '/api/v1/ingest/images', { image: { digest, refs: [APP] }, findings: [] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      evaluator.imageChanged([digest, APP]);
      await evaluator.settle();
    };
    // A push of the image they all run: a targeted pass over three batches.
    await push(`sha256:${'1'.repeat(64)}`);
    assert.deepEqual(await evaluatedNow(), { rows: COUNT, withViolations: COUNT });

    // The store refuses one deployment's update (app-30: the second batch).
    const refused = (await db.selectFrom('deployments').select('id').where('name', '=', 'app-30').executeTakeFirstOrThrow()).id;
    if (dialect === 'sqlite') {
      await sql.raw(`CREATE TRIGGER refuse_one BEFORE UPDATE ON deployments WHEN old.id = '${refused}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`).execute(db);
    } else {
      await sql.raw(`CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql`).execute(db);
      await sql.raw(`CREATE TRIGGER refuse_one BEFORE UPDATE ON deployments FOR EACH ROW WHEN (old.id = '${refused}') EXECUTE FUNCTION refuse_one()`).execute(db);
    }
    await push(`sha256:${'2'.repeat(64)}`);
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, /refused by the test/);
    // The first batch was written; the failed one (app-25…app-49) not at all; the pass stopped there.
    const at = now().toISOString();
    const written = (await db.selectFrom('deployments').select('name').where('last_seen', '=', at).execute()).map((r) => r.name).sort();
    assert.deepEqual(written, names.slice(0, 25));

    // The next pass takes the whole source, whatever it is marked for.
    await sql.raw('DROP TRIGGER refuse_one' + (dialect === 'postgres' ? ' ON deployments' : '')).execute(db);
    clock += 60_000;
    evaluator.alertsChanged([]);
    await evaluator.settle();
    assert.deepEqual(await evaluatedNow(), { rows: COUNT, withViolations: COUNT });
  } finally {
    evaluator.stop();
    await c.close();
  }
});

storeTest('a stopped evaluator writes nothing more: the pass it was starting ends, and none starts after', async (dialect) => {
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const now = () => new Date(clock);
  const c = await startTestCentral({ dialect, now });
  const evaluator = new LiveEvaluator(c.db(), c.ctx.policies, now, { debounceMs: 3_600_000 });
  const db = c.db();
  try {
    const source = (await createSource(db, { kind: 'cluster', name: 'stop-test', sealedConfig: c.ctx.secrets.seal('{}') }, now().toISOString()))!;
    const sink = new StoreInventorySink(db, evaluator, now);
    await sink.replaceKind(source.id, 'Deployment', Array.from({ length: COUNT }, (_, i) => deployment(source.id, `app-${i}`)));
    await evaluator.settle();
    const writtenNow = async () => (await db.selectFrom('deployments').select('id').where('last_seen', '=', now().toISOString()).execute()).length;
    assert.equal(await writtenNow(), COUNT);
    // A full pass is started, then the evaluator stopped before it runs (a lease lost, Central stopping).
    clock += 60_000;
    evaluator.invalidateAll('images');
    const settling = evaluator.settle();
    evaluator.stop();
    await settling;
    await evaluator.idle();
    assert.equal(await writtenNow(), 0, 'the pass in flight wrote nothing after stop()');
    // Nothing schedules a pass any more.
    evaluator.imageChanged([`sha256:${'1'.repeat(64)}`, APP]);
    evaluator.alertsChanged([]);
    await evaluator.settle();
    assert.equal(await writtenNow(), 0);
  } finally {
    evaluator.stop();
    await c.close();
  }
});
