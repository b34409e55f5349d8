import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { startTestCentral, storeTest } from '../helpers/central.js';

await storeTest('every endpoint but the probes needs a valid token with the right role', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    assert.equal((await c.api('GET', '/healthz', undefined, '')).status, 200);
    assert.equal((await c.api('GET', '/readyz', undefined, '')).status, 200);
    const none = await c.api('GET', '/api/v1/tokens', undefined, '');
    assert.equal(none.status, 401);
    assert.match(none.body.message, /API token is required/);
    assert.equal((await c.api('GET', '/api/v1/tokens', undefined, 'ghc_' + 'x'.repeat(43))).status, 401);

    const analyst = await c.token('analyst');
    const forbidden = await c.api('POST', '/api/v1/tokens', { name: 'x', role: 'ci' }, analyst);
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body.message, /role "analyst" may not/);

    const created = await c.api('POST', '/api/v1/tokens', { name: 'pipeline', role: 'ci' });
    assert.equal(created.status, 201);
    assert.match(created.body.token, /^ghc_[A-Za-z0-9_-]{43}$/);
    const list = await c.api('GET', '/api/v1/tokens');
    assert.ok(list.body.items.some((t: { id: string }) => t.id === created.body.id));
    assert.ok(!JSON.stringify(list.body).includes(created.body.token), 'a listing never shows a token value');
    const stored = await c.db().selectFrom('tokens').selectAll().execute();
    assert.ok(!JSON.stringify(stored).includes(created.body.token), 'only the hash is stored');

    // ci may not read tokens; after revocation it may do nothing.
    assert.equal((await c.api('GET', '/api/v1/tokens', undefined, created.body.token)).status, 403);
    assert.equal((await c.api('DELETE', `/api/v1/tokens/${created.body.id}`)).status, 204);
    const revoked = await c.api('GET', '/api/v1/tokens', undefined, created.body.token);
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.message, /revoked/);
    assert.equal((await c.api('DELETE', '/api/v1/tokens/nope')).status, 404);

    const expired = await c.token('admin', { expiresAt: new Date(Date.now() - 1000).toISOString() });
    const exp = await c.api('GET', '/api/v1/tokens', undefined, expired);
    assert.equal(exp.status, 401);
    assert.match(exp.body.message, /expired/);
  } finally {
    await c.close();
  }
});

await storeTest('bad bodies get one clear 4xx line and store nothing', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const before = (await c.api('GET', '/api/v1/tokens')).body.items.length;
    const unknown = await c.api('POST', '/api/v1/tokens', { name: 'x', role: 'ci', colour: 'red' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.message, 'body: unknown field "colour"');
    const malformed = await c.api('POST', '/api/v1/tokens', '{"name": "x", ');
    assert.equal(malformed.status, 400);
    assert.doesNotMatch(malformed.body.message, /\n|at .*\.js/);
    const badRole = await c.api('POST', '/api/v1/tokens', { name: 'x', role: 'root' });
    assert.equal(badRole.status, 400);
    assert.match(badRole.body.message, /role/);
    const huge = await c.api('POST', '/api/v1/tokens', { name: 'x'.repeat(2 * 1024 * 1024), role: 'ci' });
    assert.equal(huge.status, 413);
    const query = await c.api('GET', '/api/v1/tokens?colour=red');
    assert.equal(query.status, 400);
    assert.equal(query.body.message, 'querystring: unknown field "colour"');
    assert.equal((await c.api('GET', '/api/v1/images?limit=0')).status, 400);
    const past = await c.api('POST', '/api/v1/tokens', { name: 'x', role: 'ci', expires: '2001-01-01T00:00:00Z' });
    assert.equal(past.status, 400);
    assert.equal((await c.api('GET', '/api/v1/tokens')).body.items.length, before);
  } finally {
    await c.close();
  }
});

await storeTest('failed logins are rate-limited per address', async (dialect) => {
  const c = await startTestCentral({ dialect, build: { failedLoginLimit: { max: 3, windowMs: 60_000 } } });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await c.api('GET', '/api/v1/tokens', undefined, 'wrong')).status, 401);
    const limited = await c.api('GET', '/api/v1/tokens', undefined, 'wrong');
    assert.equal(limited.status, 429);
    assert.match(limited.body.message, /too many failed logins/);
    // Even a good token waits out the window from that address: the limiter runs first.
    assert.equal((await c.api('GET', '/api/v1/tokens')).status, 429);
  } finally {
    await c.close();
  }
});

await storeTest('no token value ever reaches the log', async (dialect) => {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  const c = await startTestCentral({ dialect, build: { logger: { level: 'trace', stream } } });
  try {
    const created = await c.api('POST', '/api/v1/tokens', { name: 'sensor-1', role: 'sensor' });
    await c.api('GET', '/api/v1/tokens', undefined, created.body.token);
    await c.api('GET', '/api/v1/tokens?x=1', undefined, 'ghc_' + 'Z'.repeat(43));
    c.app.log.info({ token: created.body.token, req: { headers: { authorization: `Bearer ${created.body.token}` } } }, 'explicit');
    const log = lines.join('');
    assert.ok(log.length > 0 && log.includes('explicit'), 'the log was captured');
    assert.ok(!log.includes(created.body.token), 'created token leaked into the log');
    assert.ok(!log.includes(c.adminToken), 'admin token leaked into the log');
    assert.ok(!log.includes('Z'.repeat(43)), 'a presented token leaked into the log');
  } finally {
    await c.close();
  }
});

await storeTest('the OpenAPI 3.1 document lists the routes with their schemas', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const doc = await c.api('GET', '/api/v1/openapi.json');
    assert.equal(doc.status, 200);
    assert.equal(doc.body.openapi, '3.1.0');
    assert.ok(doc.body.paths['/api/v1/tokens'].post.requestBody);
    assert.ok(!('/healthz' in doc.body.paths));
  } finally {
    await c.close();
  }
});
