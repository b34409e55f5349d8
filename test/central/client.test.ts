/**
 * The Central client and the event shipper against a real HTTP server on 127.0.0.1:0: a
 * small fastify app that plays Central's ingest route (stores each id once, all or nothing
 * per batch) and can be made to fail, refuse, stall or go away.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { CentralClient, CentralError, centralFromOptions } from '../../src/central/client/client.js';
import type { EventBatch, IngestEvent } from '../../src/central/client/ingest-types.js';
import { EventShipper, SPOOL_LOSS_FINDING } from '../../src/central/client/shipper.js';
import { openSpool, type Spool } from '../../src/central/client/spool.js';
import { startTestCentral } from '../helpers/central.js';
import { hasCommand, requireComponent } from '../helpers/components.js';

const TOKEN = 'gh-test-token-5f1e0c2a9b7d4e3f8a6c1b0d9e8f7a6b';

type Mode = 'ok' | 'unavailable' | 'stall-after-store';

/** A stand-in for Central's ingest route, recording what it stored in arrival order. */
class FakeCentral {
  readonly app: FastifyInstance;
  mode: Mode = 'ok';
  /** Ids in the order they were first stored. */
  readonly stored: string[] = [];
  readonly batches: string[][] = [];
  readonly storedEvents = new Map<string, IngestEvent>();
  duplicates = 0;
  requests = 0;
  readonly requestTimes: number[] = [];
  refuseId: string | undefined;
  port = 0;
  private stalled: (() => void)[] = [];

  constructor() {
    this.app = Fastify({ logger: false, bodyLimit: 10 << 20 });
    this.app.addHook('onRequest', async (req, reply) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return reply.code(401).send({ error: 'Unauthorized', message: 'invalid API token' });
    });
    this.app.post('/api/v1/ingest/events', async (req, reply) => {
      this.requests++;
      this.requestTimes.push(performance.now());
      const batch = req.body as EventBatch;
      if (this.mode === 'unavailable') return reply.code(503).send({ error: 'Service Unavailable', message: 'store is down' });
      if (this.refuseId && batch.events.some((e) => e.id === this.refuseId)) {
        return reply.code(400).send({ error: 'Bad Request', message: `body/events: event ${this.refuseId} is malformed` });
      }
      let stored = 0;
      let duplicates = 0;
      for (const e of batch.events) {
        if (this.storedEvents.has(e.id)) {
          duplicates++;
          continue;
        }
        this.storedEvents.set(e.id, e);
        this.stored.push(e.id);
        stored++;
      }
      this.duplicates += duplicates;
      this.batches.push(batch.events.map((e) => e.id));
      // Stored, but the answer never comes before the client gives up: the client must retry, and the retry is a duplicate.
      if (this.mode === 'stall-after-store') await new Promise<void>((resolve) => this.stalled.push(resolve));
      return { stored, duplicates };
    });
    this.app.get('/api/v1/echo', async (req) => ({ query: req.query, auth: 'present' }));
    this.app.delete('/api/v1/tokens/:id', async (_req, reply) => reply.code(204).send());
    this.app.get('/api/v1/tokens/missing', async (_req, reply) => reply.code(404).send({ error: 'Not Found', message: 'no token with id missing' }));
    this.app.get('/api/v1/broken', async (_req, reply) => reply.code(500).type('text/plain').send('upstream exploded\nsecond line'));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    await this.app.listen({ host: '127.0.0.1', port });
    this.port = (this.app.server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening (connection refused) and returns a new instance on the same port, sharing nothing. */
  async stop(): Promise<void> {
    this.releaseStalled();
    await this.app.close();
  }

  releaseStalled(): void {
    this.stalled.splice(0).forEach((r) => r());
  }
}

const dirs: string[] = [];
const servers: FakeCentral[] = [];
after(async () => {
  for (const s of servers) await s.stop().catch(() => {});
  dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'gatehouse-client-'));
  dirs.push(d);
  return d;
}

async function fakeCentral(): Promise<FakeCentral> {
  const s = await new FakeCentral().start();
  servers.push(s);
  return s;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The CentralError a request fails with (the test fails if it succeeds). */
async function failure(p: Promise<unknown>): Promise<CentralError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof CentralError, `expected a CentralError, got ${String(e)}`);
  return e;
}

