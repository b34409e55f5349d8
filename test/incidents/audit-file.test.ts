/**
 * `gatehouse server --audit-log FILE`: the tail of the apiserver's log backend on a real
 * file — starts at the end of what exists, reads appended lines, waits for a partial last
 * line, follows rotation (rename + new file, the old one's last lines still read) and
 * truncation in place, and counts malformed lines (logged once per kind) without stopping.
 * Through a real Central: the lines become audit inputs of the incident correlator.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditFileTail, MAX_LINE, auditFileJob } from '../../src/central/incidents/audit-file.js';
import type { AuditEvent } from '../../src/runtime/incidents/index.js';
import { storeTest, startTestCentral } from '../helpers/central.js';
import { alertEvent } from '../../src/cli/central-push.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { Incident } from '../../src/runtime/incidents/index.js';
import { runCli } from '../helpers/cli.js';
import { execAudit, shellAlert } from './scenario.js';

const line = (id: string, time = new Date().toISOString()) => `${JSON.stringify(execAudit(time, id, 'ResponseComplete'))}\n`;

function harness(opts: { fromStart?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gh-audit-file-'));
  const file = join(dir, 'audit.log');
  const got: string[] = [];
  const warnings: string[] = [];
  const log = { info: () => undefined, error: (_o: object, m?: string) => warnings.push(`error: ${m}`), warn: (_o: object, m?: string) => warnings.push(m ?? '') };
  const tail = new AuditFileTail({ file, ...opts }, async (evs: AuditEvent[]) => void got.push(...evs.map((e) => e.auditID)), log);
  return { dir, file, got, warnings, tail, done: async () => (await tail.close(), rmSync(dir, { recursive: true, force: true })) };
}

describe('audit log tail', () => {
  it('starts at the end of an existing file, then reads what is appended, a partial line once it ends', async () => {
    const h = harness();
    try {
      writeFileSync(h.file, line('old-1') + line('old-2'));
      await h.tail.poll();
      assert.deepEqual(h.got, [], 'history of a previous run is not replayed');
      appendFileSync(h.file, line('a'));
      const b = line('b');
      appendFileSync(h.file, b.slice(0, 40));
      await h.tail.poll();
      assert.deepEqual(h.got, ['a']);
      appendFileSync(h.file, b.slice(40));
      await h.tail.poll();
      assert.deepEqual(h.got, ['a', 'b']);
      assert.equal(h.tail.stats.events, 2);
    } finally {
      await h.done();
    }
  });

  it('reads a file that appears after the start from its beginning; --from-start reads an existing one whole', async () => {
    const h = harness();
    const s = harness({ fromStart: true });
    try {
      await h.tail.poll();
      writeFileSync(h.file, line('x') + line('y'));
      await h.tail.poll();
      assert.deepEqual(h.got, ['x', 'y']);
      writeFileSync(s.file, line('p') + line('q'));
      await s.tail.poll();
      assert.deepEqual(s.got, ['p', 'q']);
    } finally {
      await h.done();
      await s.done();
    }
  });

  it('follows rotation: the old file is read to its end, then the new one from 0', async () => {
    const h = harness();
    try {
      await h.tail.poll();
      writeFileSync(h.file, line('1'));
      await h.tail.poll();
      // the apiserver writes one more line, then rotates (rename) and opens a new file
      appendFileSync(h.file, line('2'));
      renameSync(h.file, `${h.file}.1`);
      await h.tail.poll(); // nothing at the path for a moment
      writeFileSync(h.file, line('3'));
      await h.tail.poll();
      appendFileSync(h.file, line('4'));
      await h.tail.poll();
      assert.deepEqual(h.got, ['1', '2', '3', '4']);
      // renamed and recreated between two polls
      renameSync(h.file, `${h.file}.2`);
      writeFileSync(h.file, line('5'));
      await h.tail.poll();
      assert.deepEqual(h.got, ['1', '2', '3', '4', '5']);
      assert.equal(h.tail.stats.rotations, 1, 'the rename seen while the path was empty closes the old file; the second is a new inode at the path');
    } finally {
      await h.done();
    }
  });

  it('follows truncation in place (copytruncate)', async () => {
    const h = harness();
    try {
      await h.tail.poll();
      writeFileSync(h.file, line('1') + line('2'));
      await h.tail.poll();
      truncateSync(h.file, 0);
      appendFileSync(h.file, line('3'));
      await h.tail.poll();
      assert.deepEqual(h.got, ['1', '2', '3']);
      assert.equal(h.tail.stats.truncations, 1);
    } finally {
      await h.done();
    }
  });

  it('counts malformed lines by kind, logs each kind once, and goes on', async () => {
    const h = harness();
    try {
      await h.tail.poll();
      const notEvent = `${JSON.stringify({ kind: 'Event', apiVersion: 'audit.k8s.io/v1', verb: 'get' })}\n`;
      const long = `${'x'.repeat(MAX_LINE + 10)}\n`;
      writeFileSync(h.file, `{"kind": "Ev\n${line('ok-1')}not json either\n${notEvent}${notEvent}${long}\n${line('ok-2')}`);
      await h.tail.poll();
      assert.deepEqual(h.got, ['ok-1', 'ok-2']);
      assert.deepEqual(h.tail.stats.malformed, { 'not-json': 2, 'not-an-event': 2, 'too-long': 1 });
      assert.equal(h.warnings.length, 3, h.warnings.join('\n'));
      for (const w of h.warnings) assert.doesNotMatch(w, /\n/);
      assert.match(h.warnings[0]!, /audit\.log: skipped a malformed line \(not-json: line 1\)/);
      // a partial line that grows past the limit is dropped up to its newline, without holding it
      appendFileSync(h.file, 'y'.repeat(MAX_LINE + 5));
      await h.tail.poll();
      appendFileSync(h.file, `yyy\n${line('ok-3')}`);
      await h.tail.poll();
      assert.deepEqual(h.got, ['ok-1', 'ok-2', 'ok-3']);
      assert.equal(h.tail.stats.malformed['too-long'], 2);
      assert.equal(h.warnings.length, 3);
    } finally {
      await h.done();
    }
  });
});

storeTest('--audit-log through Central: an exec line in the file joins the shell alert of that pod', async (dialect) => {
  const central = await startTestCentral({ dialect });
  const dir = mkdtempSync(join(tmpdir(), 'gh-audit-central-'));
  const ac = new AbortController();
  try {
    // the file appears after the job started: it is read from its beginning
    const file = join(dir, 'audit.log');
    const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
    let tail: AuditFileTail | undefined;
    const job = auditFileJob({ file, cluster: 'prod', pollMs: 100, onTail: (t) => (tail = t) })(central.ctx, ac.signal, { log });
    while (!tail?.stats.polls) await new Promise((r) => setTimeout(r, 20));
    const t = Date.now();
    appendFileSync(file, line('aud-file-1', new Date(t).toISOString()));
    const sensor = await central.token('sensor');
    const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host: 'node-a', cluster: 'prod' }, events: [alertEvent('sensor', shellAlert(new Date(t + 1000).toISOString()) as Alert)] }, sensor);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const deadline = Date.now() + 20_000;
    let inc: Incident | undefined;
    while (Date.now() < deadline) {
      inc = ((await central.api('GET', '/api/v1/incidents')).body.items as Incident[])[0];
      if (inc?.timeline.some((e) => e.layer === 'api')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(inc?.timeline.map((e) => [e.layer, e.kind]), [['api', 'audit'], ['runtime', 'alert']]);
    assert.equal(inc!.timeline[0]!.ref, 'aud-file-1');
    assert.match(inc!.timeline[0]!.reason, /^exec through the API into pod prod\/shop\//);
    ac.abort();
    await job;
  } finally {
    ac.abort();
    await central.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('gatehouse server --audit-cluster', () => {
  it('needs --audit-log, and a cluster name: one line, exit 2', async () => {
    for (const [args, re] of [
      [['--audit-cluster', 'prod'], /--audit-cluster names the cluster of --audit-log FILE/],
      [['--audit-log', '/tmp/x.log', '--audit-cluster', 'bad name'], /--audit-cluster must be a cluster name/],
    ] as const) {
      const r = await runCli(['server', ...args], { timeoutMs: 60_000 });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});
