/**
 * /deployments and /deployments/:id in headless Chromium, fed by Central's live inventory of
 * the real podman host: a privileged container is ranked with its factors, filtered by host,
 * opened, and a runtime alert pushed by a sensor appears on its page without a reload.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startLiveInventory } from '../../src/central/live/job.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { hasCommand, missing, podmanSocket } from '../helpers/components.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';

const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];
const NAME = `gh-console-${randomBytes(4).toString('hex')}`;
const HOST = `console-${randomBytes(3).toString('hex')}`;
const podmanPresent = existsSync(podmanSocket) && hasCommand('podman') && spawnSync('podman', ['image', 'exists', IMAGE]).status === 0;

function podman(...args: string[]): string {
  const r = spawnSync('podman', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

describe('console: deployments of a live host', { skip: chromiumSkip() || missing(podmanPresent, `podman, its socket ${podmanSocket} and the image ${IMAGE} (bash .ci/setup)`) }, () => {
  let central: TestCentral;
  let live: ReturnType<typeof startLiveInventory>;
  let browser: Browser;
  let page: Page;

  before(async () => {
    ensureConsoleBuilt();
    podman('run', '-d', ...RUN_FLAGS, '--name', NAME, '--privileged', '-v', '/:/host:ro', IMAGE, 'sleep', '600');
    central = await startTestCentral();
    live = startLiveInventory(central.ctx, { info: () => undefined, warn: (o) => console.error(JSON.stringify(o)) }, { debounceMs: 50 });
    assert.equal((await central.api('POST', '/api/v1/hosts', { name: HOST, endpoint: `unix://${podmanSocket}` })).status, 201);
    await live.sync();
    await live.evaluator.settle();
    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1360, height: 900 } })).newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    spawnSync('podman', ['rm', '-f', '-t', '0', NAME]);
    await browser?.close();
    await live?.stop();
    await central?.close();
  });

  test('the privileged container is ranked by risk with its factors, filtered by its host, and opened', async () => {
    const expected = (await central.api('GET', '/api/v1/deployments?limit=1000')).body.items.find((d: { name: string }) => d.name === NAME);
    assert.ok(expected, 'Central lists the container');
    await page.goto(`${central.url}/deployments`);
    const table = page.getByRole('region', { name: 'Deployments ranked by risk' });
    await page.getByLabel('Cluster').fill(HOST);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(new RegExp(`\\?cluster=${HOST}$`));
    const row = table.getByRole('row').filter({ hasText: NAME });
    await row.waitFor();
    assert.equal(await row.getByRole('cell').first().innerText(), expected.riskScore.toFixed(1));
    // Each factor's share is named on the bar.
    const bar = await row.getByRole('img').getAttribute('aria-label');
    const top = expected.riskFactors[0];
    assert.match(bar ?? '', new RegExp(`${top.name} ${Math.round(top.contribution * 100)}%`));
    await shot(page, 'deployments-host');

    await row.getByRole('link', { name: new RegExp(NAME) }).click();
    await page.getByRole('heading', { name: `Container/${NAME}`, level: 1 }).waitFor();
    const factors = page.getByRole('region', { name: 'Risk factors' });
    assert.match(await factors.innerText(), /privileged/i);
    assert.match(await page.getByRole('region', { name: 'Images' }).innerText(), new RegExp(IMAGE.split('/')[1]!.split(':')[0]!));
    assert.deepEqual(await axeSerious(page), []);
  });

  test('a runtime alert on the container shows on its page without a reload', async () => {
    await page.evaluate('window.marker = 7');
    const sensor = await central.token('sensor');
    const alert = { id: `a-${NAME}`, type: 'alert', time: new Date().toISOString(), finding: { id: 'Terminal shell in container', kind: 'runtime', severity: 'CRITICAL', title: 'Terminal shell in container', resource: { container: { id: 'x', name: NAME } } } };
    assert.equal((await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host: HOST }, events: [alert] }, sensor)).status, 200);
    const alerts = page.getByRole('region', { name: 'Runtime alerts' });
    await alerts.getByText('Terminal shell in container').waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate('window.marker'), 7, 'no reload');
    await shot(page, 'deployment-alert');
  });
});