const event = (id: string): IngestEvent => ({ id, type: 'decision', time: new Date(0).toISOString(), data: { verdict: 'allow', n: id } });
const ids = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

describe('CentralClient', () => {
  test('sends the bearer token and JSON, passes queries, and reads empty answers', async () => {
    const s = await fakeCentral();
    const client = new CentralClient({ server: s.url, token: TOKEN });
    assert.deepEqual(await client.get('/api/v1/echo', { digest: 'sha256:ab', limit: 5, skip: undefined }), { query: { digest: 'sha256:ab', limit: '5' }, auth: 'present' });
    assert.deepEqual(await client.post('/api/v1/ingest/events', { source: { kind: 'sensor' }, events: [event('c1')] }), { stored: 1, duplicates: 0 });
    assert.equal(await client.delete('/api/v1/tokens/abc'), undefined);
    await client.close();
  });

  test("a non-2xx answer is a one-line UserError with Central's message and the status, never the token", async () => {
    const s = await fakeCentral();
    const client = new CentralClient({ server: s.url, token: TOKEN });
    const missing = await failure(client.get('/api/v1/tokens/missing'));
    assert.ok(missing instanceof CentralError);
    assert.equal(missing.name, 'UserError');
    assert.equal(missing.status, 404);
    assert.equal(missing.error, 'Not Found');
    assert.equal(missing.message, `Central at ${s.url}: GET /api/v1/tokens/missing: 404 no token with id missing`);
    const broken = await failure(client.get('/api/v1/broken'));
    assert.equal(broken.status, 500);
    assert.match(broken.message, /: 500 upstream exploded$/);
    const wrong = new CentralClient({ server: s.url, token: 'wrong-token-value' });
    const denied = await failure(wrong.get('/api/v1/echo'));
    assert.equal(denied.status, 401);
    assert.match(denied.message, /401 invalid API token/);
    for (const e of [missing, broken, denied]) {
      assert.ok(!e.message.includes(TOKEN) && !e.message.includes('wrong-token-value'), e.message);
      assert.ok(!e.message.includes('\n'));
    }
    await Promise.all([client.close(), wrong.close()]);
  });

  test('a network failure names the server, not the token', async () => {
    const s = await fakeCentral();
    const url = s.url;
    await s.stop();
    const client = new CentralClient({ server: url, token: TOKEN });
    const e = await failure(client.get('/api/v1/echo'));
    assert.ok(e instanceof CentralError);
    assert.equal(e.status, undefined);
    assert.match(e.message, new RegExp(`^cannot reach Central at ${url.replaceAll('.', '\\.')}: `));
    assert.ok(!e.message.includes(TOKEN));
    await client.close();
  });

  test('refuses bad URLs, and a token over plain HTTP to another machine', () => {
    assert.throws(() => new CentralClient({ server: 'not a url', token: TOKEN }), { name: 'UserError', message: /invalid Central URL/ });
    assert.throws(() => new CentralClient({ server: 'ftp://central', token: TOKEN }), /must be https/);
    assert.throws(() => new CentralClient({ server: 'http://central.example:8443', token: TOKEN }), /refusing to send a token over plain HTTP to central\.example:8443/);
    assert.throws(() => new CentralClient({ server: `https://u:${TOKEN}@central`, token: TOKEN }), (e: Error) => /must not hold credentials/.test(e.message) && !e.message.includes(TOKEN));
    assert.throws(() => new CentralClient({ server: 'https://central', token: '' }), /needed/);
    for (const loopback of ['http://127.0.0.1:1', 'http://localhost:1', 'http://[::1]:1']) new CentralClient({ server: loopback, token: TOKEN });
  });

  test('centralFromOptions: flags, then GATEHOUSE_SERVER, GATEHOUSE_TOKEN and GATEHOUSE_CA', () => {
    assert.equal(centralFromOptions({}, {}), undefined, 'no server: no client');
    assert.equal(centralFromOptions({ server: 'https://flag:1', token: 't' }, { GATEHOUSE_SERVER: 'https://env:1' })?.server, 'https://flag:1');
    assert.equal(centralFromOptions({}, { GATEHOUSE_SERVER: 'https://env:1', GATEHOUSE_TOKEN: 't' })?.server, 'https://env:1');
    assert.equal(centralFromOptions({ token: 't' }, { GATEHOUSE_SERVER: 'https://env:1/prefix/' })?.server, 'https://env:1/prefix');
    assert.throws(() => centralFromOptions({ server: 'https://c:1' }, {}), { name: 'UserError', message: 'Central https://c:1 needs an API token: --token or GATEHOUSE_TOKEN' });
    assert.throws(() => centralFromOptions({}, { GATEHOUSE_SERVER: 'https://c:1', GATEHOUSE_TOKEN: TOKEN, GATEHOUSE_CA: '/nonexistent/ca.pem' }), (e: Error) => e.name === 'UserError' && /cannot read Central's CA certificate \/nonexistent\/ca\.pem/.test(e.message) && !e.message.includes(TOKEN));
    const notPem = join(tempDir(), 'ca.pem');
    writeFileSync(notPem, 'hello');
    assert.throws(() => centralFromOptions({ server: 'https://c:1', token: 't', ca: notPem }, {}), /holds no PEM certificate/);
  });

  test('GATEHOUSE_CA is the trust anchor for HTTPS', async (t) => {
    if (!requireComponent(t, hasCommand('openssl'), 'openssl (Debian package openssl) makes the test CA')) return;
    const dir = tempDir();
    const run = (args: string[]): void => {
      const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    };
    const makeCa = (name: string): void => run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`]);
    makeCa('ca');
    makeCa('other-ca');
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr']);
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
    run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-extfile', 'ext.cnf', '-out', 'server.pem']);
    const app = Fastify({ https: { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) } });
    app.get('/api/v1/echo', async () => ({ ok: true }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const server = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const trusted = centralFromOptions({}, { GATEHOUSE_SERVER: server, GATEHOUSE_TOKEN: TOKEN, GATEHOUSE_CA: join(dir, 'ca.pem') })!;
      assert.deepEqual(await trusted.get('/api/v1/echo'), { ok: true });
      const otherCa = centralFromOptions({ server, token: TOKEN, ca: join(dir, 'other-ca.pem') }, {})!;
      const e = await failure(otherCa.get('/api/v1/echo'));
      assert.match(e.message, new RegExp(`^cannot reach Central at ${server.replaceAll('.', '\\.')}: .*(certificate|verify)`, 'i'));
      const skip = new CentralClient({ server, token: TOKEN, insecureSkipVerify: true });
      assert.deepEqual(await skip.get('/api/v1/echo'), { ok: true });
      await Promise.all([trusted.close(), otherCa.close(), skip.close()]);
    } finally {
      await app.close();
    }
  });
});

describe('EventShipper', () => {
  const source: EventBatch['source'] = { kind: 'engine-proxy', host: 'test-host' };

  function setup(s: FakeCentral, opts: { maxBytes?: number; batchSize?: number; flushIntervalMs?: number; timeoutMs?: number; dir?: string } = {}) {
    const dir = opts.dir ?? tempDir();
    const spool = openSpool<IngestEvent>(dir, { maxBytes: opts.maxBytes ?? 16 << 20 });
    const client = new CentralClient({ server: s.url, token: TOKEN, timeoutMs: opts.timeoutMs ?? 5000 });
    const losses: number[] = [];
    const errors: string[] = [];
    const shipper = new EventShipper({
      client,
      spool,
      source,
      batchSize: opts.batchSize ?? 50,
      flushIntervalMs: opts.flushIntervalMs ?? 20,
      initialBackoffMs: 20,
      maxBackoffMs: 100,
      onLoss: (n) => losses.push(n),
      onError: (m) => errors.push(m),
    });
    const close = async (timeoutMs = 3000): Promise<void> => {
      await shipper.close(timeoutMs);
      spool.close();
      await client.close();
    };
    return { dir, spool, client, shipper, losses, errors, close };
  }

  test('sends batches in order, each at most batchSize, and acknowledges them in the spool', async () => {
    const s = await fakeCentral();
    const { shipper, spool, close } = setup(s, { batchSize: 40 });
    const all = ids('order', 500);
    for (let i = 0; i < all.length; i++) {
      shipper.submit(event(all[i]!));
      if (i % 37 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor('every event stored', () => s.stored.length === all.length);
    assert.deepEqual(s.stored, all);
    assert.ok(s.batches.every((b) => b.length <= 40 && b.length > 0));
    assert.ok(s.batches.length >= Math.ceil(500 / 40));
    await waitFor('the spool drained', () => spool.stats().pendingEvents === 0);
    assert.equal(shipper.stats().sent, 500);
    await close();
  });

  test('while Central is down the events spool, and they drain in order when it is back', async () => {
    let s = await fakeCentral();
    const { shipper, spool, errors, close } = setup(s, { batchSize: 25 });
    const first = ids('outage-a', 60);
    const second = ids('outage-b', 60);
    // First a Central that answers 503, then no Central at all.
    s.mode = 'unavailable';
    for (const id of first) shipper.submit(event(id));
    await waitFor('a few failed pushes', () => s.requests >= 3);
    assert.equal(s.stored.length, 0);
    const port = s.port;
    await s.stop();
    for (const id of second) shipper.submit(event(id));
    await waitFor('connection refused seen', () => errors.some((m) => m.startsWith('cannot reach Central')));
    assert.equal(spool.stats().pendingEvents, 120, 'everything is in the spool');
    assert.ok(errors.some((m) => /503 store is down/.test(m)));
    assert.ok(errors.every((m) => !m.includes(TOKEN)));
    s = await new FakeCentral().start(port);
    servers.push(s);
    await waitFor('the spool drained into the new Central', () => s.stored.length === 120);
    assert.deepEqual(s.stored, [...first, ...second]);
    // The last answer may still be on its way to the shipper.
    await waitFor('the spool drained', () => spool.stats().pendingEvents === 0);
    await close();
  });

  test('retries back off exponentially, with jitter, up to the cap', async () => {
    const s = await fakeCentral();
    s.mode = 'unavailable';
    // setup(): initialBackoffMs 20, maxBackoffMs 100; each delay is drawn from [d/2, d].
    const { shipper, close } = setup(s);
    shipper.submit(event('backoff-1'));
    await waitFor('12 attempts', () => s.requestTimes.length >= 12);
    const gaps = s.requestTimes.slice(1).map((t, i) => t - s.requestTimes[i]!);
    assert.ok(gaps.every((g) => g >= 9), `no retry sooner than half the first delay: ${gaps.map(Math.round).join(', ')}`);
    assert.ok(gaps.slice(4).every((g) => g >= 45), `capped delays stay at least half the cap: ${gaps.map(Math.round).join(', ')}`);
    assert.ok(gaps.slice(4).every((g) => g <= 100 + 900), `and about the cap at most (slack for a loaded machine): ${gaps.map(Math.round).join(', ')}`);
    assert.ok(new Set(gaps.slice(4).map((g) => Math.round(g / 5))).size > 1, `jittered: ${gaps.map(Math.round).join(', ')}`);
    await close(100);
  });

  test('a lost answer makes a retry whose duplicates Central drops: each event stored once, in order', async () => {
    const s = await fakeCentral();
    s.mode = 'stall-after-store';
    const { shipper, spool, close } = setup(s, { batchSize: 10, timeoutMs: 200 });
    const all = ids('dup', 30);
    for (const id of all) shipper.submit(event(id));
    await waitFor('a stored batch retried', () => s.duplicates > 0);
    s.mode = 'ok';
    s.releaseStalled();
    await waitFor('the spool drained', () => spool.stats().pendingEvents === 0);
    assert.deepEqual(s.stored, all, 'each id stored once, in order');
    assert.ok(s.batches.length > 3, 'some batches were sent more than once');
    await close();
  });

  test('when the spool is full the loss is counted, handed to onLoss, and alerted to Central once', async () => {
    const s = await fakeCentral();
    s.mode = 'unavailable';
    const lineBytes = Buffer.byteLength(`${JSON.stringify(event('full-000'))}\n`);
    const { shipper, spool, losses, close } = setup(s, { maxBytes: lineBytes * 20, batchSize: 100 });
    const all = Array.from({ length: 50 }, (_, i) => `full-${String(i).padStart(3, '0')}`);
    for (const id of all) shipper.submit(event(id));
    await waitFor('the loss reported', () => losses.length > 0);
    assert.deepEqual(losses, [30]);
    assert.equal(spool.stats().droppedTotal, 30);
    s.mode = 'ok';
    await waitFor('the kept events stored', () => s.stored.length === 21);
    const alert = s.storedEvents.get(s.stored[0]!)!;
    assert.equal(alert.type, 'alert');
    assert.equal(alert.finding?.id, SPOOL_LOSS_FINDING);
    assert.equal(alert.finding?.kind, 'runtime');
    assert.equal(alert.finding?.severity, 'HIGH');
    assert.deepEqual(alert.finding?.data, { dropped: 30, droppedTotal: 30 });
    assert.equal(alert.finding?.resource.host, 'test-host');
    assert.deepEqual(s.stored.slice(1), all.slice(0, 20), 'the oldest events are kept, the newest dropped');
    assert.equal(spool.lossReported, 30);
    // Another loss gets its own alert; the first is not repeated.
    s.mode = 'unavailable';
    const more = Array.from({ length: 25 }, (_, i) => `more-${String(i).padStart(3, '0')}`);
    for (const id of more) shipper.submit(event(id));
    await waitFor('the second loss reported', () => losses.length === 2);
    assert.deepEqual(losses, [30, 5]);
    s.mode = 'ok';
    await waitFor('the second alert stored', () => s.stored.filter((id) => id.startsWith(SPOOL_LOSS_FINDING)).length === 2);
    const second = s.storedEvents.get(s.stored.filter((id) => id.startsWith(SPOOL_LOSS_FINDING))[1]!)!;
    assert.deepEqual(second.finding?.data, { dropped: 5, droppedTotal: 35 });
    await close();
  });

  test('nothing spooled is lost across a restart of the shipper', async () => {
    const s = await fakeCentral();
    s.mode = 'unavailable';
    const first = setup(s, { batchSize: 20 });
    const all = ids('restart', 45);
    for (const id of all) first.shipper.submit(event(id));
    await waitFor('a failed push', () => s.requests > 0);
    await first.close(100);
    assert.equal(s.stored.length, 0);
    s.mode = 'ok';
    const second = setup(s, { dir: first.dir, batchSize: 20 });
    await waitFor('the spool of the first run stored', () => s.stored.length === 45);
    assert.deepEqual(s.stored, all);
    assert.deepEqual(second.losses, [], 'no loss to report');
    await second.close();
  });

  test('an event Central refuses is isolated and skipped; the rest of its batch is stored', async () => {
    const s = await fakeCentral();
    s.refuseId = 'refuse-13';
    const { shipper, spool, close } = setup(s, { batchSize: 32, flushIntervalMs: 200 });
    const all = ids('refuse', 40);
    for (const id of all) shipper.submit(event(id));
    await waitFor('the refused event skipped', () => shipper.stats().rejected === 1 && spool.stats().pendingEvents === 0);
    assert.deepEqual(s.stored, all.filter((id) => id !== 'refuse-13'));
    assert.equal(shipper.stats().rejected, 1);
    await close();
  });

  test('close sends what is pending without waiting for the flush interval, within its timeout', async () => {
    const s = await fakeCentral();
    const { shipper, spool, close } = setup(s, { batchSize: 1000, flushIntervalMs: 60_000 });
    const all = ids('close', 10);
    for (const id of all) shipper.submit(event(id));
    const started = Date.now();
    await shipper.close(3000);
    assert.ok(Date.now() - started < 2000, 'did not wait for the flush interval');
    assert.deepEqual(s.stored, all);
    assert.equal(spool.stats().pendingEvents, 0);
    await close();

    // A Central that never answers: close gives up at its deadline and keeps the events.
    const stalled = await fakeCentral();
    stalled.mode = 'stall-after-store';
    const second = setup(stalled, { batchSize: 1000, flushIntervalMs: 60_000, timeoutMs: 60_000 });
    second.shipper.submit(event('stalled-1'));
    const t0 = Date.now();
    await second.shipper.close(300);
    assert.ok(Date.now() - t0 < 2000, `close kept its deadline (${Date.now() - t0} ms)`);
    assert.equal(second.spool.stats().pendingEvents, 1, 'the unacknowledged event stays in the spool');
    await second.close();
    stalled.releaseStalled();
  });
});

describe('EventShipper with the real Central (SQLite)', () => {
  const shellAlert = (id: string, i: number): IngestEvent => ({
    id,
    type: 'alert',
    time: new Date(Date.UTC(2026, 11, 7, 1, 0, i)).toISOString(),
    finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'HIGH', title: 'A shell was spawned', resource: { container: { id: 'c1', name: 'web' } } },
    data: { 'proc.cmdline': 'bash', i },
  });

  async function allIds(c: Awaited<ReturnType<typeof startTestCentral>>, kind: 'alerts' | 'decisions'): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await c.api('GET', `/api/v1/${kind}?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      out.push(...page.body.items.map((x: { id: string }) => x.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    return out;
  }

  test('stores every event once, takes the spool-loss alert, and a second push stores nothing new', async () => {
    const c = await startTestCentral();
    const dir = tempDir();
    try {
      const token = await c.token('sensor');
      const alerts = Array.from({ length: 120 }, (_, i) => shellAlert(`e2e-alert-${i}`, i));
      const decisions = ids('e2e-decision', 30).map(event);
      const lineBytes = Buffer.byteLength(`${JSON.stringify(alerts[0])}\n`);
      // A spool that filled up while Central was away: 5 events lost before the shipper runs.
      const spool = openSpool<IngestEvent>(dir, { maxBytes: lineBytes * 1000 });
      const small = openSpool<IngestEvent>(join(dir, 'small'), { maxBytes: lineBytes * 3 });
      assert.deepEqual(small.append(alerts.slice(0, 8)), { accepted: 3, dropped: 5 });
      small.close();

      const client = new CentralClient({ server: c.url, token });
      const send = async (sp: Spool<IngestEvent>, events: IngestEvent[]) => {
        const errors: string[] = [];
        const shipper = new EventShipper({ client, spool: sp, source: { kind: 'sensor', cluster: 'prod', node: 'n1' }, batchSize: 64, flushIntervalMs: 10, onError: (m) => errors.push(m) });
        for (const e of events) shipper.submit(e);
        await waitFor('spool drained', () => sp.stats().pendingEvents === 0 && sp.stats().droppedTotal === sp.lossReported);
        await shipper.close();
        const stats = shipper.stats();
        sp.close();
        assert.deepEqual(errors, []);
        return stats;
      };
      const first = await send(spool, [...alerts, ...decisions]);
      assert.equal(first.sent, 150);
      const stored = await allIds(c, 'alerts');
      assert.deepEqual(new Set(stored), new Set(alerts.map((a) => a.id)));
      assert.equal(stored.length, 120);
      assert.deepEqual(new Set(await allIds(c, 'decisions')), new Set(decisions.map((d) => d.id)));

      // The small spool: its 3 kept events are duplicates by now, its loss alert is new.
      const smallStats = await send(openSpool<IngestEvent>(join(dir, 'small'), { maxBytes: lineBytes * 3 }), []);
      assert.equal(smallStats.duplicates, 3);
      const loss = (await c.api('GET', '/api/v1/alerts?limit=1000')).body.items.filter((a: { id: string }) => a.id.startsWith(`${SPOOL_LOSS_FINDING}:`));
      assert.equal(loss.length, 1);
      assert.equal(loss[0].severity, 'HIGH');
      assert.deepEqual(loss[0].finding.data, { dropped: 5, droppedTotal: 5 });

      // At least once: the same events again are all duplicates.
      const again = await send(openSpool<IngestEvent>(join(dir, 'again'), { maxBytes: lineBytes * 1000 }), alerts.slice(0, 50));
      assert.deepEqual({ sent: again.sent, duplicates: again.duplicates }, { sent: 0, duplicates: 50 });
      assert.equal((await allIds(c, 'alerts')).length, 121);
      await client.close();
    } finally {
      await c.close();
    }
  });
});

describe('kill -9 of Central during a sensor push', () => {
  const gatehouse = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));

  /** `gatehouse server` as a child process (HTTPS with its local CA); resolves with its URL once it listens. */
  async function startServer(dataDir: string, listen: string, adminToken: string): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, [gatehouse, 'server', '--listen', listen, '--data-dir', dataDir, '--log-level', 'silent'], {
      env: { ...process.env, GATEHOUSE_ADMIN_TOKEN: adminToken, KUBECONFIG: '/nonexistent', DOCKER_HOST: 'unix:///nonexistent' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const lines: string[] = [];
    for await (const line of createInterface({ input: child.stderr! })) {
      lines.push(line);
      const m = /^Gatehouse Central is listening on (\S+)$/.exec(line);
      if (m) {
        child.stderr!.resume();
        return { child, url: m[1]! };
      }
    }
    throw new Error(`gatehouse server did not start:\n${lines.join('\n')}`);
  }

  test('every event Central acknowledged before the kill is there after the restart; the spool sends the rest once', { timeout: 120_000 }, async () => {
    const dataDir = tempDir();
    const adminToken = `ghc_${randomBytes(32).toString('base64url')}`;
    let central = await startServer(dataDir, '127.0.0.1:0', adminToken);
    const killAll = () => central.child.kill('SIGKILL');
    try {
      const env = { GATEHOUSE_SERVER: central.url, GATEHOUSE_CA: join(dataDir, 'tls', 'ca.crt') };
      const admin = centralFromOptions({ token: adminToken }, env)!;
      const { token } = await admin.post<{ token: string }>('/api/v1/tokens', { name: 'sensor-under-test', role: 'sensor' });
      const sensor = centralFromOptions({ token, timeoutMs: 3000 }, env)!;
      const acked = new Set<string>();
      let inFlight = 0;
      const recording = {
        post: async <T>(path: string, body: unknown, opts?: { signal?: AbortSignal }): Promise<T> => {
          inFlight++;
          try {
            const result = await sensor.post<T>(path, body, opts);
            for (const e of (body as EventBatch).events) acked.add(e.id);
            return result;
          } finally {
            inFlight--;
          }
        },
      };
      const spool = openSpool<IngestEvent>(join(dataDir, 'spool'), { maxBytes: 64 << 20 });
      const errors: string[] = [];
      const shipper = new EventShipper({ client: recording, spool, source: { kind: 'sensor', node: 'n1' }, batchSize: 20, flushIntervalMs: 5, initialBackoffMs: 50, maxBackoffMs: 300, onError: (m) => errors.push(m) });
      const all = Array.from({ length: 1500 }, (_, i) => ({
        id: `kill-${i}`,
        type: 'alert' as const,
        time: new Date(Date.UTC(2026, 11, 7, 2, 0, 0, i)).toISOString(),
        finding: { id: 'Terminal shell in container', kind: 'runtime' as const, severity: 'HIGH' as const, title: 'A shell was spawned', resource: { container: { id: 'c1' } } },
      }));
      let ackedBeforeKill: string[] = [];
      let killed = false;
      for (let i = 0; i < all.length; i++) {
        shipper.submit(all[i]!);
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2));
        // Kill while a batch is on its way, once a few hundred events are acknowledged.
        if (!killed && acked.size >= 300 && inFlight > 0) {
          ackedBeforeKill = [...acked];
          central.child.kill('SIGKILL');
          killed = true;
        }
      }
      assert.ok(killed, `Central was killed during the push (acknowledged ${acked.size})`);
      await new Promise<void>((resolve) => (central.child.exitCode !== null || central.child.signalCode !== null ? resolve() : central.child.once('exit', () => resolve())));
      await waitFor('the shipper noticing Central is gone', () => errors.some((m) => m.startsWith('cannot reach Central')));
      assert.ok(spool.stats().pendingEvents > 0, 'events wait in the spool');

      central = await startServer(dataDir, new URL(central.url).host, adminToken);
      await waitFor('the spool drained into the restarted Central', () => spool.stats().pendingEvents === 0 && acked.size === all.length, 60_000);
      await shipper.close();
      spool.close();

      const stored: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { id: string }[]; nextCursor: string | null } = await admin.get('/api/v1/alerts', { limit: 1000, cursor: cursor ?? undefined });
        stored.push(...page.items.map((x) => x.id));
        cursor = page.nextCursor;
      } while (cursor);
      const storedSet = new Set(stored);
      assert.deepEqual(ackedBeforeKill.filter((id) => !storedSet.has(id)), [], 'no event acknowledged before the kill is missing');
      assert.equal(stored.length, all.length, 'each event stored once');
      assert.deepEqual(storedSet, new Set(all.map((e) => e.id)));
      await Promise.all([admin.close(), sensor.close()]);
    } finally {
      killAll();
    }
  });
});
