/** startCentral's background jobs: started after listen, aborted and awaited on close, failures contained. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { request } from 'undici';
import type { CentralJob } from '../../src/central/jobs.js';
import { startCentral } from '../../src/central/start.js';

const tmpRoot = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

function logSink(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } });
  return { stream, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('jobs start after the server listens, a failing job is logged without stopping Central, close aborts and awaits the rest', async () => {
  const seen: string[] = [];
  const watcher: CentralJob = async function watcher(ctx, signal, { log }) {
    log.info({ job: 'watcher' }, 'job started');
    seen.push('started');
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    // The store is still open while a job winds down.
    await ctx.db.selectFrom('tokens').select('id').execute();
    seen.push('stopped cleanly');
  };
  const broken: CentralJob = async function broken() {
    throw new Error('cannot reach the cluster');
  };
  const log = logSink();
  const central = await startCentral({
    listen: '127.0.0.1:0',
    insecureHttp: true,
    dataDir: join(tmpRoot, 'jobs'),
    logger: { level: 'info', stream: log.stream },
    jobs: [watcher, broken],
  });
  await waitUntil(() => seen.includes('started'));
  const messages = log.lines().map((l) => String(l.msg));
  const listening = messages.findIndex((m) => m.startsWith('Server listening'));
  assert.ok(listening >= 0 && listening < messages.indexOf('job started'), `jobs start after listen: ${messages.join(' | ')}`);
  assert.ok(central.adminToken?.startsWith('ghc_'));
  const res = await request(`${central.url}/readyz`);
  assert.equal(res.statusCode, 200, 'Central keeps serving after a job failed');
  await res.body.dump();
  await central.close();
  await central.close(); // idempotent
  assert.deepEqual(seen, ['started', 'stopped cleanly']);
  const failure = log.lines().find((l) => l.msg === 'background job failed');
  assert.equal(failure?.job, 'broken');
  assert.equal(failure?.error, 'cannot reach the cluster');
});

test('a job that ignores its signal does not hold close() past the timeout', async () => {
  const stuck: CentralJob = () => new Promise<void>(() => undefined);
  const central = await startCentral({ listen: '127.0.0.1:0', insecureHttp: true, dataDir: join(tmpRoot, 'stuck'), logger: false, jobs: [stuck], jobStopTimeoutMs: 200 });
  const started = Date.now();
  await central.close();
  const took = Date.now() - started;
  assert.ok(took >= 190 && took < 5_000, `closed once the 200 ms timeout passed (took ${took} ms)`);
});

async function waitUntil(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
