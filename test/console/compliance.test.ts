/**
 * /compliance in headless Chromium, against a real Central watching a real kube-apiserver
 * (test/helpers/kube-cluster.ts) and holding the failed checks `gatehouse node check --server`
 * pushed: the page agrees with the API, filters by status, switches framework, and exports
 * CSV, the printable HTML report (printed to PDF here) and its own print layout.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startLiveInventory } from '../../src/central/live/job.js';
import { CSV_HEADER } from '../../src/compliance/index.js';
import { runCli } from '../helpers/cli.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { missing } from '../helpers/components.js';
import { createObjects, kubeBinariesPresent, startCluster, type TestCluster } from '../helpers/kube-cluster.js';
import { makeRoot } from '../node/fixture.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

const objects: Record<string, any>[] = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
  {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'cart', namespace: 'shop', labels: { app: 'cart' } },
    spec: {
      selector: { matchLabels: { app: 'cart' } },
      template: {
        metadata: { labels: { app: 'cart' } },
        spec: {
          hostNetwork: true,
          containers: [{ name: 'cart', image: 'registry.example/cart:3', securityContext: { privileged: true }, volumeMounts: [{ name: 'root', mountPath: '/host' }] }],
          volumes: [{ name: 'root', hostPath: { path: '/' } }],
        },
      },
    },
  },
];

const env = { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined };
const quiet = { info: () => undefined, warn: (o: object) => console.error('live:', JSON.stringify(o)) };
const skip = chromiumSkip() || missing(kubeBinariesPresent(), 'kube-apiserver and kine (built by .ci/setup.d/66-kube.sh)');

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console: /compliance', { skip }, () => {
  let cluster: TestCluster;
  let central: TestCentral;
  let live: ReturnType<typeof startLiveInventory>;
  let browser: Browser;
  let page: Page;
  let clusterId: string;
  const fx = makeRoot({ 'proc/sys/kernel/hostname': 'cp-9\n', flags: 'kube-apiserver --anonymous-auth=true --authorization-mode=AlwaysAllow\n' });

  before(async () => {
    ensureConsoleBuilt();
    cluster = await startCluster();
    await createObjects(cluster, objects);
    central = await startTestCentral();
    live = startLiveInventory(central.ctx, quiet, { debounceMs: 50 });
    const added = await central.api('POST', '/api/v1/clusters', { name: 'shop-prod', kubeconfig: readFileSync(cluster.kubeconfig, 'utf8') });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    clusterId = added.body.id;
    await live.sync();
    await until('cart in the store', async () => (await central.db().selectFrom('objects').select('name').where('source_id', '=', clusterId).where('name', '=', 'cart').execute()).length > 0);
    const push = await runCli(['node', 'check', '--root', fx.root, '--flags', '/flags', '--area', 'controlplane', '--server', central.url, '--token', await central.token('ci')], { env });
    assert.equal(push.code, 0, push.stderr);
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true })).newPage();
    await signIn(page, central.url, await central.token('analyst'));
  });
  after(async () => {
    await browser?.close();
    await live?.stop();
    await central?.close();
    await cluster?.stop();
    fx.cleanup();
  });

  test('the page shows what the API reports, filters by status and switches framework', async () => {
    const api = (await central.api('GET', `/api/v1/compliance/report?framework=cis-kubernetes&cluster=${clusterId}`)).body;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Compliance' }).click();
    await page.getByRole('heading', { name: /^Compliance: CIS Kubernetes/, level: 1 }).waitFor();
    const table = page.getByRole('region', { name: 'Controls' });
    await table.locator('tbody tr').first().waitFor();
    assert.equal(await table.locator('tbody tr').count(), api.controls.length);
    const bar = await page.getByRole('img', { name: /pass/ }).getAttribute('aria-label');
    assert.equal(bar, `${api.summary.fail} fail, ${api.summary.manual} manual, ${api.summary.pass} pass, ${api.summary['not-applicable']} not applicable`);
    assert.ok(api.summary.fail > 0);
    assert.match(await page.getByRole('list', { name: 'Inputs' }).innerText(), /cluster shop-prod[\s\S]*cp-9/);

    // hostPath of shop/cart: 5.2.12 fails, and its evidence names the deployment.
    const row = table.locator('tr[data-control="5.2.12"]');
    assert.equal(await row.getAttribute('data-status'), 'fail');
    await row.getByText('Minimize the admission of HostPath volumes').click();
    assert.match(await row.innerText(), /cart/);
    // The API server flags pushed by node check fail 1.2.1 (anonymous auth), naming the host.
    const anon = api.controls.find((c: { checks: { id: string }[] }) => c.checks.some((k) => k.id === 'controlplane.apiserver.anonymous-auth'));
    assert.equal(await table.locator(`tr[data-control="${anon.id}"]`).getAttribute('data-status'), 'fail');
    await shot(page, 'compliance-cis');
    assert.deepEqual(await axeSerious(page), []);

    await page.getByRole('list', { name: 'Filter by status' }).getByRole('button', { name: /^Fail/ }).click();
    await page.waitForURL(/status=fail/);
    assert.equal(await table.locator('tbody tr').count(), api.summary.fail);
    assert.equal(await table.locator('tbody tr:not([data-status="fail"])').count(), 0);

    await page.getByLabel('Framework').selectOption('nist-800-190');
    await page.getByRole('heading', { name: /^Compliance: NIST/, level: 1 }).waitFor();
    await table.locator('tr[data-control="4.3.2"]').waitFor();
    assert.equal(await table.locator('tr[data-control="4.3.2"]').getAttribute('data-status'), 'fail');
    assert.doesNotMatch(page.url(), /status=/, 'a new framework shows every status');
    // Dark theme: the status colours keep their contrast.
    await page.emulateMedia({ colorScheme: 'dark' });
    assert.deepEqual(await axeSerious(page), []);
    await shot(page, 'compliance-nist-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('CSV, the HTML report (printed to PDF) and the page\'s own print layout', async () => {
    await page.goto(`${central.url}/compliance?framework=cis-kubernetes&cluster=${clusterId}`);
    await page.getByRole('region', { name: 'Controls' }).locator('tbody tr').first().waitFor();
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    assert.match(csv.suggestedFilename(), /^gatehouse-compliance-cis-kubernetes-shop-prod-\d{4}-\d\d-\d\d\.csv$/);
    const lines = readFileSync((await csv.path())!, 'utf8').trim().split('\r\n');
    assert.equal(lines[0], CSV_HEADER.join(','));
    assert.ok(lines.some((l) => /5\.2\.12.*\bfail\b.*cart/.test(l)), 'the 5.2.12 row fails with its evidence');

    const [html] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /Download report/ }).click()]);
    assert.match(html.suggestedFilename(), /\.html$/);
    const text = readFileSync((await html.path())!, 'utf8');
    assert.match(text, /@media print/);
    const report = await browser.newPage();
    await report.setContent(text);
    const pdf = await report.pdf({ format: 'A4' });
    assert.equal(pdf.subarray(0, 5).toString(), '%PDF-');
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    assert.ok(pages >= 2, `the report prints on ${pages} page(s)`);
    await report.close();

    // Printing the page itself: navigation and controls are hidden, the table stays.
    await page.emulateMedia({ media: 'print' });
    assert.equal(await page.locator('header.topbar').isVisible(), false);
    assert.equal(await page.getByRole('button', { name: 'Download CSV' }).isVisible(), false);
    assert.equal(await page.locator('tr[data-control="5.2.12"]').isVisible(), true);
    await shot(page, 'compliance-print');
    await page.emulateMedia({ media: 'screen' });
  });
});
