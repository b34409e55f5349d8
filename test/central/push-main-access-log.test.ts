/**
 * Central's access log (src/central/access-log.ts): one line per request, when it ends, with
 * method, URL, client address, status, time and request id — what fastify's two default
 * lines said between them — and never the request's headers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Writable } from 'node:stream';
import { startTestCentral } from '../helpers/central.js';

interface Line { msg?: string; reqId?: string; req?: Record<string, unknown>; res?: { statusCode?: number }; responseTime?: number; level?: number }

test('each request leaves one access-log line with its method, URL, address, status and time', async () => {
  const lines: Line[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line); cb(); } });
  const c = await startTestCentral({ build: { logger: { level: 'info', stream } } });
  try {
    assert.equal((await c.api('GET', '/api/v1/deployments?limit=1')).status, 200);
    assert.equal((await c.api('GET', '/api/v1/tokens', undefined, 'ghc_' + 'Z'.repeat(43))).status, 401);
    assert.equal((await c.api('GET', '/api/v1/no-such-route')).status, 404);
    assert.equal((await c.api('POST', '/api/v1/ingest/images', '{not json')).status, 400);
    const requests = lines.filter((l) => l.req !== undefined);
    assert.ok(!lines.some((l) => l.msg === 'incoming request'), 'no line when a request arrives');
    assert.deepEqual(requests.map((l) => [l.req!.method, l.req!.url, l.res?.statusCode]), [
      ['GET', '/api/v1/deployments?limit=1', 200], ['GET', '/api/v1/tokens', 401], ['GET', '/api/v1/no-such-route', 404], ['POST', '/api/v1/ingest/images', 400],
    ]);
    for (const l of requests) {
      assert.equal(l.msg, 'request completed');
      assert.equal(l.req!.remoteAddress, '127.0.0.1', JSON.stringify(l));
      assert.equal(typeof l.responseTime, 'number');
      assert.equal(typeof l.reqId, 'string');
      assert.equal(lines.filter((o) => o.reqId === l.reqId && o.req !== undefined).length, 1, 'one line per request');
      assert.deepEqual(Object.keys(l.req!).sort(), ['method', 'remoteAddress', 'url'], 'no headers');
    }
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(c.adminToken) && !text.includes('Z'.repeat(43)), 'no token in the log');
  } finally {
    await c.close();
  }
});
