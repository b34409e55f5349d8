/**
 * The deployment page's behavioural baseline in headless Chromium against a real Central
 * (SQLite): the shop cluster written through Central's inventory path, and baselines pushed
 * as sensors push them (`POST /api/v1/ingest/baselines`, sensor token) from two hosts for two
 * containers of `cart` — `cart` still learning, `envoy` locked with deviations seen on both
 * hosts. Checked against the baselines API: state and time left, items per channel,
 * deviations (item, score, count, hosts); an admin locks, accepts, unlocks (after a confirm; a
 * dismissed confirm changes nothing) and the card follows without a reload; an analyst sees
 * no controls; a deployment without a baseline says so. axe in light and dark.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import type { BaselineDelta } from '../../src/runtime/baseline/merge.js';
import { channelName, duration } from '../../web/src/api/baseline-text.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';
import { CLUSTER, shopObjects } from './network-fixture.js';

const MS = 1_000_000n;
const ns = (ms: number) => String(BigInt(ms) * MS);
const identity = (container: string) => ({ id: `k8s:${CLUSTER}/shop/Deployment/cart/${container}`, kind: 'Deployment' as const, namespace: 'shop', name: 'cart', container, cluster: CLUSTER });

/** What a sensor learned for one container since its last push. */
function delta(container: string, start: number, over: Partial<BaselineDelta> = {}): BaselineDelta {
  return {
    workload: identity(container), epoch: 0, learnMs: 3_600_000, firstSeenNs: ns(start), lastSeenNs: ns(start + 60_000), events: 40, replicas: [`${container}-r1`], hist: [[20, 4]],
    items: [
      { ch: 'exec', keys: [`/usr/bin/${container} [--config FILE] parent=container-runtime user=app`, `/usr/bin/${container} parent=container-runtime`, `/usr/bin/${container}`, 'class=other'], n: 3 },
      { ch: 'net', keys: ['tcp out IP:5432 exe=/usr/bin/cart', 'tcp out IP:5432', 'tcp'], n: 30 },
      { ch: 'file', keys: ['open /etc/cart/config.yaml read', 'open /etc/cart/* read', 'open /etc read'], n: 7 },
    ],
    deviations: [], ...over,
  };
}

const curlKeys = ['/usr/bin/curl [-s URL(http)] parent=/bin/sh user=root', '/usr/bin/curl parent=/bin/sh', '/usr/bin/curl', 'class=network-tool'];
const shellKeys = ['/bin/sh [-c TEXT] parent=/usr/bin/envoy user=root', '/bin/sh parent=/usr/bin/envoy', '/bin/sh', 'class=shell'];
const deviation = (keys: string[], host: string, count: number, score: number, at: number) => ({
  item: `exec:${keys[0]}`, channel: 'exec' as const, keys, score, count, firstSeen: new Date(at).toISOString(), lastSeen: new Date(at + 30_000).toISOString(), containers: [`${host}-envoy`],
});

interface Summary { workload: string; container: string; state: string; learnUntil?: string; items: Record<string, number>; deviations: number; hosts: string[] }
interface Detail { deviations: { item: string; score: number; count: number; hosts: string[] }[]; items: Record<string, { item: string; count: number }[]> }

