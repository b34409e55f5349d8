/** `GET /api/v1/whoami`: each token is told its own role, name, id and expiry; /settings shows it. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { createToken } from '../../src/central/store/tokens.js';
import { startTestCentral, storeTest, type TestCentral } from '../helpers/central.js';
import { chromiumSkip, ensureConsoleBuilt, launchBrowser, signIn } from './browser.js';

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

    // Roles without 'read' (ci, sensor, admission) may still ask what they are, and only that.
    for (const role of ['ci', 'sensor', 'admission'] as const) {
      const made = await createToken(c.db(), { name: `${role}-bot`, role });
      const r = await c.api('GET', '/api/v1/whoami', undefined, made.token);
      assert.equal(r.status, 200, `${role}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, { role, name: `${role}-bot`, id: made.info.id });
      assert.equal((await c.api('GET', '/api/v1/deployments', undefined, made.token)).status, 403, `${role} still reads nothing else`);
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

describe('console: /settings names the session\'s token', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test('an analyst with an expiry and an admin without one each see their own token', async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    const analyst = await createToken(central.db(), { name: 'night-shift', role: 'analyst', expiresAt });
    for (const [token, name, role, expiry] of [[analyst.token, 'night-shift', 'analyst', expiresAt], [central.adminToken, 'test-admin', 'admin', undefined]] as const) {
      const page = await (await browser.newContext()).newPage();
      await signIn(page, central.url, token);
      await page.goto(`${central.url}/settings`);
      const line = page.getByTestId('whoami');
      await line.waitFor();
      assert.match(await line.innerText(), new RegExp(`token ${name} \\(role ${role}\\), which ${expiry ? 'expires' : 'does not expire'}`));
      if (expiry) assert.equal(await line.locator('time').getAttribute('datetime'), expiry);
      await page.context().close();
    }
  });
});
