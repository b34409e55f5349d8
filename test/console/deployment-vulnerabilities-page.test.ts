/**
 * The deployment page's "Vulnerabilities" card in headless Chromium against a real Central
 * (SQLite): rows equal `GET /api/v1/deployments/{id}/vulnerabilities` (all, by severity, fixable
 * only), the shared openssl CVE is one row naming both images, the filters are reachable by
 * keyboard and kept in the URL (also when two change in one task), and axe finds nothing serious in
 * light and dark.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';
import { twoImageDeployment } from './deployment-vulns-fixture.js';

interface Row { id: string; severity: string; package: string; version: string; fixedVersion?: string; images: string[] }

describe('console: a deployment\'s vulnerabilities', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let id: string;
  const api = async (q = ''): Promise<Row[]> => (await central.api('GET', `/api/v1/deployments/${encodeURIComponent(id)}/vulnerabilities${q}`)).body.items;
  const card = () => page.getByRole('region', { name: 'Vulnerabilities' });
  /** The table's rows as the API's fields: id, severity, package, installed, fixed, image digests. */
  const shown = async () => {
    await card().getByRole('status').waitFor({ state: 'detached' }).catch(() => undefined);
    return card().locator('tbody tr').evaluateAll((trs) => trs.map((tr) => {
      const td = [...tr.querySelectorAll('td')].map((c) => c.textContent ?? '');
      const images = [...tr.querySelectorAll('td:last-child a')].map((a) => a.getAttribute('title') ?? '');
      return [td[0], td[1], td[2], td[3], td[4], images.join(',')];
    }));
  };
  /** Waits until the table shows `n` rows (the console's CSP forbids page.waitForFunction's eval). */
  const rowCount = async (n: number) => {
    for (let i = 0; i < 200 && (await card().locator('tbody tr').count()) !== n; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await card().locator('tbody tr').count(), n);
  };
  const expected = (rows: Row[]) => rows.map((v) => [v.id, v.severity, v.package, v.version, v.fixedVersion ?? 'no fix', v.images.join(',')]);

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    id = await twoImageDeployment(central);
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test('rows equal the API, filtered by severity and fixable only, by keyboard', async () => {
    const all = await api();
    assert.equal(all.length, 4);
    await page.goto(`${central.url}/deployments/${encodeURIComponent(id)}`);
    await card().locator('tbody tr').first().waitFor();
    assert.deepEqual(await shown(), expected(all));
    const shared = card().locator('tr[data-id="CVE-2024-0001"]');
    assert.equal(await shared.getByRole('link').count(), 2, 'the shared CVE is one row linking both images');
    assert.match(await shared.innerText(), /registry\.example\/shop@.*registry\.example\/proxy@/s);
    await shot(page, 'deployment-vulnerabilities');
    assert.deepEqual(await axeSerious(page), []);

    // Keyboard: the severity select and the checkbox are reached and set without a mouse.
    await card().getByLabel('Severity').focus();
    await page.keyboard.press('ArrowDown'); // all → CRITICAL
    await page.waitForURL(/vulnSeverity=CRITICAL/);
    await card().locator('tbody tr').first().waitFor();
    await rowCount(1);
    assert.deepEqual(await shown(), expected(await api('?severity=CRITICAL')));
    await card().getByLabel('Severity').selectOption('');
    await page.keyboard.press('Tab');
    assert.equal(await page.locator(':focus').getAttribute('type'), 'checkbox');
    await page.keyboard.press('Space');
    await page.waitForURL(/fixable=true/);
    const fixable = await api('?fixable=true');
    assert.equal(fixable.length, 2);
    await rowCount(fixable.length);
    assert.deepEqual(await shown(), expected(fixable));

    // The filters are in the URL: a reload (a shared link) shows the same rows.
    await page.reload();
    await card().locator('tbody tr').first().waitFor();
    assert.ok(await card().getByLabel('Fixable only').isChecked());
    assert.deepEqual(await shown(), expected(fixable));
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'deployment-vulnerabilities-dark');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('two filters changed in one task both reach the URL (a render in between must not undo the first)', async () => {
    await page.goto(`${central.url}/deployments/${encodeURIComponent(id)}?fixable=true`);
    await card().locator('tbody tr').first().waitFor();
    // Both changes in one task: React Router renders the first navigation in a transition, so no
    // render can run between them; a filter built from the last render's params would drop HIGH.
    await card().locator('select').evaluate((element) => {
      // Runs in the page (the tests' tsconfig has no DOM types): the select, then the checkbox beside it.
      const select = element as unknown as { value: string; dispatchEvent(e: Event): boolean; closest(q: string): { querySelector(q: string): { click(): void } } };
      select.value = 'HIGH';
      select.dispatchEvent(new Event('change', { bubbles: true }));
      select.closest('[role="group"]').querySelector('input[type="checkbox"]').click();
    });
    await page.waitForURL((url) => url.searchParams.get('vulnSeverity') === 'HIGH' && !url.searchParams.has('fixable'), { timeout: 10_000 }).catch(() => undefined);
    const url = new URL(page.url());
    assert.deepEqual([url.searchParams.get('vulnSeverity'), url.searchParams.get('fixable')], ['HIGH', null], page.url());
    const high = await api('?severity=HIGH');
    await rowCount(high.length);
    assert.deepEqual(await shown(), expected(high));
  });

  test('a deployment whose images have no known vulnerability says so', async () => {
    await page.goto(`${central.url}/deployments/${encodeURIComponent(id)}?vulnSeverity=UNKNOWN`);
    assert.deepEqual(await api('?severity=UNKNOWN'), []);
    await card().getByText('No known vulnerability matches.').waitFor();
  });
});
