/** `GET /api/v1/whoami`: each token is told its own role, name, id and expiry. */
import assert from 'node:assert/strict';
import { createToken } from '../../src/central/store/tokens.js';
import { startTestCentral, storeTest } from '../helpers/central.js';

await storeTest('whoami answers each token with its own role, name, id and expiry', async (dialect) => {
  const c = await startTestCentral({ dialect });
  try {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    const analyst = await createToken(c.db(), { name: 'night-shift', role: 'analyst', expiresAt });
    const admin = await createToken(c.db(), { name: 'ops-admin', role: 'admin' });

    const a = await c.api('GET', '/api/v1/whoami', undefined, analyst.token);
    assert.equal(a.status, 200, JSON.stringify(a.body));
    assert.deepEqual(a.body, { role: 'analyst', name: 'night-shift', id: analyst.info.id, expiresAt });
    const b = await c.api('GET', '/api/v1/whoami', undefined, admin.token);
    assert.deepEqual(b.body, { role: 'admin', name: 'ops-admin', id: admin.info.id }, 'no expiry, no field');
    assert.ok(!JSON.stringify([a.body, b.body]).includes(analyst.token), 'never the token\'s value');

    // Roles without 'read' (ci, sensor, admission) are refused, naming their role.
    for (const role of ['ci', 'sensor', 'admission'] as const) {
      const r = await c.api('GET', '/api/v1/whoami', undefined, await c.token(role));
      assert.equal(r.status, 403, role);
      assert.match(r.body.message, new RegExp(`role "${role}"`));
    }
    assert.equal((await c.api('GET', '/api/v1/whoami', undefined, '')).status, 401);
    const revoked = await c.api('DELETE', `/api/v1/tokens/${analyst.info.id}`);
    assert.equal(revoked.status, 204);
    assert.equal((await c.api('GET', '/api/v1/whoami', undefined, analyst.token)).status, 401, 'a revoked token is nobody');
    assert.equal((await c.api('GET', '/api/v1/whoami?as=admin', undefined, admin.token)).status, 400, 'unknown parameters are errors');
  } finally {
    await c.close();
  }
});
