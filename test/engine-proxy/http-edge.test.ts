/**
 * The Docker Engine API spoken directly to the proxy, for what the CLI never sends:
 * chunked and oversized bodies, malformed JSON, smuggling attempts, oversized headers,
 * slow clients, path tricks and a dead upstream.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { missing, podmanSocket } from '../helpers/components.js';
import { TEST_IMAGE, docker, podmanUp, startProxy, testImagePresent, type RunningProxy, defaultPolicies } from './helpers.js';

const up = podmanUp();
const imageOk = up && (await testImagePresent());

interface RawResponse {
  status: number;
  head: string;
  body: string;
  closed: boolean;
}

/** Sends bytes on a fresh connection and collects the first response (or what arrives before close). */
function raw(socketPath: string, parts: (string | Buffer)[], opts: { gapMs?: number; waitMs?: number; untilClose?: boolean } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const text = buf.toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      const head = sep >= 0 ? text.slice(0, sep) : text;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      let body = sep >= 0 ? text.slice(sep + 4) : '';
      if (/transfer-encoding: chunked/i.test(head)) body = dechunk(body);
      resolve({ status, head, body, closed });
    };
    const timer = setTimeout(() => finish(false), opts.waitMs ?? 10_000);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      if (sep < 0 || opts.untilClose) return;
      const cl = /content-length: (\d+)/i.exec(text.slice(0, sep));
      if (cl && buf.length >= sep + 4 + Number(cl[1])) finish(false);
      if (/transfer-encoding: chunked/i.test(text.slice(0, sep)) && text.endsWith('0\r\n\r\n')) finish(false);
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (e) => (done ? undefined : buf.length ? finish(true) : reject(e)));
    s.on('connect', async () => {
      for (const p of parts) {
        if (s.destroyed) break;
        s.write(p);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
    });
  });
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  while (rest.length) {
    const nl = rest.indexOf('\r\n');
    if (nl < 0) break;
    const n = parseInt(rest.slice(0, nl), 16);
    if (!n) break;
    out += rest.slice(nl + 2, nl + 2 + n);
    rest = rest.slice(nl + 4 + n);
  }
  return out;
}

