/**
 * The looking pass: every page of the console, filled with the other console tests' data
 * (the Debian test image's SBOM pushed by `image sbom --server` against a vulnerability DB
 * from the real importer, two dated images, the shop cluster through Central's inventory path
 * with its flows, the two-host incident scenario, baselines pushed as sensors push them),
 * screenshotted in light and dark at 1280 and 800 px wide for people to read
 * (`# console screenshots:`). What can be checked is: the page never scrolls sideways and no
 * card's content spills out of it (wide tables scroll inside their own region), nothing is left "Loading…", and axe-core finds no
 * serious violation at 800 px in either theme (console.test.ts runs it at 1360).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { alertEvent } from '../../src/cli/central-push.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import type { Alert } from '../../src/runtime/alerts/alert.js';
import type { BaselineDelta } from '../../src/runtime/baseline/merge.js';
import type { FalcoAlert } from '../../src/runtime/incidents/index.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { OCI_DIR } from '../fixtures/test-images.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { dbProcessAlert, execAudit, flow, shellAlert, unrelatedA, unrelatedB } from '../incidents/scenario.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';
import { CLUSTER, shopFlows, shopObjects } from './network-fixture.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-console-looks-'));
const DAY = 86_400_000;
const skip = chromiumSkip() || missing(cacheHas('oci', 'index.json'), 'test images not built (.ci/setup.d/40-test-images.sh)');

/** Polls a page-side expression (the console's CSP forbids page.waitForFunction's compiled strings). */
async function until(page: Page, expression: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('console: every page in both themes at 1280 and 800 px', { skip }, () => {
  let central: TestCentral;
  let browser: Browser;
  const pages: Array<[string, string]> = [];

  before(async () => {
    ensureConsoleBuilt();
    process.env.GATEHOUSE_DB = join(work, 'vuln.db');
    writeFileSync(join(work, 'tracker.json'), JSON.stringify({ openssl: { 'CVE-2099-7': { releases: { bookworm: { status: 'resolved', fixed_version: '3.0.99', urgency: 'high' } } } } }));
    const vdb = VulnDb.open(process.env.GATEHOUSE_DB, { create: true });
    await importPath(vdb, join(work, 'tracker.json'));
    vdb.close();

    central = await startTestCentral();
    const { ctx } = central;
    const ci = await central.token('ci');
    const sbom = await runCli(['image', 'sbom', `oci:${OCI_DIR}:debian`, '--format', 'cyclonedx', '--output', join(work, 'debian.cdx.json'), '--server', central.url, '--token', ci], {
      env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined, GATEHOUSE_CA: undefined }, timeoutMs: 180_000,
    });
    assert.equal(sbom.code, 0, sbom.stderr);
    const debian = /pushed image (sha256:[0-9a-f]{64})/.exec(sbom.stderr)![1]!;
    const now = Date.now();
    for (const [d, ref, days, verified] of [['a', 'registry.example/shop/cart:1.0', 400, false], ['b', 'registry.example/shop/cart:2.0', 12, true]] as const) {
      const r = await central.api('POST', '/api/v1/ingest/images', { image: { digest: `sha256:${d.repeat(64)}`, refs: [ref], created: new Date(now - days * DAY).toISOString() }, signature: { verified, ...(verified ? { signers: ['release-key'] } : {}) } }, ci);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }

    // The shop cluster (deployments, violations, network, compliance) and its flows.
    const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n';
    const source = (await createSource(ctx.db, { kind: 'cluster', name: CLUSTER, sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString()))!;
    const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
    const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
    for (const [kind, objects] of shopObjects(source.id)) await sink.replaceKind(source.id, kind, objects);
    await evaluator.settle();
    const sensor = await central.token('sensor');
    assert.equal((await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: CLUSTER, node: 'node-1' }, events: shopFlows(now - 120_000) }, sensor)).status, 200);

    // The incident scenario.
    const iso = (s: number) => new Date(now - 60_000 + s * 1000).toISOString();
    const alerts = async (host: string, list: FalcoAlert[]) => {
      const r = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', host }, events: list.map((a) => alertEvent('sensor', a as Alert)) }, sensor);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    assert.equal((await central.api('POST', '/api/v1/ingest/audit?cluster=default', { kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: [execAudit(iso(0))] }, sensor)).status, 200);
    await alerts('node-a', [shellAlert(iso(1)), unrelatedA(iso(3))]);
    assert.equal((await central.api('POST', '/api/v1/ingest/flows', { flows: [{ id: 'flow-1', ...flow(iso(5)) }] }, sensor)).status, 200);
    await alerts('node-b', [unrelatedB(iso(6)), dbProcessAlert(iso(8))]);
    const incidents = (await central.api('GET', '/api/v1/incidents')).body.items as { id: string; signals: number }[];
    const main = incidents.reduce((a, b) => (b.signals > a.signals ? b : a));

    // A baseline for cart: learning, and a locked sidecar with a deviation.
    const deployments = (await central.api('GET', `/api/v1/deployments?cluster=${CLUSTER}&limit=100`)).body.items as { id: string; name: string }[];
    const cart = deployments.find((d) => d.name === 'cart')!.id;
    const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
    const delta = (container: string, over: Partial<BaselineDelta> = {}): BaselineDelta => ({
      workload: { id: `k8s:${CLUSTER}/shop/Deployment/cart/${container}`, kind: 'Deployment', namespace: 'shop', name: 'cart', container, cluster: CLUSTER },
      epoch: 0, learnMs: 3_600_000, firstSeenNs: ns(now - 600_000), lastSeenNs: ns(now - 540_000), events: 40, replicas: ['r1'], hist: [[20, 4]],
      items: [{ ch: 'exec', keys: [`/usr/bin/${container} parent=container-runtime user=app`, `/usr/bin/${container}`, 'class=other'], n: 3 }], deviations: [], ...over,
    });
    const push = async (pushId: string, baselines: BaselineDelta[]) => assert.equal((await central.api('POST', '/api/v1/ingest/baselines', { host: 'node-1', pushId, baselines }, sensor)).status, 200);
    await push('looks-push-0001', [delta('cart'), delta('envoy')]);
    assert.equal((await central.api('POST', `/api/v1/baselines/${encodeURIComponent(`k8s:${CLUSTER}/shop/Deployment/cart/envoy`)}/lock`)).status, 200);
    const keys = ['/usr/bin/curl [-s URL(http)] parent=/bin/sh user=root', '/usr/bin/curl parent=/bin/sh', '/usr/bin/curl', 'class=network-tool'];
    await push('looks-push-0002', [delta('envoy', { items: [], events: 1, deviations: [{ item: `exec:${keys[0]}`, channel: 'exec', keys, score: 14, count: 2, firstSeen: iso(9), lastSeen: iso(10), containers: ['r1'] }] })]);

    pages.push(
      ['dashboard', '/'], ['deployments', '/deployments'], ['deployment', `/deployments/${encodeURIComponent(cart)}`], ['images', '/images'],
      ['image', `/images/${debian}`], ['violations', '/violations'], ['incidents', '/incidents'], ['incident', `/incidents/${main.id}`],
      ['network', `/network?cluster=${CLUSTER}`], ['compliance', '/compliance'], ['registries', '/registries'], ['policies', '/policies'], ['settings', '/settings'],
    );
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await central?.close();
    delete process.env.GATEHOUSE_DB;
    rmSync(work, { recursive: true, force: true });
  });

  for (const width of [1280, 800]) {
    test(`${width} px: no page scrolls sideways, spills out of a card or stays loading${width === 800 ? '; axe in light and dark' : ''}`, async () => {
      const context: BrowserContext = await browser.newContext({ viewport: { width, height: 900 } });
      const page = await context.newPage();
      try {
        await page.goto(`${central.url}/login`);
        await page.getByRole('heading', { level: 1 }).waitFor();
        for (const scheme of ['light', 'dark'] as const) {
          await page.emulateMedia({ colorScheme: scheme });
          await shot(page, `looks-login-${scheme}-${width}`);
        }
        await page.emulateMedia({ colorScheme: 'light' });
        await signIn(page, central.url, central.adminToken);
        const problems: string[] = [];
        for (const [name, path] of pages) {
          await page.goto(central.url + path);
          await page.getByRole('heading', { level: 1 }).waitFor();
          await until(page, `![...document.querySelectorAll('[role=status]')].some((e) => /Loading/.test(e.textContent))`);
          for (const scheme of ['light', 'dark'] as const) {
            await page.emulateMedia({ colorScheme: scheme });
            await shot(page, `looks-${name}-${scheme}-${width}`);
            const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
            if (overflow > 0) problems.push(`${path} (${scheme}) is ${overflow} px wider than the window`);
            // Content spilling out of its card (a table wider than the card it sits in).
            const spilled = await page.evaluate<string[]>(`[...document.querySelectorAll('.card')].filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => (c.querySelector('h2')?.textContent ?? c.className) + ' by ' + (c.scrollWidth - c.clientWidth) + ' px')`);
            for (const s of spilled) problems.push(`${path} (${scheme}): ${s} spills out of its card`);
            if (width === 800) for (const v of await axeSerious(page)) problems.push(`${path} (${scheme}): axe ${v.id} ${v.help} ${JSON.stringify(v.nodes)}`);
          }
          await page.emulateMedia({ colorScheme: 'light' });
        }
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  }
});
