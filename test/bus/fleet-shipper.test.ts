/**
 * The fleet simulator's sensors ship as the product's sensor does: bench/fleet/publisher.ts
 * runs EventShipper over an in-memory stand-in for the disk spool. (1) The stand-in answers
 * the shipper's calls as the real Spool does (differential, random appends, peeks and acks).
 * (2) A real publisher process against a real nats-server: its messages hold at most the
 * shipper's batch of 500 events, full batches go as soon as they are full (a node offered
 * 2,000 events/s sends 500-event messages, not one message per 200 ms tick), every event is
 * in the stream once, in each node's order.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { BUS_STREAM } from '../../src/central/client/bus-stream.js';
import type { IngestEvent } from '../../src/central/client/ingest-types.js';
import { openSpool } from '../../src/central/client/spool.js';
import { MemorySpool } from '../../bench/fleet/memory-spool.js';
import type { PublisherArgs, PublisherCounters } from '../../bench/fleet/publisher.js';
import { rng } from '../helpers/random.js';
import { natsSkip, startNats, tempDir } from './helpers.js';

test('MemorySpool answers append, peek, ack and stats as the disk Spool does', () => {
  for (const seed of [1, 2, 3]) {
    const r = rng(seed);
    const disk = openSpool<{ n: number }>(join(tempDir('fleet-spool'), 'spool'), { maxBytes: 1 << 26 });
    const memory = new MemorySpool<{ n: number }>();
    let n = 0;
    try {
      for (let step = 0; step < 400; step++) {
        const op = r();
        if (op < 0.45) {
          const events = Array.from({ length: Math.floor(r() * 40) }, () => ({ n: n++ }));
          assert.deepEqual(memory.append(events), disk.append(events), `append at step ${step}`);
        } else {
          const max = 1 + Math.floor(r() * 60);
          const got = memory.peek(max);
          assert.deepEqual(got, disk.peek(max), `peek(${max}) at step ${step}`);
          // The shipper acknowledges the first k of what it peeked (all of it, or none after a failure).
          const k = Math.floor(r() * (got.length + 1));
          memory.ack(k);
          disk.ack(k);
        }
        assert.equal(memory.stats().pendingEvents, disk.stats().pendingEvents, `pending at step ${step}`);
      }
      // Acknowledging more than was peeked is refused by both.
      assert.deepEqual(memory.peek(0), disk.peek(0));
      assert.throws(() => memory.ack(1), /ack\(1\) of more events than the last peek returned/);
      assert.throws(() => disk.ack(1), /ack\(1\) of more events than the last peek returned/);
    } finally {
      disk.close();
    }
  }
});

test('fleet publisher: messages are the shipper\'s batches (at most 500, full ones at once), every event once, in order', { skip: natsSkip() }, async () => {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url });
  try {
    const args: PublisherArgs = { nats: nats.url, cluster: 'fleet-shipper', run: 'fs', index: 0, of: 1, rate: 4000, seconds: 2, flowShare: 0.3, nodes: 2, deployments: 40, seed: 3 };
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', '..', 'bench', 'fleet', 'publisher.ts'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((res) => child.on('exit', res));
    assert.equal(code, 0, err);
    const last = JSON.parse(out.trim().split('\n').pop()!) as PublisherCounters;
    assert.ok(last.done && last.offered > 0, out);
    assert.deepEqual([last.acked, last.failed, last.duplicates], [last.offered, 0, 0]);

    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(BUS_STREAM);
    const sizes: number[] = [];
    const byNode = new Map<string, number[]>();
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const body = (await jsm.streams.getMessage(BUS_STREAM, { seq }))!.json<{ source: { host: string }; events: IngestEvent[] }>();
      sizes.push(body.events.length);
      const seqs = byNode.get(body.source.host) ?? [];
      // Event ids end with the node's sequence number (NodeEventMaker).
      for (const e of body.events) seqs.push(Number(e.id.split(':').pop()));
      byNode.set(body.source.host, seqs);
    }
    assert.equal(sizes.reduce((a, b) => a + b, 0), last.acked, 'every acknowledged event is one message\'s');
    assert.equal(Math.max(...sizes), 500, `message sizes ${sizes.join(', ')}`);
    for (const [host, seqs] of byNode) assert.deepEqual(seqs, seqs.map((_, i) => i + 1), `${host}: each event once, in order`);
  } finally {
    await nc.close();
    await nats.stop();
  }
});
