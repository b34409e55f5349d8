/**
 * The network index refreshes one at a time: the bus consumer's two fetch loops asking for a
 * cluster's index together read its inventory once, not once each (at 15k deployments the
 * first read is 45,000 pods), and both get the full index. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely';
import { NetworkIndex } from '../../src/central/network/endpoints.js';
import { DIALECTS, dialectSkip, startTestCentral } from '../helpers/central.js';

/** Counts the rows the `objects` table gave. */
class ObjectRows implements KyselyPlugin {
  rows = 0;
  private readonly ofObjects = new WeakSet<object>();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (JSON.stringify(args.node).includes('"objects"')) this.ofObjects.add(args.queryId);
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.ofObjects.has(args.queryId)) this.rows += args.result.rows.length;
    return args.result;
  }
}

const PODS = 2500;

for (const dialect of DIALECTS) {
  test(`two refreshes at once read the inventory once (${dialect})`, { skip: await dialectSkip(dialect) }, async () => {
    const c = await startTestCentral({ dialect });
    try {
      // Stamped a minute ago, as a cluster's first list leaves it.
      const seen = new Date(Date.now() - 60_000).toISOString();
      await c.db().insertInto('sources').values({ id: 'k', kind: 'cluster', name: 'k', config: '{}', state: 'up', message: null, first_seen: seen, last_seen: seen }).execute();
      for (let at = 0; at < PODS; at += 500) {
        await c.db().insertInto('objects').values(Array.from({ length: 500 }, (_, k) => {
          const i = at + k;
          const body = { apiVersion: 'v1', kind: 'Pod', metadata: { name: `p-${i}`, namespace: 'ns', uid: `u${i}` }, spec: {}, status: { phase: 'Running', podIP: `10.1.${i >> 8}.${i & 255}` } };
          return { source_id: 'k', kind: 'Pod', uid: `u${i}`, namespace: 'ns', name: `p-${i}`, resource_version: '1', body: JSON.stringify(body), first_seen: seen, last_seen: seen, deleted_at: null };
        })).execute();
      }
      const counter = new ObjectRows();
      const db = c.db().withPlugin(counter);
      const index = new NetworkIndex();
      const [a, b] = await Promise.all([index.source(db, 'cluster', 'k'), index.source(db, 'cluster', 'k')]);
      assert.equal(counter.rows, PODS, 'each pod read once');
      for (const idx of [a, b]) {
        assert.ok(idx);
        assert.equal(idx.byAddress('10.1.9.195')?.label, 'ns/p-2499');
      }
    } finally {
      await c.close();
    }
  });
}
