/**
 * The network index's first load reads each object once. A cluster's first list stamps a whole
 * kind with one last_seen; paged by last_seen, every page re-read (and sorted) all the rows at
 * that time. Checked on PostgreSQL through the load's own statements under EXPLAIN ANALYZE (rows
 * the scans produced or filtered out); on both stores, the index after a first load and later
 * changes resolves every address as an index loaded afresh does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompiledQuery, type Kysely, type KyselyPlugin, type PluginTransformQueryArgs, type PluginTransformResultArgs, type QueryResult, type RootOperationNode, type UnknownRow } from 'kysely';
import { NetworkIndex } from '../../src/central/network/endpoints.js';
import type { Database } from '../../src/central/store/schema.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';

/** Keeps the objects table's statements, compiled, to run again under EXPLAIN. */
class ObjectStatements implements KyselyPlugin {
  readonly compiled: CompiledQuery[] = [];
  constructor(private readonly db: Kysely<Database>) {}
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (args.node.kind === 'SelectQueryNode' && JSON.stringify(args.node).includes('"objects"')) this.compiled.push(this.db.getExecutor().compileQuery(args.node, args.queryId));
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** Rows every scan node of a plan produced or removed by a filter, over all its loops. */
function scanned(plan: any): number {
  const own = /Scan/.test(plan['Node Type']) ? ((plan['Actual Rows'] ?? 0) + (plan['Rows Removed by Filter'] ?? 0)) * (plan['Actual Loops'] ?? 1) : 0;
  return own + (plan.Plans ?? []).reduce((n: number, p: any) => n + scanned(p), 0);
}

const PODS = 5000;
const pod = (i: number, ip: string, at: string, deleted: string | null = null) => ({
  source_id: 'k', kind: 'Pod', uid: `u${i}`, namespace: 'ns', name: `p-${i}`, resource_version: at,
  body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: 'ns', uid: `u${i}` }, spec: {}, status: { phase: 'Running', podIP: ip } }),
  first_seen: at, last_seen: at, deleted_at: deleted,
});
const ipOf = (i: number, gen = 1) => `10.${gen}.${i >> 8}.${i & 255}`;

for (const dialect of DIALECTS) {
  test(`first load reads each object once, later changes still seen (${dialect})`, { skip: await dialectSkip(dialect) }, async () => {
    const c = await startTestCentral({ dialect });
    try {
      const db = c.db();
      const listed = new Date(Date.now() - 60_000).toISOString();
      await db.insertInto('sources').values({ id: 'k', kind: 'cluster', name: 'k', config: '{}', state: 'up', message: null, first_seen: listed, last_seen: listed }).execute();
      for (let at = 0; at < PODS; at += 500) await db.insertInto('objects').values(Array.from({ length: 500 }, (_, k) => pod(at + k, ipOf(at + k), listed))).execute();

      const statements = new ObjectStatements(db);
      const index = new NetworkIndex();
      const idx = (await index.source(db.withPlugin(statements), 'cluster', 'k'))!;
      assert.equal(idx.byAddress(ipOf(4999))?.label, 'ns/p-4999');
      if (dialect === 'postgres') {
        let rows = 0;
        for (const q of statements.compiled) {
          const r = await db.executeQuery<{ 'QUERY PLAN': any }>(CompiledQuery.raw(`explain (analyze, format json) ${q.sql}`, [...q.parameters]));
          const plan = r.rows[0]!['QUERY PLAN'];
          rows += scanned((typeof plan === 'string' ? JSON.parse(plan) : plan)[0].Plan);
        }
        // Paged by last_seen: 5,000 + 3,000 + 1,000 rows for three pages of 2,000.
        assert.ok(rows <= PODS + 10, `the first load's scans went over ${rows} rows for ${PODS} pods`);
      }

      // Later: a pod moves, one is deleted, one is added, one stamped ahead of this clock.
      const now = new Date().toISOString();
      const ahead = new Date(Date.now() + 30_000).toISOString();
      await db.updateTable('objects').set(pod(7, ipOf(7, 2), now)).where('uid', '=', 'u7').execute();
      await db.updateTable('objects').set({ deleted_at: now, last_seen: now }).where('uid', '=', 'u8').execute();
      await db.insertInto('objects').values([pod(PODS, ipOf(PODS), now), pod(PODS + 1, ipOf(PODS + 1), ahead)]).execute();
      const again = (await index.source(db, 'cluster', 'k'))!;
      const fresh = (await new NetworkIndex().source(db, 'cluster', 'k'))!;
      assert.equal(again.byAddress(ipOf(7, 2))?.label, 'ns/p-7');
      assert.equal(again.byAddress(ipOf(7)), undefined);
      assert.equal(again.byAddress(ipOf(8)), undefined);
      for (let i = 0; i <= PODS + 1; i++) for (const gen of [1, 2]) assert.deepEqual(again.byAddress(ipOf(i, gen)), fresh.byAddress(ipOf(i, gen)), `address ${ipOf(i, gen)}`);
      assert.equal(again.byAddress(ipOf(PODS + 1))?.label, `ns/p-${PODS + 1}`);
    } finally {
      await c.close();
    }
  });
}
