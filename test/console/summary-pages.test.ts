/**
 * The dashboard's exact counts (GET /api/v1/summary: sensors up, vulnerability DB age), the
 * SBOM downloads of /images/:digest, /registries and /policies (YAML, editor, dry run) in
 * headless Chromium against a real Central (SQLite) holding real data: the Debian test
 * image's SBOM pushed by `gatehouse image sbom --server`, two images pushed with creation
 * dates and signature states, a sensor's event batch, and a vulnerability DB imported by
 * the real importer ($GATEHOUSE_DB, the file Central's DB-watch job reads). Each page is
 * checked against the API's answers, screenshotted, and run through axe-core.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { VulnDb } from '../../src/vuln/db.js';
import { recordWatchRun, type WatchTag } from '../../src/central/store/registry-watches.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-console-summary-'));
const DAY = 86_400_000;
const skip = chromiumSkip() || missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)');

describe('console: dashboard summary, SBOM download, /registries, /policies', { skip }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let debianDigest: string;

  before(async () => {
    ensureConsoleBuilt();
    // A vulnerability DB from the real importer, where Central's DB-watch job looks.
    process.env.GATEHOUSE_DB = join(work, 'vuln.db');
    writeFileSync(join(work, 'tracker.json'), JSON.stringify({ openssl: { 'CVE-2099-7': { releases: { bookworm: { status: 'resolved', fixed_version: '3.0.99', urgency: 'high' } } } } }));
    const db = VulnDb.open(process.env.GATEHOUSE_DB, { create: true });
    await importPath(db, join(work, 'tracker.json'));
    db.close();

    central = await startTestCentral();
    const ci = await central.token('ci');
    const push = await runCli(['image', 'sbom', `oci:${OCI_DIR}:debian`, '--format', 'cyclonedx', '--output', join(work, 'debian.cdx.json'), '--server', central.url, '--token', ci], {
      env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined }, timeoutMs: 180_000,
    });
    assert.equal(push.code, 0, push.stderr);
    debianDigest = /pushed image (sha256:[0-9a-f]{64})/.exec(push.stderr)![1]!;
    const now = Date.now();
    const img = (d: string, ref: string, days: number, verified: boolean) => central.api('POST', '/api/v1/ingest/images', {
      image: { digest: `sha256:${d.repeat(64)}`, refs: [ref], created: new Date(now - days * DAY).toISOString() }, signature: { verified, ...(verified ? { signers: ['release-key'] } : {}) },
    }, ci);
    assert.equal((await img('a', 'registry.example/shop/cart:1.0', 400, false)).status, 200);
    assert.equal((await img('b', 'registry.example/shop/cart:2.0', 12, true)).status, 200);
    const sensor = await central.token('sensor');
    const ev = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host: 'edge-1' }, events: [{ id: 'e1', type: 'alert', time: new Date().toISOString(), finding: { id: 'Terminal shell', kind: 'runtime', severity: 'HIGH', title: 'A shell was spawned', resource: { container: { id: 'c1' } } } }] }, sensor);
    assert.equal(ev.status, 200);

    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true })).newPage();
    await signIn(page, central.url, await central.token('analyst'));
  });
  after(async () => {
    await browser?.close();
    await central?.close();
    delete process.env.GATEHOUSE_DB;
    rmSync(work, { recursive: true, force: true });
  });

  test('the dashboard shows the summary\'s exact counts, sensors up and the DB\'s age', async () => {
    const s = (await central.api('GET', '/api/v1/summary')).body;
    assert.equal(s.sensors.up, 1);
    assert.equal(s.vulnDb.present, true);
    await page.goto(`${central.url}/`);
    await page.getByTestId('db-age').waitFor();
    for (const sev of ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW']) assert.equal(await page.getByTestId(`severity-${sev}`).innerText(), String(s.violations.bySeverity[sev] ?? 0), sev);
    for (const stage of ['build', 'deploy', 'runtime']) assert.equal(await page.getByTestId(`stage-${stage}`).innerText(), String(s.violations.byStage[stage] ?? 0), stage);
    assert.ok(s.violations.bySeverity.MEDIUM >= 2, 'the two old images break the 180-day policy');
    assert.equal(await page.getByTestId('sensors-up').innerText(), '1');
    assert.equal(await page.getByTestId('images-scanned').innerText(), String(s.images.scanned));
    assert.match(await page.getByTestId('db-age').innerText(), /^(under a minute|\d+ min)$/, 'a DB imported just now is minutes old');
    assert.equal(await page.getByTestId('db-current').innerText(), String(s.vulnDb.imagesCurrent));
    await shot(page, 'dashboard-summary');
    assert.deepEqual(await axeSerious(page), []);
  });

  test('an image\'s SBOM downloads as CycloneDX and SPDX from /images/:digest', async () => {
    await page.goto(`${central.url}/images/${debianDigest}`);
    const detail = (await central.api('GET', `/api/v1/images/${debianDigest}`)).body;
    await page.getByRole('button', { name: 'Download SPDX' }).waitFor();
    const [spdx] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download SPDX' }).click()]);
    assert.match(spdx.suggestedFilename(), /\.spdx\.json$/);
    const doc = JSON.parse(readFileSync((await spdx.path())!, 'utf8'));
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    assert.equal(doc.packages[0].versionInfo, debianDigest);
    const [cdx] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CycloneDX' }).click()]);
    assert.match(cdx.suggestedFilename(), /\.cdx\.json$/);
    const bom = JSON.parse(readFileSync((await cdx.path())!, 'utf8'));
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(detail.components.length, bom.components.length, 'the page lists the components of the SBOM it downloads');
    await shot(page, 'image-sbom');
  });

  test('/registries: repositories and tags with age, signature and vulnerabilities; old tags flagged', async () => {
    await page.goto(`${central.url}/registries`);
    await page.getByTestId('tag-count').waitFor();
    const images = (await central.api('GET', '/api/v1/images')).body.items as { refs: string[]; created: string | null }[];
    const tags = images.flatMap((i) => i.refs.map(() => i));
    assert.equal(await page.getByTestId('tag-count').innerText(), String(tags.length));
    const old = tags.filter((i) => i.created && Date.now() - Date.parse(i.created) > 182 * DAY).length;
    assert.equal(old, 2, 'the Debian test image and cart:1.0 are older than six months');
    assert.equal(await page.getByTestId('old-count').innerText(), String(old));
    assert.equal(await page.getByTestId('old-flag').count(), old);
    const cart = page.getByRole('table', { name: 'Tags of registry.example/shop/cart' });
    assert.equal(await cart.locator('tbody tr').count(), 2);
    const v1 = cart.locator('tbody tr', { hasText: '1.0' });
    assert.match(await v1.innerText(), /older than 6 months/);
    assert.match(await v1.innerText(), /not verified/);
    assert.match(await cart.locator('tbody tr', { hasText: '2.0' }).innerText(), /verified \(release-key\)/);
    await shot(page, 'registries');
    assert.deepEqual(await axeSerious(page), []);
    await page.getByLabel(/Only tags with a problem/).check();
    await page.waitForURL(/flagged=1/);
    await cart.locator('tbody tr', { hasText: '2.0' }).waitFor({ state: 'detached' });
    assert.equal(await cart.locator('tbody tr').count(), 1, 'cart:2.0 is recent, signed and has no critical or high vulnerability');
  });

  test('/registries: a watched repository\'s audited tags, also those Central never had pushed', async () => {
    const added = await central.api('POST', '/api/v1/registry-watches', { repository: 'registry.example/shop/ledger' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    // The hygiene job's record of its audit (the job itself runs against the real registry in test/central/registry-hygiene.test.ts).
    const rows: WatchTag[] = [
      { repository: 'shop/ledger', tag: '0.9', digest: `sha256:${'c'.repeat(64)}`, created: new Date(Date.now() - 300 * DAY).toISOString(), ageDays: 300, signed: false, stale: true },
      { repository: 'shop/ledger', tag: '1.4', digest: `sha256:${'d'.repeat(64)}`, created: new Date(Date.now() - 3 * DAY).toISOString(), ageDays: 3, signed: true, stale: false, vulnerabilities: { CRITICAL: 1, HIGH: 2 } },
    ];
    await recordWatchRun(central.db(), added.body.id, { at: new Date().toISOString(), error: null, tags: rows.length, rows });
    await page.goto(`${central.url}/registries`);
    const show = page.getByRole('button', { name: 'Show tags' });
    await show.waitFor();
    await show.press('Enter');
    const table = page.getByRole('table', { name: 'Audited tags of registry.example/shop/ledger' });
    await table.waitFor();
    const api = (await central.api('GET', `/api/v1/registry-watches/${added.body.id}/tags`)).body.items as WatchTag[];
    assert.equal(await table.getByTestId('watch-tag-row').count(), api.length);
    const old = table.getByTestId('watch-tag-row').filter({ hasText: '0.9' });
    assert.match(await old.innerText(), /300 days · older than 6 months/);
    assert.match(await old.innerText(), /unsigned/);
    const recent = await table.getByTestId('watch-tag-row').filter({ hasText: '1.4' }).locator('td').allInnerTexts();
    assert.deepEqual(recent.slice(2), ['3 days', 'signed', '1', '2', '0', '0']);
    assert.equal(await page.getByRole('button', { name: 'Hide tags' }).getAttribute('aria-expanded'), 'true');
    await shot(page, 'registries-watch-tags');
    assert.deepEqual(await axeSerious(page), []);
  });

  test('/policies: list, YAML, a changed policy\'s dry run, and problems at file:line', async () => {
    const list = (await central.api('GET', '/api/v1/policies')).body.items as { id: string }[];
    await page.goto(`${central.url}/policies`);
    await page.getByTestId('policy-count').waitFor();
    assert.equal(await page.getByTestId('policy-row').count(), list.length);
    await page.getByRole('link', { name: 'image-older-than-180-days', exact: true }).click();
    await page.waitForURL(/id=image-older-than-180-days/);
    const yamlBox = page.getByTestId('policy-yaml');
    await yamlBox.filter({ hasText: 'kind: PolicyPack' }).waitFor();
    const yamlText = await yamlBox.innerText();
    assert.match(yamlText, /kind: PolicyPack/);
    assert.match(yamlText, /field: image\.ageDays/);
    await page.getByRole('button', { name: 'Edit a copy' }).click();
    const editor = page.getByLabel(/Policy pack YAML/);
    const changed = (await editor.inputValue()).replace(/value: 180\b/, 'value: 1000');
    assert.notEqual(changed, await editor.inputValue(), 'the YAML holds the 180-day threshold');
    await editor.fill(changed);
    await page.getByRole('button', { name: 'Validate and dry run' }).click();
    await page.getByTestId('dry-run').waitFor();
    const api = (await central.api('POST', '/api/v1/policies/dry-run', { yaml: changed, pack: 'custom', limit: 200 })).body;
    assert.equal(api.changes.resolved, 2, 'at 1000 days neither old image is in violation');
    assert.equal(await page.getByTestId('dry-run-resolved').innerText(), String(api.changes.resolved));
    assert.equal(await page.getByTestId('dry-run-total').innerText(), String(api.total));
    await shot(page, 'policies-dry-run');
    assert.deepEqual(await axeSerious(page), []);

    await editor.fill(changed.replace('severity: MEDIUM', 'severity: MEDIUM\n    colour: red'));
    await page.getByRole('button', { name: 'Validate and dry run' }).click();
    const problems = page.getByTestId('policy-problems');
    await problems.waitFor();
    assert.match(await problems.innerText(), /custom\.yaml:\d+: .*unknown policy key "colour"/);
    await shot(page, 'policies-problem');
    // Nothing was stored by the dry runs: the violations are as they were.
    assert.equal((await central.api('GET', '/api/v1/violations?policy=image-older-than-180-days&state=active')).body.items.length, 2);
  });

  test('the new pages in the dark theme: no serious axe violation', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      for (const [path, ready] of [['/', 'db-age'], ['/registries', 'tag-count'], ['/policies?id=image-older-than-180-days', 'policy-yaml']] as const) {
        await page.goto(`${central.url}${path}`);
        await page.getByTestId(ready).first().waitFor();
        assert.deepEqual(await axeSerious(page), [], path);
      }
      await shot(page, 'policies-dark');
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });
});
