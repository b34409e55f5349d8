/**
 * The SQLite store reuses prepared statements by SQL text (src/central/store/open.ts): the
 * same statement with other parameters gives its own rows, a statement still iterating
 * (a streamed select left early) is not handed out busy, and a write through a cached
 * statement is seen by the next cached read. SQLite only: PostgreSQL's driver is unchanged.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/central/store/open.js';
import { createSource } from '../../src/central/store/sources.js';

test('cached SQLite statements give each execution its own parameters and rows, streamed or not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-stmt-cache-'));
  const store = await openStore({ dataDir: dir });
  try {
    const db = store.db;
    for (let i = 0; i < 5; i++) assert.ok(await createSource(db, { kind: 'host', name: `h${i}`, sealedConfig: 'x' }, `2026-12-0${i + 1}T00:00:00Z`));
    const byName = (name: string) => db.selectFrom('sources').select(['name', 'first_seen']).where('name', '=', name).executeTakeFirst();
    for (let i = 4; i >= 0; i--) assert.deepEqual(await byName(`h${i}`), { name: `h${i}`, first_seen: `2026-12-0${i + 1}T00:00:00Z` });
    assert.equal(await byName('nobody'), undefined);

    // A streamed SELECT left after two rows, then the same SELECT streamed and run whole (Kysely holds
    // SQLite's one connection while a stream is open, so nothing runs inside one).
    const names = () => db.selectFrom('sources').select('name').orderBy('name');
    const firstTwo: string[] = [];
    for await (const row of names().stream()) {
      firstTwo.push(row.name);
      if (firstTwo.length === 2) break;
    }
    assert.deepEqual(firstTwo, ['h0', 'h1']);
    const streamed: string[] = [];
    for await (const row of names().stream()) streamed.push(row.name);
    assert.deepEqual(streamed, ['h0', 'h1', 'h2', 'h3', 'h4']);
    assert.deepEqual((await names().execute()).map((r) => r.name), streamed);

    // Writes through cached statements, read back through cached statements, in and out of a transaction.
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('sources').set({ message: 'in trx' }).where('name', '=', 'h1').execute();
      assert.equal((await trx.selectFrom('sources').select('message').where('name', '=', 'h1').executeTakeFirstOrThrow()).message, 'in trx');
    });
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('sources').set({ message: 'rolled back' }).where('name', '=', 'h2').execute();
      throw new Error('roll back');
    }).catch((e: Error) => assert.equal(e.message, 'roll back'));
    const messages = await db.selectFrom('sources').select(['name', 'message']).where('name', 'in', ['h1', 'h2']).orderBy('name').execute();
    assert.deepEqual(messages, [{ name: 'h1', message: 'in trx' }, { name: 'h2', message: null }]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
