/**
 * /incidents, /incidents/:id and the dashboard's newest incidents in headless Chromium
 * against a real Central (SQLite). The incidents come from Central's real ingest path and
 * correlator: the exec audit event through the audit webhook route, alerts as the sensor
 * pushes them (`alertEvent`, one batch per host), a flow linking the two workloads, two
 * unrelated alerts, and an admission denial as the admission webhook ships it
 * (`admissionEvent`). Each page is checked against the API's answer, screenshotted and run
 * through axe-core.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { alertEvent } from '../../src/cli/central-push.js';
import { admissionEvent } from '../../src/cli/commands/admission.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { FalcoAlert, Incident } from '../../src/runtime/incidents/index.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { StoreAuditSink } from '../../src/central/store/response-actions.js';
import { dbProcessAlert, DB_WORKLOAD, execAudit, flow, shellAlert, unrelatedA, unrelatedB, WEB_WORKLOAD } from '../incidents/scenario.js';
import { readableTitle } from '../../web/src/api/names.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Polls `expression` in the page until it is true (page.waitForFunction compiles strings in the page, which the console's CSP forbids). */
async function until(page: Page, expression: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('console: incidents', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let sensor: string;
  let main: Incident;
  let denial: Incident;
  const t = Date.now() - 60_000;
  const iso = (s: number) => new Date(t + s * 1000).toISOString();

  const pushAlerts = async (host: string, alerts: FalcoAlert[]) => {
    const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host }, events: alerts.map((a) => alertEvent('sensor', a as Alert)) }, sensor);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.stored, alerts.length);
  };
  const incidents = async (q = ''): Promise<Incident[]> => {
    const res = await central.api('GET', `/api/v1/incidents${q}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.items;
  };

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    sensor = await central.token('sensor');
    const audit = await central.api('POST', '/api/v1/ingest/audit?cluster=default', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [execAudit(iso(0))] }, sensor);
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    await pushAlerts('node-a', [shellAlert(iso(1)), unrelatedA(iso(3))]);
    const flows = await central.api('POST', '/api/v1/ingest/flows', { flows: [{ id: 'flow-1', ...flow(iso(5)) }] }, sensor);
    assert.equal(flows.status, 200, JSON.stringify(flows.body));
    await pushAlerts('node-b', [unrelatedB(iso(6)), dbProcessAlert(iso(8))]);
    const admission = await central.token('admission');
    const deny = admissionEvent({
      time: iso(10), endpoint: 'validate', uid: 'u-1', operation: 'CREATE', resource: 'pods', kind: 'Pod', namespace: 'shop', name: 'evil', user: 'mallory', groups: ['system:authenticated'],
      dryRun: false, allowed: false, decision: 'deny', message: 'no-privileged: privileged containers are not allowed', warnings: [], policies: ['no-privileged'], findings: [], failClosed: false, durationMs: 2,
    }, 'admission:test:1');
    assert.ok(deny);
    const d = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'admission', cluster: 'default' }, events: [deny] }, admission);
    assert.equal(d.status, 200, JSON.stringify(d.body));

    main = await waitFor('the correlated incident with its exec', async () => {
      const found = (await incidents()).find((i) => i.workloads.includes(DB_WORKLOAD));
      return found?.timeline.some((e) => e.layer === 'api') ? found : undefined;
    });
    denial = (await incidents()).find((i) => i.timeline.some((e) => e.kind === 'denial'))!;
    assert.ok(denial, 'the denial is an incident');
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test('the dashboard shows the newest incidents and links to them', async () => {
    const newest = page.getByRole('region', { name: 'Newest incidents' });
    const api = await incidents('?limit=6');
    const links = newest.getByRole('link').filter({ hasNotText: 'All incidents' });
    await links.first().waitFor();
    assert.deepEqual(await links.allInnerTexts(), api.map((i) => readableTitle(i.title)));
    await newest.getByRole('link', { name: readableTitle(main.title) }).click();
    await page.getByRole('heading', { name: readableTitle(main.title), level: 1 }).waitFor();
    assert.match(page.url(), new RegExp(`/incidents/${main.id}$`));
  });

  test('/incidents lists every incident as the API does, filters by severity in the URL', async () => {
    const all = await incidents();
    assert.equal(all.length, 4, all.map((i) => i.title).join('\n'));
    await page.goto(`${central.url}/incidents`);
    const table = page.getByRole('region', { name: 'Incidents' });
    await table.getByRole('link', { name: readableTitle(main.title) }).waitFor();
    const rows = table.getByRole('row').filter({ has: page.getByRole('link') });
    assert.equal(await rows.count(), all.length);
    const row = rows.filter({ has: page.getByRole('link', { name: readableTitle(main.title) }) });
    const text = await row.innerText();
    assert.match(text, /HIGH/);
    assert.match(text, /open/);
    for (const tactic of main.tactics.slice(0, 3)) assert.match(text, new RegExp(tactic.name));
    assert.match(text, /node-a, node-b/);
    assert.match(text, /shop\/Deployment\/web/);
    await shot(page, 'incidents-list');
    assert.deepEqual(await axeSerious(page), []);

    await page.getByLabel('Severity').selectOption('HIGH');
    await page.waitForURL(/\?severity=HIGH$/);
    const high = await incidents('?severity=HIGH');
    await table.getByRole('link', { name: readableTitle(main.title) }).waitFor();
    await until(page, `document.querySelectorAll('[aria-label="Incidents"] tbody tr a').length === ${high.length}`);
    assert.deepEqual(await table.getByRole('row').getByRole('link').allInnerTexts(), high.map((i) => readableTitle(i.title)));
  });

  test('/incidents filters by host, workload and ATT&CK tactic, kept in the URL (a shared link opens the same view)', async () => {
    const table = page.getByRole('region', { name: 'Incidents' });
    /** The page's rows are the API's answer to the same filters, in its order. */
    const showsApi = async (q: string) => {
      const api = await incidents(q);
      assert.ok(api.length > 0, `${q} matches something`);
      await until(page, `document.querySelectorAll('[aria-label="Incidents"] tbody tr a').length === ${api.length}`);
      await table.getByRole('link', { name: readableTitle(api[0]!.title) }).waitFor();
      assert.deepEqual(await table.getByRole('row').getByRole('link').allInnerTexts(), api.map((i) => readableTitle(i.title)), q);
      return api;
    };
    const all = await incidents();
    await page.goto(`${central.url}/incidents?host=node-b`);
    assert.equal(await page.getByLabel('Host').inputValue(), 'node-b', 'the shared link fills the form');
    const onB = await showsApi('?host=node-b');
    assert.ok(onB.length < all.length && onB.every((i) => i.hosts.includes('node-b')));

    await page.getByLabel('ATT&CK tactic').selectOption('Execution');
    await page.waitForURL((u) => u.searchParams.get('host') === 'node-b' && u.searchParams.get('tactic') === 'Execution');
    const both = await showsApi('?host=node-b&tactic=Execution');
    assert.ok(both.length < onB.length, 'the exporter incident (Command and Control) is left out');
    await shot(page, 'incidents-filtered');
    assert.deepEqual(await axeSerious(page), []);

    await page.getByRole('button', { name: 'Clear' }).click();
    await page.waitForURL(/\/incidents$/);
    await page.getByLabel('Workload').fill(DB_WORKLOAD);
    await page.getByLabel('Workload').press('Enter');
    await page.waitForURL((u) => u.searchParams.get('workload') === DB_WORKLOAD);
    assert.deepEqual((await showsApi(`?workload=${encodeURIComponent(DB_WORKLOAD)}`)).map((i) => i.id), [main.id]);

    // From an incident, a host leads to that host's incidents, with the form showing the filter.
    await page.goto(`${central.url}/incidents/${main.id}`);
    await page.getByTestId('hosts').getByRole('link', { name: 'node-a' }).click();
    await page.waitForURL(/\/incidents\?host=node-a$/);
    assert.equal(await page.getByLabel('Host').inputValue(), 'node-a');
    assert.equal(await page.getByLabel('Workload').inputValue(), '', 'the earlier filter is gone from the form');
    await showsApi('?host=node-a');
  });

  test('/incidents/:id shows the timeline across hosts and layers, ATT&CK, hosts and workloads', async () => {
    await page.goto(`${central.url}/incidents/${main.id}`);
    await page.getByRole('heading', { name: readableTitle(main.title), level: 1 }).waitFor();
    const timeline = page.getByRole('list', { name: 'Correlated entries, oldest first' });
    const entries = timeline.getByRole('listitem');
    await entries.first().waitFor();
    assert.equal(await entries.count(), main.timeline.length);
    assert.deepEqual(await timeline.locator('li').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-layer')}/${e.getAttribute('data-kind')}`)),
      main.timeline.map((e) => `${e.layer}/${e.kind}`));
    assert.deepEqual(main.timeline.map((e) => e.layer), ['api', 'runtime', 'network', 'runtime']);
    for (const [i, e] of main.timeline.entries()) {
      const text = await entries.nth(i).innerText();
      assert.ok(text.includes(readableTitle(e.title)), `entry ${i}: ${e.title} in ${text}`);
      if (e.host) assert.ok(text.includes(`host ${e.host}`), `entry ${i} names host ${e.host}`);
    }
    const attack = page.getByRole('region', { name: 'MITRE ATT&CK' });
    assert.deepEqual(await attack.getByRole('list', { name: 'Tactics in kill-chain order' }).getByRole('link').allInnerTexts(), ['Execution', 'Lateral Movement']);
    assert.deepEqual(await attack.getByRole('table').getByRole('link').allInnerTexts(), ['T1059', 'T1210', 'T1609']);
    assert.equal(await page.getByTestId('stage').innerText(), 'Lateral Movement');
    assert.deepEqual(await page.getByTestId('hosts').getByRole('listitem').allInnerTexts(), ['node-a', 'node-b']);
    const workloads = page.getByTestId('workloads');
    assert.equal(await workloads.getByRole('link').count(), 2);
    assert.equal(await workloads.getByRole('link').first().getAttribute('title'), WEB_WORKLOAD);
    assert.match(await workloads.getByRole('link').first().getAttribute('href') ?? '', /\/deployments\?cluster=default&namespace=shop$/);
    // No response action and no evidence recorded for this one: said, not left blank.
    await page.getByTestId('no-response').waitFor();
    await page.getByTestId('no-evidence').waitFor();
    assert.equal(await page.getByRole('button', { name: /Download evidence/ }).count(), 0);
    await shot(page, 'incident-detail');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'incident-detail-dark');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('an admission refusal is listed as a response action', async () => {
    await page.goto(`${central.url}/incidents/${denial.id}`);
    await page.getByRole('heading', { name: readableTitle(denial.title), level: 1 }).waitFor();
    const actions = page.getByRole('region', { name: 'Response actions' });
    const row = actions.getByRole('row').filter({ hasText: 'Refused' });
    assert.equal(await row.count(), 1);
    const entry = denial.timeline.find((e) => e.kind === 'denial')!;
    assert.match(entry.title, /^admission denied: .*no-privileged/);
    assert.ok((await row.innerText()).includes(readableTitle(entry.title)));
    assert.match(await row.innerText(), /Admission/);
  });

  test('response actions Central took on the incident\'s alerts appear live, with their evidence to download', async () => {
    await page.goto(`${central.url}/incidents/${main.id}`);
    await page.getByRole('heading', { name: readableTitle(main.title), level: 1 }).waitFor();
    await page.getByTestId('no-actions').waitFor();
    // The audit sink Central's responder writes through, with a bundle in its evidence folder.
    const ref = main.timeline.find((e) => e.kind === 'alert')!.ref;
    const bundle = join(central.ctx.dataDir!, 'evidence', '2026-12-07T10-00-00-shop-web-1-delete-1');
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, 'manifest.json'), '{"schema":"gatehouse.dev/evidence/v1"}\n');
    writeFileSync(join(bundle, 'inspect.json'), '{"kind":"Pod"}\n');
    await new StoreAuditSink(central.ctx.db, 'prod', () => central.ctx.events.emit('response-actions')).append({
      time: iso(12), action: 'delete', target: { type: 'kube', kind: 'Pod', namespace: 'shop', name: 'web-1', cluster: 'prod' },
      trigger: { by: 'central', policies: ['respond-shell'], ref }, dryRun: false, outcome: 'done', detail: 'deleted pod shop/web-1', evidence: bundle, durationMs: 40,
    });
    const table = page.getByTestId('actions');
    await table.waitFor();
    const row = table.getByRole('row').filter({ hasText: 'pod shop/web-1' });
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /delete\s+pod shop\/web-1 in prod\s+done\s+respond-shell/);
    // The incident's evidence list is part of its record: a reload shows the bundle.
    await page.reload();
    const button = page.getByRole('button', { name: 'Download evidence 2026-12-07T10-00-00-shop-web-1-delete-1' });
    await button.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
    const saved = join(central.ctx.dataDir!, 'downloaded.tar.gz');
    await download.saveAs(saved);
    const list = spawnSync('tar', ['-tzf', saved], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(list.stdout.trim().split('\n').sort(), ['2026-12-07T10-00-00-shop-web-1-delete-1/inspect.json', '2026-12-07T10-00-00-shop-web-1-delete-1/manifest.json']);
    await shot(page, 'incident-detail-actions');
    assert.deepEqual(await axeSerious(page), []);
  });

  test('a new incident appears in the list without a reload', async () => {
    await page.goto(`${central.url}/incidents`);
    const table = page.getByRole('region', { name: 'Incidents' });
    await table.getByRole('link', { name: readableTitle(main.title) }).waitFor();
    await page.evaluate('window.marker = 11');
    const late = { ...unrelatedA(new Date().toISOString()), rule: 'Read sensitive file untrusted', tags: ['mitre_credential_access', 'T1555'] };
    late.output_fields = { ...late.output_fields, 'k8s.pod.name': 'billing-6d5f-zz9', 'container.id': 'b1111ng00000', 'container.name': 'billing', 'proc.pid': 5151 };
    await pushAlerts('node-c', [late]);
    await table.getByRole('link', { name: 'Read sensitive file untrusted' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate('window.marker'), 11, 'no reload');
    await shot(page, 'incidents-live');
  });
});
