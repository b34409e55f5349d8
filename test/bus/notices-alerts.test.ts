/**
 * The `alerts` notices of one turn (a bus fetch raises one per node's batch) cross to the
 * other Centrals as one NATS message holding their deployment ids; the other notices still
 * cross one by one, and nothing relayed is sent back. Real nats-server; the two instances'
 * change notices are two contexts' event emitters.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { NOTICES_SUBJECT, shareNotices } from '../../src/central/bus/notices.js';
import type { CentralContext } from '../../src/central/context.js';
import { natsSkip, startNats, waitFor } from './helpers.js';

const log = { info: () => undefined, warn: () => undefined, error: () => undefined };

test('alerts notices of one turn cross as one message', { skip: natsSkip() }, async () => {
  const nats = await startNats();
  const [ncA, ncB, watcher] = await Promise.all([1, 2, 3].map(() => connect({ servers: nats.url })));
  const a = { events: new EventEmitter() } as unknown as CentralContext;
  const b = { events: new EventEmitter() } as unknown as CentralContext;
  const relayA = shareNotices(a, ncA!, { log });
  const relayB = shareNotices(b, ncB!, { log });
  try {
    const onWire: string[] = [];
    watcher!.subscribe(NOTICES_SUBJECT, { callback: (_e, m) => void onWire.push(m.string()) });
    const atB: unknown[][] = [];
    b.events.on('alerts', (ids: unknown[]) => atB.push(ids));
    const sourcesAtB: number[] = [];
    b.events.on('sources', () => sourcesAtB.push(1));
    await Promise.all([ncA!.flush(), ncB!.flush(), watcher!.flush()]);
    // One turn: three batches' notices, and one of another kind.
    a.events.emit('alerts', ['d1', 'd2']);
    a.events.emit('alerts', ['d2', 'd3']);
    a.events.emit('sources');
    a.events.emit('alerts', ['d4']);
    await waitFor('the notices at B', () => atB.length >= 1 && sourcesAtB.length >= 1, 10_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(atB, [['d1', 'd2', 'd3', 'd4']]);
    assert.equal(sourcesAtB.length, 1);
    // On the wire: A's `sources` and one `alerts`; B relayed nothing back.
    const sent = onWire.map((m) => JSON.parse(m) as { from: string; name: string });
    assert.deepEqual(sent.map((n) => n.name).sort(), ['alerts', 'sources']);
    assert.ok(sent.every((n) => n.from === relayA.instance));
  } finally {
    relayA.stop();
    relayB.stop();
    await Promise.all([ncA, ncB, watcher].map((nc) => nc!.close()));
    await nats.stop();
  }
});