describe('console: deployment baseline', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let cart: string;
  let frontend: string;
  const list = async (): Promise<Summary[]> => (await central.api('GET', `/api/v1/baselines?deployment=${encodeURIComponent(cart)}`)).body.items;
  const detail = async (container: string): Promise<Detail> => (await central.api('GET', `/api/v1/baselines/${encodeURIComponent(identity(container).id)}`)).body;
  const card = (container: string) => page.locator(`article[data-workload="${identity(container).id}"]`);

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    const { ctx } = central;
    const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n';
    const source = (await createSource(ctx.db, { kind: 'cluster', name: CLUSTER, sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString()))!;
    const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
    const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
    for (const [kind, objects] of shopObjects(source.id)) await sink.replaceKind(source.id, kind, objects);
    await evaluator.settle();
    const deployments = (await central.api('GET', `/api/v1/deployments?cluster=${CLUSTER}&limit=100`)).body.items as { id: string; name: string }[];
    cart = deployments.find((d) => d.name === 'cart')!.id;
    frontend = deployments.find((d) => d.name === 'frontend')!.id;
    assert.ok(cart && frontend);

    // Two sensors learn cart's two containers; envoy is locked, then both hosts see deviations.
    const sensor = await central.token('sensor');
    const push = async (host: string, pushId: string, baselines: BaselineDelta[]) => {
      const r = await central.api('POST', '/api/v1/ingest/baselines', { host, pushId, baselines }, sensor);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const start = Date.now() - 10 * 60_000;
    await push('node-1', 'push-node-1-0001', [delta('cart', start), delta('envoy', start)]);
    await push('node-2', 'push-node-2-0001', [delta('cart', start + 60_000, { replicas: ['cart-r2'], events: 25 }), delta('envoy', start + 60_000, { replicas: ['envoy-r2'] })]);
    const lock = await central.api('POST', `/api/v1/baselines/${encodeURIComponent(identity('envoy').id)}/lock`);
    assert.equal(lock.status, 200, JSON.stringify(lock.body));
    const t = Date.now() - 60_000;
    await push('node-1', 'push-node-1-0002', [delta('envoy', start, { items: [], events: 2, deviations: [deviation(curlKeys, 'node-1', 2, 14, t), deviation(shellKeys, 'node-1', 1, 11.5, t)] })]);
    await push('node-2', 'push-node-2-0002', [delta('envoy', start, { items: [], events: 1, replicas: ['envoy-r2'], deviations: [deviation(curlKeys, 'node-2', 1, 12, t)] })]);

    browser = await launchBrowser();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test('per container: state and time left, items per channel, deviations — as the API says', async () => {
    const api = await list();
    assert.deepEqual(api.map((b) => [b.container, b.state]).sort(), [['cart', 'learning'], ['envoy', 'locked']]);
    await page.goto(`${central.url}/deployments/${encodeURIComponent(cart)}`);
    const section = page.getByRole('region', { name: 'Behavioural baseline' });
    await card('cart').waitFor();
    assert.equal(await section.locator('article').count(), api.length);

    const learning = api.find((b) => b.container === 'cart')!;
    const before = duration(Date.parse(learning.learnUntil!) - Date.now());
    const text = await card('cart').getByTestId('baseline-state').innerText();
    const afterRead = duration(Date.parse(learning.learnUntil!) - Date.now());
    assert.ok(text.includes(`${before} left`) || text.includes(`${afterRead} left`), `${text} (expected ${before} left)`);
    assert.match(await card('cart').innerText(), /observations from node-1, node-2/);
    for (const b of api) {
      const cells = await card(b.container).locator('td[data-channel]').evaluateAll((tds) => tds.map((td) => [td.getAttribute('data-channel'), td.textContent]));
      assert.deepEqual(Object.fromEntries(cells), Object.fromEntries(Object.entries(b.items).map(([k, v]) => [k, String(v)])), b.container);
      const heads = await card(b.container).locator('table.channel-counts th').allInnerTexts();
      assert.deepEqual(heads.map((h) => h.toLowerCase()), Object.keys(b.items).map((ch) => channelName(ch).toLowerCase()));
    }
    assert.match(await card('cart').innerText(), /Deviations are raised once it locks/);

    const envoy = await detail('envoy');
    assert.equal(envoy.deviations.length, 2);
    const rows = card('envoy').locator('table.deviations tbody tr');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-item'))), envoy.deviations.map((d) => d.item), 'highest score first, as the API orders them');
    for (const [i, d] of envoy.deviations.entries()) {
      const cells = await rows.nth(i).locator('td').allInnerTexts();
      assert.ok(cells[0]!.includes(d.item.slice('exec:'.length)), cells[0]);
      assert.equal(cells[1], d.score.toFixed(1));
      assert.equal(cells[2], String(d.count));
      assert.equal(cells[4], d.hosts.join(', '));
    }
    assert.deepEqual(envoy.deviations[0]!.hosts, ['node-1', 'node-2'], 'curl was seen on both hosts');
    assert.equal(envoy.deviations[0]!.count, 3);
    await shot(page, 'deployment-baseline');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'dark' });
    await shot(page, 'deployment-baseline-dark');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('an admin locks, accepts and unlocks after a confirm; the card follows without a reload', async () => {
    await page.goto(`${central.url}/deployments/${encodeURIComponent(cart)}`);
    await card('cart').getByRole('button', { name: 'Lock now' }).waitFor();
    await page.evaluate('window.marker = 7');

    // A dismissed confirm changes nothing.
    page.once('dialog', (d) => { assert.match(d.message(), /^Lock the baseline of k8s:shop-prod\/shop\/Deployment\/cart\/cart now\?/); void d.dismiss(); });
    await card('cart').getByRole('button', { name: 'Lock now' }).click();
    await card('cart').getByRole('button', { name: 'Lock now' }).waitFor();
    assert.equal((await list()).find((b) => b.container === 'cart')!.state, 'learning');

    page.once('dialog', (d) => void d.accept());
    await card('cart').getByRole('button', { name: 'Lock now' }).click();
    await card('cart').getByRole('button', { name: 'Unlock and learn again' }).waitFor();
    await card('cart').getByText('Baseline locked.').waitFor();
    assert.equal((await list()).find((b) => b.container === 'cart')!.state, 'locked');
    assert.match(await card('cart').getByTestId('baseline-state').innerText(), /^Locked since /);

    // Accept the top deviation of envoy: it leaves the table and joins the baseline's items.
    const top = (await detail('envoy')).deviations[0]!;
    page.once('dialog', (d) => { assert.ok(d.message().includes(top.item)); void d.accept(); });
    await card('envoy').getByRole('button', { name: `Accept ${top.item}` }).click();
    await card('envoy').getByText('Accepted 1 item into the baseline.').waitFor();
    const rows = card('envoy').locator('table.deviations tbody tr');
    await rows.filter({ has: page.locator(`[data-item="${top.item}"]`) }).waitFor({ state: 'detached' }).catch(() => undefined);
    const after = await detail('envoy');
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-item'))), after.deviations.map((d) => d.item));
    assert.ok(!after.deviations.some((d) => d.item === top.item));
    assert.ok(after.items.exec!.some((i) => i.item === curlKeys[0]), 'accepted into the exec channel');
    assert.equal(await card('envoy').locator('td[data-channel="exec"]').innerText(), String((await list()).find((b) => b.container === 'envoy')!.items.exec));
    await shot(page, 'deployment-baseline-after-actions');

    // Unlock cart again: a new learning window, said on the card and by the API.
    page.once('dialog', (d) => { assert.match(d.message(), /^Unlock the baseline of k8s:shop-prod\/shop\/Deployment\/cart\/cart\?/); void d.accept(); });
    await card('cart').getByRole('button', { name: 'Unlock and learn again' }).click();
    await card('cart').getByRole('button', { name: 'Lock now' }).waitFor();
    assert.equal((await list()).find((b) => b.container === 'cart')!.state, 'learning');
    assert.match(await card('cart').getByTestId('baseline-state').innerText(), /^Learning/);
    // A lock made elsewhere (another admin, the CLI) reaches the open page through the live stream.
    const elsewhere = await central.api('POST', `/api/v1/baselines/${encodeURIComponent(identity('cart').id)}/lock`);
    assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    await card('cart').getByRole('button', { name: 'Unlock and learn again' }).waitFor();
    assert.match(await card('cart').getByTestId('baseline-state').innerText(), /^Locked since /);
    assert.equal(await page.evaluate('window.marker'), 7, 'no reload');
  });

  test('an analyst sees the baseline but no control; a deployment without one says so', async () => {
    const analyst = await central.token('analyst');
    const other = await (await browser.newContext({ viewport: { width: 800, height: 900 } })).newPage();
    try {
      await signIn(other, central.url, analyst);
      await other.goto(`${central.url}/deployments/${encodeURIComponent(cart)}`);
      await other.locator(`article[data-workload="${identity('envoy').id}"] table.deviations`).waitFor();
      const section = other.getByRole('region', { name: 'Behavioural baseline' });
      assert.equal(await section.getByRole('button').count(), 0);
      await shot(other, 'deployment-baseline-analyst-800');
      assert.deepEqual(await axeSerious(other), []);
      await other.goto(`${central.url}/deployments/${encodeURIComponent(frontend)}`);
      await other.getByTestId('no-baseline').waitFor();
    } finally {
      await other.close();
    }
  });
});
