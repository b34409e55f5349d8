/**
 * The web console in headless Chromium against a real Central (SQLite) fed by real engine
 * runs: sign-in and its failures, a pushed image scan followed from the dashboard to a
 * vulnerability, an exception that changes a violation's state live (SSE), and axe-core on
 * every page.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { cacheHas, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-console-'));
const NO_CENTRAL_ENV = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
const cli = (args: string[]) => runCli(args, { env: NO_CENTRAL_ENV, timeoutMs: 180_000 });
const debian = `oci:${OCI_DIR}:debian`;
const imagesBuilt = cacheHas('oci', 'index.json');
/** Page expressions as strings: the tests' tsconfig has no DOM types. */
const TOKEN_IN_SESSION = "sessionStorage.getItem('gatehouse.token')";

/** The main navigation's link to a page. */
const navLink = (p: Page, name: string) => p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

/** A vulnerability DB with one fixable CVE in a source package of the Debian test image. */
async function debianDb(): Promise<{ path: string; cve: string; fixed: string; pkg: string }> {
  const img = await openImage(debian);
  let inv;
  try { inv = await inventoryImage(img); } finally { await img.close(); }
  const deb = inv.packages.find((p) => p.ecosystem === 'Debian')!;
  const src = deb.source?.name ?? deb.name;
  const fixed = `${deb.source?.version ?? deb.version}+gh1`;
  const cve = 'CVE-2099-7117';
  writeFileSync(join(work, 'tracker.json'), JSON.stringify({ [src]: { [cve]: { releases: { [inv.os?.codename ?? 'bookworm']: { status: 'resolved', fixed_version: fixed, urgency: 'high' } } } } }));
  const path = join(work, 'vuln.db');
  const db = VulnDb.open(path, { create: true });
  await importPath(db, join(work, 'tracker.json'));
  db.close();
  return { path, cve, fixed, pkg: deb.name };
}

/** A workload that breaks the built-in deploy policies (privileged, host network). */
const PRIVILEGED = `apiVersion: apps/v1
kind: Deployment
metadata: { name: payments, namespace: shop }
spec:
  selector: { matchLabels: { app: payments } }
  template:
    metadata: { labels: { app: payments } }
    spec:
      hostNetwork: true
      containers:
        - name: app
          image: registry.example/shop/payments@sha256:${'a'.repeat(64)}
          securityContext: { privileged: true }
`;