const json = (o: unknown) => JSON.stringify(o);
const post = (path: string, body: string, extra = '') =>
  `POST ${path} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('engine-proxy HTTP edge cases', { skip: missing(up && imageOk, `podman API at ${podmanSocket} and ${TEST_IMAGE}`) }, () => {
  let p: RunningProxy;
  const made: string[] = [];
  before(async () => {
    p = await startProxy(await defaultPolicies(), { headersTimeoutMs: 800, maxBodyBytes: 256 * 1024 });
  });
  after(async () => {
    if (made.length) await docker(`unix://${podmanSocket}`, ['rm', '-f', ...made]);
    await p?.close();
  });

  test('chunked JSON bodies are read whole and decided: denied and allowed', async () => {
    const bad = json({ Image: TEST_IMAGE, HostConfig: { Privileged: true } });
    const deny = await raw(p.socket, [
      'POST /v1.41/containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
      `${(10).toString(16)}\r\n${bad.slice(0, 10)}\r\n`,
      `${Buffer.byteLength(bad.slice(10)).toString(16)}\r\n${bad.slice(10)}\r\n0\r\n\r\n`,
    ], { gapMs: 50 });
    assert.equal(deny.status, 403);
    assert.match(JSON.parse(deny.body).message, /EP001 privileged containers are not allowed/);
    const good = json({ Image: TEST_IMAGE, Cmd: ['true'] });
    const ok = await raw(p.socket, [
      `POST /v1.41/containers/create?name=gh-ep-chunked-${process.pid} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`,
      `${Buffer.byteLength(good).toString(16)}\r\n${good}\r\n0\r\n\r\n`,
    ]);
    made.push(`gh-ep-chunked-${process.pid}`);
    assert.equal(ok.status, 201, ok.body);
    assert.match(JSON.parse(ok.body).Id, /^[0-9a-f]{64}$/);
  });

  test('keys are matched case-insensitively like the engine, and ambiguous bodies are refused', async () => {
    const lower = await raw(p.socket, [post('/v1.41/containers/create', json({ image: TEST_IMAGE, hostconfig: { privileged: true } }))]);
    assert.equal(lower.status, 403);
    assert.match(lower.body, /EP001/);
    const capAdd = await raw(p.socket, [post('/containers/create', json({ Image: TEST_IMAGE, HostConfig: { CAPADD: ['cap_sys_admin'] } }))]);
    assert.equal(capAdd.status, 403);
    assert.match(capAdd.body, /EP006/);
    const ambiguous = await raw(p.socket, [post('/containers/create', '{"Image":"x","HostConfig":{"Privileged":true,"privileged":false,"Privileged":true}}')]);
    assert.equal(ambiguous.status, 400);
    assert.match(JSON.parse(ambiguous.body).message, /ambiguous JSON body/);
  });

  test('malformed JSON gets 400 in the engine error shape', async () => {
    for (const body of ['{"Image": ', 'not json', '{"Image":"x",}']) {
      const r = await raw(p.socket, [post('/v1.41/containers/create', body)]);
      assert.equal(r.status, 400, body);
      assert.match(JSON.parse(r.body).message, /malformed JSON body/);
    }
  });

  test('a body over the decision limit gets 413 without being read to the end', async () => {
    const big = json({ Image: TEST_IMAGE, Env: ['X='.padEnd(400 * 1024, 'x')] });
    const r = await raw(p.socket, [post('/v1.41/containers/create', big)]);
    assert.equal(r.status, 413);
    const declared = await raw(p.socket, ['POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: 4000000000\r\n\r\n{"Image":']);
    assert.equal(declared.status, 413);
    const chunkedBig = await raw(p.socket, [
      'POST /containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\n',
      ...Array.from({ length: 40 }, () => `2000\r\n${'x'.repeat(0x2000)}\r\n`),
    ]);
    assert.equal(chunkedBig.status, 413);
  });

  test('request smuggling: conflicting Content-Length / Transfer-Encoding is refused before the engine', async () => {
    const before = p.audit().length;
    const attempts = [
      // CL.TE: a second request hidden in what one side counts as body
      'POST /v1.41/containers/json HTTP/1.1\r\nHost: d\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1.41/libpod/info HTTP/1.1\r\nHost: d\r\n\r\n',
      'POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n{"Image":"x"}',
      'POST /containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
      'POST /containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
      'POST /containers/create HTTP/1.1\r\nHost: d\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n',
      'GET /_ping HTTP/1.1\r\nHost: d\r\nX-Bad: a\rb\r\n\r\n',
    ];
    for (const a of attempts) {
      const r = await raw(p.socket, [a]);
      assert.equal(r.status, 400, `${JSON.stringify(a)} → ${r.head}`);
      assert.match(r.body, /"message"/);
    }
    const after = p.audit();
    assert.equal(after.slice(before).filter((r) => r.decision === 'allow').length, 0, 'nothing was passed to the engine');
  });

  test('upgrade requests: only attach/exec start, and a refused upgrade cannot carry a second request', async () => {
    const create = await raw(p.socket, [post('/v1.41/containers/create', json({ Image: TEST_IMAGE, HostConfig: { Privileged: true } }), 'Connection: Upgrade\r\nUpgrade: tcp\r\n')]);
    assert.equal(create.status, 400);
    assert.match(create.body, /connection upgrade is not accepted on container.create/);
    const before = p.audit().length;
    const smuggled = await raw(p.socket, [
      'POST /v1.41/containers/gh-ep-no-such-container/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n' +
        'GET /v4.0.0/libpod/info HTTP/1.1\r\nHost: d\r\n\r\n',
    ], { waitMs: 5000, untilClose: true });
    assert.equal(smuggled.status, 404, smuggled.head);
    assert.ok(smuggled.closed, 'connection closed after the refusal');
    assert.equal(smuggled.body.match(/HTTP\/1\.1 \d{3}/g), null, `no second response: ${smuggled.body}`);
    const recs = p.audit().slice(before);
    assert.deepEqual(recs.map((r) => r.action), ['container.attach']);
  });

  test('oversized headers get 431', async () => {
    const r = await raw(p.socket, [`GET /_ping HTTP/1.1\r\nHost: d\r\nX-Registry-Auth: ${'a'.repeat(100 * 1024)}\r\n\r\n`]);
    assert.equal(r.status, 431);
  });

  test('a slow client is timed out and does not hold up others', async () => {
    const slow = raw(p.socket, ['GET /_ping HTTP/1.1\r\n', 'Host: d\r\n', 'X-A: 1\r\n', 'X-B: 2\r\n', 'X-C: 3\r\n', 'X-D: 4\r\n'], { gapMs: 400, waitMs: 8000 });
    const t0 = Date.now();
    const fast = await raw(p.socket, ['GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n']);
    assert.equal(fast.status, 200);
    assert.equal(fast.body, 'OK');
    assert.ok(Date.now() - t0 < 2000);
    const s = await slow;
    assert.equal(s.status, 408, `slow client answered ${s.head}`);
  });

  test('paths that the engine would clean differently, and its own API, are refused', async () => {
    const dots = await raw(p.socket, ['GET /v1.41/containers/../libpod/info HTTP/1.1\r\nHost: d\r\n\r\n']);
    assert.equal(dots.status, 400);
    const enc = await raw(p.socket, ['GET /v1.41/containers/%2e%2e/libpod/info HTTP/1.1\r\nHost: d\r\n\r\n']);
    assert.equal(enc.status, 400);
    const libpod = await raw(p.socket, ['GET /v4.0.0/libpod/info HTTP/1.1\r\nHost: d\r\n\r\n']);
    assert.equal(libpod.status, 403);
    assert.match(libpod.body, /EP011 endpoint not understood/);
    const form = await raw(p.socket, [`POST /v1.41/images/create?fromImage=${TEST_IMAGE} HTTP/1.1\r\nHost: d\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 22\r\n\r\nfromImage=evil.io/x:1`]);
    assert.equal(form.status, 400);
  });
});

describe('engine-proxy with the engine down', () => {
  let p: RunningProxy;
  before(async () => {
    p = await startProxy(await defaultPolicies(), { upstream: { kind: 'unix', path: '/nonexistent/gatehouse/engine.sock' } });
  });
  after(async () => p?.close());

  test('plain requests get a clear 502 at once', async () => {
    const t0 = Date.now();
    const r = await raw(p.socket, ['GET /v1.41/containers/json HTTP/1.1\r\nHost: d\r\n\r\n']);
    assert.equal(r.status, 502);
    assert.match(JSON.parse(r.body).message, /engine unreachable at unix:\/\/\/nonexistent\/gatehouse\/engine\.sock/);
    assert.ok(Date.now() - t0 < 3000);
  });

  test('hijack requests get a 502 too, and the docker CLI says why', async () => {
    const r = await raw(p.socket, ['POST /v1.41/containers/abc/attach?stream=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n']);
    assert.equal(r.status, 502);
    assert.match(r.body, /engine unreachable/);
    if (!up) return;
    const cli = await docker(p.host, ['ps'], { timeoutMs: 20_000 });
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /engine unreachable/);
  });
});
