/**
 * The disk spool of the event shippers: order, the size bound, loss counted on disk, a torn
 * last line cut on reopen, and kill -9 of a process appending (and acknowledging) in a loop:
 * every event it was told was appended is there after reopening, and nothing it acknowledged
 * comes back.
 *
 * Run with SPOOL_WRITER_DIR set, this file is that child process instead of a test.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openSpool, type Spool } from '../../src/central/client/spool.js';
import { rng } from '../helpers/random.js';

interface Ev {
  id: number;
  pad: string;
}

if (process.env.SPOOL_WRITER_DIR) {
  runWriter(process.env.SPOOL_WRITER_DIR, process.env.SPOOL_WRITER_ACK === '1');
} else {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'gatehouse-spool-'));
    dirs.push(d);
    return d;
  };
  after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((n) => n.endsWith('.ndjson')).sort();
  const diskBytes = (dir: string): number => segmentFiles(dir).reduce((sum, n) => sum + statSync(join(dir, n)).size, 0);
  const ev = (id: number, padLength = 10): Ev => ({ id, pad: 'x'.repeat(padLength) });
  const drain = (spool: Spool<Ev>, batch: number): number[] => {
    const ids: number[] = [];
    for (;;) {
      const events = spool.peek(batch);
      if (events.length === 0) return ids;
      ids.push(...events.map((e) => e.id));
      spool.ack(events.length);
    }
  };
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

  describe('spool', () => {
    test('keeps order across segments, peeks without consuming, and deletes acknowledged segments', () => {
      const dir = tempDir();
      const spool = openSpool<Ev>(dir, { maxBytes: 1 << 20, segmentBytes: 200 });
      for (let i = 0; i < 100; i += 7) spool.append(range(i, Math.min(i + 7, 100)).map((id) => ev(id)));
      assert.ok(segmentFiles(dir).length > 5, `several segments (${segmentFiles(dir).length})`);
      assert.equal(spool.stats().pendingEvents, 100);
      assert.deepEqual(spool.peek(3).map((e) => e.id), [0, 1, 2]);
      assert.deepEqual(spool.peek(3).map((e) => e.id), [0, 1, 2], 'peek does not consume');
      spool.ack(2);
      assert.deepEqual(spool.peek(1).map((e) => e.id), [2]);
      const ids = [0, 1, ...drain(spool, 9)];
      assert.deepEqual(ids, range(0, 100));
      assert.deepEqual(spool.stats(), { pendingEvents: 0, pendingBytes: 0, droppedTotal: 0 });
      assert.equal(diskBytes(dir), 0, 'acknowledged segments are deleted');
      assert.throws(() => spool.ack(1), /more events than the last peek/);
      spool.close();
    });

    test('acknowledged positions survive a reopen', () => {
      const dir = tempDir();
      let spool = openSpool<Ev>(dir, { maxBytes: 1 << 20, segmentBytes: 150 });
      spool.append(range(0, 30).map((id) => ev(id)));
      spool.peek(13);
      spool.ack(13); // mid-segment: the byte offset, not only the segment, is kept
      spool.close();
      spool = openSpool<Ev>(dir, { maxBytes: 1 << 20, segmentBytes: 150 });
      assert.equal(spool.stats().pendingEvents, 17);
      spool.append([ev(30)]);
      assert.deepEqual(drain(spool, 5), range(13, 31));
      spool.close();
    });

    test('is bounded: when full it drops the new events and counts them on disk', () => {
      const dir = tempDir();
      const maxBytes = 2000;
      const opts = { maxBytes, segmentBytes: 500 };
      let spool = openSpool<Ev>(dir, opts);
      const lineBytes = Buffer.byteLength(`${JSON.stringify(ev(10, 80))}\n`);
      let next = 0;
      let accepted = 0;
      let dropped = 0;
      for (let round = 0; round < 10; round++) {
        const r = spool.append(range(next, next + 5).map((id) => ev(id, 80)));
        next += 5;
        accepted += r.accepted;
        dropped += r.dropped;
        assert.ok(diskBytes(dir) <= maxBytes, `disk ${diskBytes(dir)} <= ${maxBytes}`);
      }
      assert.equal(accepted, Math.floor(maxBytes / lineBytes), 'as many as fit');
      assert.equal(accepted + dropped, 50);
      assert.equal(spool.stats().droppedTotal, dropped);
      spool.close();

      spool = openSpool<Ev>(dir, opts);
      assert.equal(spool.stats().droppedTotal, dropped, 'the loss count is kept on disk');
      // The oldest events are kept, the newest were dropped.
      const kept = spool.peek(1000).map((e) => e.id);
      assert.deepEqual(kept, range(0, accepted));
      spool.ack(kept.length);
      const r = spool.append([ev(100, 80)]);
      assert.deepEqual(r, { accepted: 1, dropped: 0 }, 'acknowledging frees the space');
      assert.equal(spool.append([{ id: 101, pad: 'y'.repeat(maxBytes) }]).dropped, 1, 'an event larger than the spool is dropped');
      assert.equal(spool.stats().droppedTotal, dropped + 1);
      spool.close();
    });

    test('cuts a torn last line on reopen, and appends cleanly after it', () => {
      const dir = tempDir();
      let spool = openSpool<Ev>(dir, { maxBytes: 1 << 20 });
      spool.append(range(0, 5).map((id) => ev(id)));
      spool.close();
      const segs = segmentFiles(dir);
      const last = join(dir, segs[segs.length - 1]!);
      const whole = statSync(last).size;
      appendFileSync(last, '{"id":5,"pad":"xx');
      spool = openSpool<Ev>(dir, { maxBytes: 1 << 20 });
      assert.equal(statSync(last).size, whole, 'the torn line is cut off');
      assert.deepEqual(spool.stats(), { pendingEvents: 5, pendingBytes: whole, droppedTotal: 0 });
      spool.append([ev(6)]);
      assert.deepEqual(drain(spool, 100), [0, 1, 2, 3, 4, 6]);
      assert.equal(spool.stats().droppedTotal, 0, 'a torn line was never accepted, so it is no loss');
      spool.close();
    });

    test('skips an unreadable line and counts it as lost', () => {
      const dir = tempDir();
      let spool = openSpool<Ev>(dir, { maxBytes: 1 << 20 });
      spool.append([ev(0), ev(1)]);
      spool.close();
      const seg = join(dir, segmentFiles(dir)[0]!);
      appendFileSync(seg, '\0\0\0garbage\n');
      spool = openSpool<Ev>(dir, { maxBytes: 1 << 20 });
      spool.append([ev(2)]);
      assert.deepEqual(drain(spool, 2), [0, 1, 2]);
      assert.equal(spool.stats().droppedTotal, 1);
      assert.equal(spool.stats().pendingEvents, 0);
      spool.close();
    });

    test('one process at a time', () => {
      const dir = tempDir();
      const spool = openSpool<Ev>(dir, { maxBytes: 1000 });
      assert.throws(() => openSpool<Ev>(dir, { maxBytes: 1000 }), { name: 'UserError', message: /is in use by process/ });
      spool.close();
      openSpool<Ev>(dir, { maxBytes: 1000 }).close();
      // A live process's lock holds; the same pid with another start time is a reused pid: a stale lock.
      const parent = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
      const parentStart = parent.slice(parent.lastIndexOf(')') + 2).split(' ')[19];
      writeFileSync(join(dir, 'lock'), `${process.ppid} ${parentStart}`);
      assert.throws(() => openSpool<Ev>(dir, { maxBytes: 1000 }), { message: new RegExp(`is in use by process ${process.ppid}$`) });
      writeFileSync(join(dir, 'lock'), `${process.ppid} 1`);
      openSpool<Ev>(dir, { maxBytes: 1000 }).close();
    });

    for (const withAck of [false, true]) {
      test(`kill -9 of a process appending${withAck ? ' and acknowledging' : ''} loses no appended event`, async () => {
        const dir = tempDir();
        const random = rng(withAck ? 7 : 3);
        let lastAppended = -1;
        let lastAcked = -1;
        for (let round = 0; round < 3; round++) {
          const target = lastAppended + 50 + Math.floor(random() * 400);
          const report = await runAndKill(dir, withAck, Math.max(lastAppended, lastAcked) + 1, target);
          if (report.appended >= 0) lastAppended = report.appended;
          if (report.acked >= 0) lastAcked = report.acked;
          const spool = openSpool<Ev>(dir, { maxBytes: 64 << 20, segmentBytes: 4096 });
          const ids = spool.peek(1_000_000).map((e) => e.id);
          spool.close();
          assert.ok(lastAppended > 0, 'the child appended before it was killed');
          const first = ids[0] ?? lastAppended + 1;
          if (withAck) assert.ok(first > lastAcked, `nothing acknowledged comes back (first ${first}, acked ${lastAcked})`);
          else assert.equal(first, 0, 'nothing was acknowledged, so every event since the first is there');
          // Every event reported as appended and not acknowledged is there, in order, with no gap.
          assert.deepEqual(ids, range(first, first + ids.length));
          assert.ok(first + ids.length - 1 >= lastAppended, `last spooled ${first + ids.length - 1} >= last reported ${lastAppended}`);
        }
      });
    }
  });
}

/** Starts this file as a writer on `dir`, kills it with SIGKILL once it reported `target`, and returns its last reports. */
async function runAndKill(dir: string, withAck: boolean, start: number, target: number): Promise<{ appended: number; acked: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, SPOOL_WRITER_DIR: dir, SPOOL_WRITER_ACK: withAck ? '1' : '0', SPOOL_WRITER_START: String(start) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let appended = -1;
  let acked = -1;
  for await (const line of createInterface({ input: child.stdout })) {
    const [what, n] = line.split(' ');
    if (what === 'appended') appended = Number(n);
    if (what === 'acked') acked = Number(n);
    if (appended >= target) {
      child.kill('SIGKILL');
      break;
    }
  }
  child.stdout.destroy();
  await exited;
  assert.equal(child.signalCode, 'SIGKILL', 'the writer was killed, not finished');
  return { appended, acked };
}

/** The child: appends numbered events forever (continuing the numbering found), reporting each append (and ack) after it returns. */
function runWriter(dir: string, withAck: boolean): void {
  const spool = openSpool<Ev>(dir, { maxBytes: 64 << 20, segmentBytes: 4096 });
  const pending = spool.peek(1_000_000);
  // Numbering continues after the last event spooled, or after the last the parent heard of.
  let next = Math.max(pending.length ? pending[pending.length - 1]!.id + 1 : 0, Number(process.env.SPOOL_WRITER_START ?? 0));
  const random = rng(next + 1);
  const tick = (): void => {
    for (let i = 0; i < 20; i++) {
      const size = 1 + Math.floor(random() * 8);
      const events = Array.from({ length: size }, () => ({ id: next++, pad: 'z'.repeat(Math.floor(random() * 300)) }));
      spool.append(events);
      process.stdout.write(`appended ${next - 1}\n`);
      if (withAck && random() < 0.3) {
        const batch = spool.peek(1 + Math.floor(random() * 10));
        spool.ack(batch.length);
        process.stdout.write(`acked ${batch[batch.length - 1]!.id}\n`);
      }
    }
    setImmediate(tick);
  };
  tick();
}