describe('web console', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    page = await context.newPage();
  });
  after(async () => {
    await browser?.close();
    await central?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('the console is served at / with path routes; its files need no token, the API still does', async () => {
    for (const path of ['/', '/deployments', '/images/sha256:abc', '/login']) {
      const res = await fetch(central.url + path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
      assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      assert.match(await res.text(), /<div id="root">/);
    }
    assert.equal((await fetch(`${central.url}/api/v1/deployments`)).status, 401);
    const unknown = await fetch(`${central.url}/api/v1/no-such-route`);
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json() as { error: string }).error, 'not-found');
    assert.equal((await fetch(`${central.url}/assets/missing.js`)).status, 404);
  });

  test('a bad token gets a clear error; a good one signs in and stays in sessionStorage only', async () => {
    await page.goto(`${central.url}/deployments`);
    await page.waitForURL(/\/login$/);
    await page.getByLabel('API token').fill('ghs_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /That token was refused: invalid API token \(unknown token\)/);
    await shot(page, 'login-bad-token');

    await page.getByLabel('API token').fill(central.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // Back where the user was going, and the token is in no URL.
    await page.getByRole('heading', { name: 'Deployments', level: 1 }).waitFor();
    assert.match(page.url(), /\/deployments$/);
    assert.ok(!page.url().includes(central.adminToken));
    assert.equal(await page.evaluate(TOKEN_IN_SESSION), central.adminToken);
    assert.equal(await page.evaluate('localStorage.length'), 0);
    assert.deepEqual(await context.cookies(), []);
  });

  test('an expired token sends the user back to /login with a message', async () => {
    const p = await context.newPage();
    try {
      // Long enough to sign in on a busy machine, then waited out.
      const expiresAt = Date.now() + 6000;
      const short = await central.token('analyst', { expiresAt: new Date(expiresAt).toISOString() });
      await signIn(p, central.url, short);
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 300));
      await navLink(p, 'Images').click();
      await p.waitForURL(/\/login$/);
      assert.match(await p.getByRole('status').first().innerText(), /Your session ended: invalid API token \(token expired\)/);
      assert.equal(await p.evaluate(TOKEN_IN_SESSION), null);
    } finally {
      await p.close();
    }
  });

  test('Central unreachable shows a banner, which goes when it answers again', async () => {
    const p = await context.newPage();
    try {
      await signIn(p, central.url, central.adminToken);
      await p.route('**/api/v1/**', (route) => route.abort('connectionrefused'));
      await p.route('**/healthz', (route) => route.abort('connectionrefused'));
      await navLink(p, 'Violations').click();
      const banner = p.getByText('Central cannot be reached.');
      await banner.waitFor();
      await shot(p, 'unreachable');
      assert.equal(await p.locator('.table-status').innerText(), 'Not loaded');
      await p.unrouteAll();
      await banner.waitFor({ state: 'detached', timeout: 15_000 });
      // The table that failed loads by itself once Central answers.
      await p.locator('.table-status').getByText('in all').waitFor();
    } finally {
      await p.close();
    }
  });

  test('a pushed image scan is followed from the dashboard to the image and a vulnerability', { skip: missing(imagesBuilt, 'test images not built (.ci/setup.d/40-test-images.sh)') }, async () => {
    const db = await debianDb();
    const ci = await central.token('ci');
    const r = await cli(['image', 'scan', debian, '--db', db.path, '--scanners', 'vuln,hygiene', '--server', central.url, '--token', ci]);
    assert.equal(r.code, 0, r.stderr);
    const digest = /pushed image (sha256:[0-9a-f]{64})/.exec(r.stderr)?.[1];
    assert.ok(digest, r.stderr);

    await navLink(page, 'Dashboard').click();
    const recent = page.getByRole('region', { name: 'Recently scanned images' });
    await recent.getByRole('link').first().waitFor();
    assert.equal(await page.getByTestId('images-scanned').innerText(), '1');
    // The one HIGH vulnerability of the DB is counted in the image's row.
    assert.deepEqual((await recent.getByRole('row').nth(1).getByRole('cell').allInnerTexts()).slice(1, 3), ['0', '1']);
    await shot(page, 'dashboard');
    await recent.getByRole('link').first().click();
    await page.waitForURL(`**/images/${digest}`);
    await page.getByRole('heading', { name: 'Vulnerabilities by layer' }).waitFor();
    assert.match(await page.getByText(digest, { exact: true }).innerText(), /sha256:/);
    const component = page.getByRole('region', { name: 'Components' });
    assert.ok((await component.getByRole('row').count()) > 10, 'the SBOM components are listed');

    await page.getByRole('link', { name: db.cve }).first().click();
    await page.waitForURL(/\?vuln=CVE-2099-7117$/);
    const detail = page.getByRole('region', { name: new RegExp(db.cve) });
    await detail.waitFor();
    assert.equal(await page.getByTestId('fixed-version').innerText(), db.fixed);
    assert.match(await detail.innerText(), new RegExp(db.pkg.replace(/[.+]/g, '\\$&')));
    await shot(page, 'image-vulnerability');
  });

  test('an exception created from /violations changes the violation to excepted without a reload', async () => {
    const manifest = join(work, 'payments.yaml');
    writeFileSync(manifest, PRIVILEGED);
    const ci = await central.token('ci');
    const r = await cli(['k8s', 'check', manifest, '--server', central.url, '--token', ci]);
    assert.equal(r.code, 0, r.stderr);
    const active = await central.api('GET', '/api/v1/violations?state=active&subjectKind=k8s-check&limit=500');
    const target = active.body.items.find((v: { finding: { resource: { k8s?: { name: string } } } }) => v.finding.resource.k8s?.name === 'payments');
    assert.ok(target, `k8s check opened a violation on payments: ${JSON.stringify(active.body.items.map((v: { title: string }) => v.title))}`);

    await navLink(page, 'Violations').click();
    await page.getByRole('heading', { name: 'Violations', level: 1 }).waitFor();
    // A marker on the window proves the page is never reloaded.
    await page.evaluate('window.marker = 42');
    const row = page.getByRole('row').filter({ hasText: target.title }).first();
    await row.waitFor();
    assert.equal(await row.locator('[data-state]').innerText(), 'active');
    await row.getByRole('button', { name: /^Except:/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an exception' });
    await dialog.waitFor();
    // Owner, reason and expiry are asked for: an empty form is not sent.
    await dialog.getByRole('button', { name: 'Create exception' }).click();
    assert.equal(await dialog.isVisible(), true);
    await dialog.getByLabel('Owner').fill('team-payments');
    await dialog.getByLabel('Reason').fill('host network needed by the legacy card terminal bridge until Q1');
    await shot(page, 'exception-dialog');
    await dialog.getByRole('button', { name: 'Create exception' }).click();
    await dialog.waitFor({ state: 'detached' });

    await row.locator('[data-state="excepted"]').waitFor({ timeout: 10_000 });
    assert.equal(await page.evaluate('window.marker'), 42, 'no reload');
    const stored = await central.api('GET', `/api/v1/violations/${target.id}`);
    assert.equal(stored.body.state, 'excepted');
    const exceptions = await central.api('GET', '/api/v1/exceptions');
    const created = exceptions.body.items.find((e: { owner: string }) => e.owner === 'team-payments');
    assert.ok(created, 'the exception is stored');
    assert.equal(created.policy, target.policyId);
    assert.equal(created.workload, 'payments');
    assert.equal(created.namespace, 'shop');
    await shot(page, 'violations-excepted');
  });

  test('/settings: an admin adds and removes a host, and creates a token shown once that works until revoked', async () => {
    await navLink(page, 'Settings').click();
    const hosts = page.getByRole('region', { name: 'Hosts' });
    await hosts.getByText('Add a host').click();
    await hosts.getByLabel('Name').fill('lab-ui');
    await hosts.getByLabel('Engine endpoint').fill('http://not-an-engine');
    await hosts.getByRole('button', { name: 'Add host' }).click();
    assert.match(await hosts.getByRole('alert').innerText(), /endpoint/);
    await hosts.getByLabel('Engine endpoint').fill('unix:///run/podman/podman.sock');
    await hosts.getByRole('button', { name: 'Add host' }).click();
    await hosts.getByRole('row').filter({ hasText: 'lab-ui' }).waitFor();
    assert.deepEqual((await central.api('GET', '/api/v1/hosts')).body.items.map((h: { name: string }) => h.name), ['lab-ui']);
    page.once('dialog', (d) => void d.accept());
    await hosts.getByRole('button', { name: 'Remove host lab-ui' }).click();
    await hosts.getByRole('row').filter({ hasText: 'lab-ui' }).waitFor({ state: 'detached' });
    assert.deepEqual((await central.api('GET', '/api/v1/hosts')).body.items, []);

    const tokens = page.getByRole('region', { name: 'API tokens' });
    await tokens.getByLabel('Name').fill('ui-analyst');
    await tokens.getByRole('button', { name: 'Create token' }).click();
    const value = await tokens.locator('.secret-once').innerText();
    assert.equal((await central.api('GET', '/api/v1/images', undefined, value)).status, 200, 'the shown token works');
    await shot(page, 'settings-token-created');
    await tokens.getByRole('button', { name: 'Done' }).click();
    assert.equal(await tokens.locator('.secret-once').count(), 0, 'the value is gone from the page');
    page.once('dialog', (d) => void d.accept());
    await tokens.getByRole('button', { name: 'Revoke token ui-analyst' }).click();
    await tokens.getByRole('row').filter({ hasText: 'ui-analyst' }).locator('[data-state="revoked"]').waitFor();
    assert.equal((await central.api('GET', '/api/v1/images', undefined, value)).status, 401, 'revoked');
  });

  test('the console works by keyboard: sign in, skip to content, move between pages, open and close a dialog', async () => {
    const p = await context.newPage();
    const active = () => p.evaluate<string>("(document.activeElement?.id || '') + '|' + (document.activeElement?.textContent ?? '').trim().slice(0, 40)");
    const tabTo = async (text: string) => {
      for (let i = 0; i < 40; i++) {
        await p.keyboard.press('Tab');
        if ((await active()).split('|')[1] === text) return;
      }
      assert.fail(`Tab never reached "${text}"`);
    };
    try {
      await p.goto(`${central.url}/login`);
      assert.equal((await active()).split('|')[0], 'token', 'the token field has focus');
      await p.keyboard.type(central.adminToken);
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
      await p.keyboard.press('Tab');
      assert.equal((await active()).split('|')[1], 'Skip to content');
      await p.keyboard.press('Enter');
      assert.equal((await active()).split('|')[0], 'main');
      await p.keyboard.press('Shift+Tab');
      await tabTo('Violations');
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { name: 'Violations', level: 1 }).waitFor();
      await p.getByRole('button', { name: /^Except:/ }).first().waitFor();
      await tabTo('Except');
      await p.keyboard.press('Enter');
      const dialog = p.getByRole('dialog', { name: 'Create an exception' });
      await dialog.waitFor();
      assert.equal((await active()).split('|')[0], 'exc-owner', 'focus moves into the dialog');
      await p.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
    } finally {
      await p.close();
    }
  });

  test('the dashboard draws 30 days of open violations, the same numbers as the trends API, also as a table', async () => {
    await navLink(page, 'Dashboard').click();
    const card = page.getByRole('region', { name: 'Open violations, last 30 days' });
    await card.locator('canvas').first().waitFor();
    const api = (await central.api('GET', '/api/v1/summary/trends?days=30')).body.points as { date: string; open: { total: number; bySeverity: Record<string, number> }; alerts: number; incidents: number }[];
    assert.equal(api.length, 30);
    await card.getByText('Show as a table').click();
    const rows = card.getByTestId('trends-table').getByRole('row');
    assert.equal(await rows.count(), 31, 'a header and a row a day');
    const cells = async (i: number) => [await rows.nth(i).getByRole('rowheader').innerText(), ...(await rows.nth(i).getByRole('cell').allInnerTexts())];
    for (const i of [0, 15, 29]) {
      const p = api[i]!;
      assert.deepEqual(await cells(i + 1), [p.date, ...['CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'UNKNOWN'].map((s) => String(p.open.bySeverity[s] ?? 0)), String(p.open.total), String(p.alerts), String(p.incidents)]);
    }
    assert.ok(api[29]!.open.total > 0, 'the earlier tests left open violations today');
    assert.match(await card.getByRole('img').getAttribute('aria-label') ?? '', new RegExp(`today ${api[29]!.open.total}$`));
    await shot(page, 'dashboard-trends');
  });

  test('axe-core finds no serious or critical violation on any page, in light and dark', async () => {
    const image = (await central.api('GET', '/api/v1/images')).body.items[0]?.digest as string | undefined;
    const deployment = (await central.api('GET', '/api/v1/deployments')).body.items[0]?.id as string | undefined;
    const pages = ['/login', '/', '/deployments', '/images', '/violations', '/incidents', '/network', '/compliance', '/registries', '/policies', '/settings', ...(image ? [`/images/${image}`] : []), ...(deployment ? [`/deployments/${encodeURIComponent(deployment)}`] : [])];
    const p = await context.newPage();
    try {
      const problems: string[] = [];
      for (const scheme of ['light', 'dark'] as const) {
        await p.emulateMedia({ colorScheme: scheme });
        for (const path of pages) {
          if (path === '/login') await p.evaluate('sessionStorage.clear()').catch(() => undefined);
          else if (!(await p.evaluate(TOKEN_IN_SESSION).catch(() => null))) await signIn(p, central.url, central.adminToken);
          await p.goto(central.url + path);
          await p.locator('h1').first().waitFor();
          await p.waitForLoadState('networkidle');
          for (const v of await axeSerious(p)) problems.push(`${scheme} ${path}: ${v.impact} ${v.id} (${v.help}) at ${v.nodes.map((n) => n.target.join(' ')).join('; ')}`);
          await shot(p, `${scheme}${path.replace(/[/:]/g, '_') || '_root'}`);
        }
      }
      assert.deepEqual(problems, []);
    } finally {
      await p.close();
    }
  });
});
