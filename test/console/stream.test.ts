/**
 * The live change stream (SSE) behind the console: opened only with a single-use ticket
 * bought with a token — never with the token itself in the URL — and carrying change
 * notices as they happen.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { startTestCentral } from '../helpers/central.js';

test('stream tickets: need a reader token, open one stream once, and the stream carries change notices', async () => {
  const c = await startTestCentral();
  try {
    assert.equal((await c.api('POST', '/api/v1/stream/tickets', undefined, '')).status, 401);
    const sensor = await c.token('sensor');
    assert.equal((await c.api('POST', '/api/v1/stream/tickets', undefined, sensor)).status, 403, 'a sensor token cannot read');
    // The API token itself is no ticket.
    assert.equal((await c.api('GET', `/api/v1/stream?ticket=${c.adminToken}`, undefined, '')).status, 401);
    assert.equal((await c.api('GET', '/api/v1/stream', undefined, '')).status, 400);

    const analyst = await c.token('analyst');
    const issued = await c.api('POST', '/api/v1/stream/tickets', undefined, analyst);
    assert.equal(issued.status, 201);
    assert.match(issued.body.ticket, /^[A-Za-z0-9_-]{32}$/);
    assert.ok(Date.parse(issued.body.expiresAt) - Date.now() <= 30_000);

    const res = await request(`${c.url}/api/v1/stream?ticket=${issued.body.ticket}`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    // Spent: a second open with the same ticket is refused.
    const again = await c.api('GET', `/api/v1/stream?ticket=${issued.body.ticket}`, undefined, '');
    assert.equal(again.status, 401);
    assert.match(again.body.message, /invalid or expired stream ticket/);

    let text = '';
    const received = new Promise<void>((resolve) => {
      res.body.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (text.includes('"topic":"exceptions"')) resolve();
      });
    });
    const exc = await c.api('POST', '/api/v1/exceptions', { policy: 'privileged-container', owner: 'team', reason: 'why', expires: '2099-01-01' });
    assert.equal(exc.status, 201);
    c.ctx.events.emit('image', 'sha256:abc');
    await received;
    await new Promise((r) => setTimeout(r, 50));
    assert.match(text, /^retry: 3000\n\n/);
    assert.match(text, /event: change\ndata: \{"topic":"exceptions"\}\n\n/);
    assert.match(text, /event: change\ndata: \{"topic":"image","subject":"sha256:abc"\}\n\n/);
    res.body.destroy();
  } finally {
    await c.close();
  }
});
