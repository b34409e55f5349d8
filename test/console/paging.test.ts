/**
 * Big tables stay small in the DOM: /violations over 2,500 violations pages through the
 * API's cursor as the user scrolls, while only the visible rows (plus overscan) are rendered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

const COUNT = 2500;
const finding = (i: number) => ({
  id: 'privileged-container', kind: 'policy', severity: i % 7 === 0 ? 'CRITICAL' : 'HIGH', title: `Privileged container in web-${i}`,
  resource: { k8s: { kind: 'Deployment', namespace: `team-${i % 40}`, name: `web-${i}`, container: 'app' } },
  policy: { id: 'privileged-container', enforcement: 'deny-admission' },
});

describe('console: big tables', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  const apiPages: string[] = [];

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    const pushed = await central.api('POST', '/api/v1/ingest/findings', { source: 'k8s-check', target: 'fleet', findings: Array.from({ length: COUNT }, (_, i) => finding(i)) });
    assert.equal(pushed.status, 200, JSON.stringify(pushed.body));
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    page.on('request', (r) => { if (r.url().includes('/api/v1/violations?')) apiPages.push(r.url()); });
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test(`${COUNT} violations: scrolled to the end through the API cursor, never more than a screenful of rows in the DOM`, async () => {
    await page.goto(`${central.url}/violations?state=active`);
    const region = page.getByRole('region', { name: 'Violations' });
    const status = page.locator('.table-status');
    await status.getByText('more below').waitFor();
    let maxRows = 0;
    for (let i = 0; i < 200; i++) {
      maxRows = Math.max(maxRows, await region.locator('tbody tr:not([aria-hidden])').count());
      if ((await status.innerText()).includes('in all')) break;
      await region.evaluate((el: { scrollTop: number; scrollHeight: number }) => { el.scrollTop = el.scrollHeight; });
      await page.waitForTimeout(50);
    }
    assert.equal(await status.innerText(), `${COUNT.toLocaleString('en-US')} in all`);
    assert.ok(maxRows > 10 && maxRows < 80, `rows in the DOM stay near a screenful (max ${maxRows})`);
    const cursors = apiPages.filter((u) => u.includes('cursor='));
    assert.ok(cursors.length >= Math.ceil(COUNT / 200) - 1, `paged by cursor (${apiPages.length} requests)`);
    // Scrolled to the very end, the last row rendered is the last the API gave.
    await region.evaluate((el: { scrollTop: number; scrollHeight: number }) => { el.scrollTop = el.scrollHeight; });
    await page.waitForTimeout(100);
    const lastRow = region.locator('tbody tr:not([aria-hidden])').last();
    assert.equal(await lastRow.getAttribute('aria-rowindex'), String(COUNT + 1));
    await shot(page, 'violations-scrolled-to-end');
  });
});
