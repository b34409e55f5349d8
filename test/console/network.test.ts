/**
 * /network and the deployment page's network neighbours in headless Chromium against a real
 * Central (SQLite): a small cluster written through the real inventory path (Deployments,
 * ReplicaSets, Pods with their IPs, Services, NetworkPolicies) and flows shipped as a sensor
 * does (POST /api/v1/ingest/events, type `flow`). The graph the page draws (Cytoscape's
 * model, read through a hook the page exposes only when a test sets
 * `__GATEHOUSE_TEST_HOOKS__` before it loads) is checked against the API's answer and
 * against what the fixture's policies mean: frontend→db observed but not allowed (red),
 * cart→db allowed but never observed (dashed). Clicks on the canvas and the keyboard path
 * (flagged edges table, finder) open the side panel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createSource } from '../../src/central/store/sources.js';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import type { GraphEdge, GraphNode, NetworkGraph } from '../../src/network/graph-types.js';
import { stringify } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { startTestCentral, type TestCentral } from '../helpers/central.js';
import { axeSerious, chromiumSkip, ensureConsoleBuilt, launchBrowser, shot, signIn } from './browser.js';
import { CLUSTER, IPS, shopFlows, shopObjects } from './network-fixture.js';
import { clusterObjects } from '../../bench/central/inventory.js';

interface CyNode { id: string; label: string; kind: string; parent: string | null; isParent: boolean; unprotected: boolean; background: string; rendered: { x: number; y: number } }
interface CyEdge { id: string; source: string; target: string; flag: string; allowed: boolean; observed: boolean; lineColor: string; lineStyle: string; width: string; rendered: { x: number; y: number } }

/** Polls `expression` in the page until it is true (page.waitForFunction compiles strings in the page, which the console's CSP forbids). */
async function until(page: Page, expression: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('console: network graph', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let graph: NetworkGraph;
  const byName = (name: string) => graph.nodes.find((n) => n.kind === 'deployment' && n.name === name)!;
  const edge = (from: string, to: string, port: number) => graph.edges.find((e) => e.source === byName(from).id && e.target === byName(to).id && e.port === port);

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    const { ctx } = central;
    const kubeconfig = 'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\nusers: [{name: u, user: {token: t}}]\n';
    const source = (await createSource(ctx.db, { kind: 'cluster', name: CLUSTER, sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig })) }, new Date().toISOString()))!;
    const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
    const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
    for (const [kind, list] of shopObjects(source.id)) await sink.replaceKind(source.id, kind, list);
    await evaluator.settle();
    const sensor = await central.token('sensor');
    const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: CLUSTER, node: 'node-1' }, events: shopFlows(Date.now() - 120_000) }, sensor);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const g = await central.api('GET', `/api/v1/network/graph?cluster=${CLUSTER}`);
    assert.equal(g.status, 200, JSON.stringify(g.body));
    graph = g.body;

    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    await context.addInitScript('window.__GATEHOUSE_TEST_HOOKS__ = true');
    page = await context.newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  const openGraph = async (query: string) => {
    await page.goto(`${central.url}/network${query}`);
    await until(page, 'window.__gatehouseNetwork && window.__gatehouseNetwork.renderedAt !== null');
    return {
      nodes: await page.evaluate<CyNode[]>('window.__gatehouseNetwork.nodes()'),
      edges: await page.evaluate<CyEdge[]>('window.__gatehouseNetwork.edges()'),
    };
  };

  test('the API flags what the policies and the flows mean', () => {
    for (const name of ['frontend', 'cart', 'db']) assert.ok(byName(name), `${name} is a node`);
    assert.equal(edge('frontend', 'db', 5432)?.flag, 'observed-not-allowed');
    assert.equal(edge('cart', 'db', 5432)?.flag, 'allowed-not-observed');
    const ok = edge('frontend', 'cart', 8080);
    assert.ok(ok?.allowed && ok.observed && !ok.flag, JSON.stringify(ok));
    assert.equal(ok.observed!.connections, 42);
  });

  test('the allowed edges into the isolated namespace are what `netpol analyze` finds in the same manifests', async () => {
    // The fixture's top-level objects as manifests (owned ReplicaSets and Pods left out, as the analysis does).
    const manifests = [...shopObjects('manifests')].filter(([kind]) => kind !== 'ReplicaSet' && kind !== 'Pod').flatMap(([, list]) => list.map((o) => stringify(o.body))).join('---\n');
    const r = await runCli(['netpol', 'analyze', '-', '--format', 'json'], { input: manifests });
    assert.equal(r.code, 0, r.stderr);
    const conns = JSON.parse(r.stdout) as { src: string; dst: string; conn: string }[];
    const name = (s: string) => s.replace(/\[Deployment\]$/, '');
    // shop is isolated for ingress: the analysis lists exactly which pairs its policies allow, with ports.
    const expected = conns.filter((c) => c.dst.startsWith('shop/')).map((c) => `${name(c.src)} -> ${name(c.dst)} ${c.conn}`).sort();
    const label = (id: string) => { const n = graph.nodes.find((x) => x.id === id)!; return `${n.namespace}/${n.name}`; };
    const allowed = graph.edges.filter((e) => e.allowed && graph.nodes.find((x) => x.id === e.target)?.namespace === 'shop')
      .map((e) => `${label(e.source)} -> ${label(e.target)} ${e.protocol} ${e.port}`).sort();
    assert.deepEqual(allowed, expected);
    assert.deepEqual(expected, ['shop/cart -> shop/db TCP 5432', 'web/frontend -> shop/cart TCP 8080']);
  });

  test('/network draws the API graph: namespaces as boxes, flagged edges red and dashed', async () => {
    const cy = await openGraph(`?cluster=${CLUSTER}`);
    const drawn = cy.nodes.filter((n) => !n.isParent || graph.nodes.some((g) => g.id === n.id));
    // Every API node is drawn (a namespace node is its box), and nothing else but boxes.
    assert.deepEqual(drawn.map((n) => n.id).sort(), graph.nodes.map((n) => n.id).sort());
    for (const name of ['cart', 'db']) assert.equal(cy.nodes.find((n) => n.id === byName(name).id)!.parent, cy.nodes.find((n) => n.id === byName('cart').id)!.parent);
    const shop = cy.nodes.find((n) => n.id === cy.nodes.find((x) => x.id === byName('cart').id)!.parent)!;
    assert.ok(shop.isParent && /shop/.test(shop.label), `cart sits in the shop box (${shop.label})`);
    assert.notEqual(cy.nodes.find((n) => n.id === byName('frontend').id)!.parent, shop.id);
    assert.deepEqual(cy.edges.map((e) => e.id).sort(), graph.edges.map((e) => e.id).sort());
    const red = cy.edges.find((e) => e.id === edge('frontend', 'db', 5432)!.id)!;
    const dashed = cy.edges.find((e) => e.id === edge('cart', 'db', 5432)!.id)!;
    const plain = cy.edges.find((e) => e.id === edge('frontend', 'cart', 8080)!.id)!;
    const errorColour = await page.evaluate<string>("(() => { const s = document.createElement('span'); s.style.color = 'var(--error)'; document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; })()");
    const norm = (c: string) => c.replace(/\s+/g, '');
    assert.equal(norm(red.lineColor), norm(errorColour));
    assert.equal(red.lineStyle, 'solid');
    assert.equal(dashed.lineStyle, 'dashed');
    assert.notEqual(norm(dashed.lineColor), norm(errorColour));
    assert.equal(plain.lineStyle, 'solid');
    assert.notEqual(norm(plain.lineColor), norm(errorColour));
    // Deployments no policy protects are highlighted: web/frontend has no NetworkPolicy; shop is isolated for ingress.
    assert.deepEqual(byName('frontend').isolated, { ingress: false, egress: false });
    assert.deepEqual(byName('cart').isolated, { ingress: true, egress: false });
    const front = cy.nodes.find((n) => n.id === byName('frontend').id)!;
    const cart = cy.nodes.find((n) => n.id === byName('cart').id)!;
    assert.equal(front.unprotected, true);
    assert.equal(norm(front.background), norm(errorColour));
    assert.equal(cart.unprotected, false);
    assert.notEqual(norm(cart.background), norm(errorColour));
    const counts = await page.getByTestId('graph-counts').innerText();
    assert.match(counts, new RegExp(`^${graph.counts.nodes} nodes, ${graph.counts.edges} edges: ${graph.counts.observedNotAllowed} observed but not allowed, ${graph.counts.allowedNotObserved} allowed but never observed`));
    await shot(page, 'network');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'dark' });
    // The graph follows a theme change while open: its red is the dark theme's --error now.
    const darkError = await page.evaluate<string>("(() => { const s = document.createElement('span'); s.style.color = 'var(--error)'; document.body.append(s); const c = getComputedStyle(s).color; s.remove(); return c; })()");
    assert.notEqual(norm(darkError), norm(errorColour));
    await until(page, `window.__gatehouseNetwork.edges().find((e) => e.id === ${JSON.stringify(red.id)}).lineColor.replace(/\\s+/g, '') === ${JSON.stringify(norm(darkError))}`);
    await shot(page, 'network-dark');
    assert.deepEqual(await axeSerious(page), []);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('a click on an edge shows its port, counts and times; a click on a node its edges and a link to the deployment', async () => {
    const cy = await openGraph(`?cluster=${CLUSTER}`);
    const red = edge('frontend', 'db', 5432)!;
    const box = (await page.getByTestId('network-graph').boundingBox())!;
    const mid = cy.edges.find((e) => e.id === red.id)!.rendered;
    await page.mouse.click(box.x + mid.x, box.y + mid.y);
    const panel = page.getByRole('complementary', { name: 'Selection' });
    await panel.getByRole('heading', { name: 'Edge' }).waitFor();
    const facts = await panel.getByTestId('edge-facts').innerText();
    assert.match(facts, /5432\/TCP/);
    assert.match(facts, /not allowed/);
    assert.match(facts, /observed, not allowed/);
    assert.match(facts, new RegExp(`Connections\\s+${red.observed!.connections}`));
    assert.match(await panel.getByTestId('edge-ends').innerText(), /frontend.*→.*db/);
    assert.match(page.url(), new RegExp(`edge=${encodeURIComponent(red.id)}`));

    const db = byName('db');
    const at = cy.nodes.find((n) => n.id === db.id)!.rendered;
    await page.mouse.click(box.x + at.x, box.y + at.y);
    await panel.getByRole('heading', { name: db.label }).waitFor();
    const rows = panel.getByTestId('neighbours').locator('tbody tr');
    const mine = graph.edges.filter((e) => e.source === db.id || e.target === db.id);
    assert.equal(await rows.count(), mine.length);
    assert.equal(await panel.getByTestId('neighbours').locator('tr[data-flag="observed-not-allowed"]').count(), mine.filter((e) => e.flag === 'observed-not-allowed').length);
    // The generated NetworkPolicies of its namespace: what Central's generator answers, shown as is.
    await panel.getByRole('button', { name: 'Generate NetworkPolicies for shop' }).click();
    const yaml = await panel.getByTestId('generated-yaml').innerText();
    const generated = await central.api('POST', '/api/v1/network/policies/generate', { cluster: CLUSTER, namespace: 'shop' });
    assert.equal(generated.status, 200, JSON.stringify(generated.body));
    assert.equal(yaml.trim(), generated.body.yaml.trim());
    assert.match(yaml, /kind: NetworkPolicy/);
    await shot(page, 'network-node');
    await panel.getByRole('link', { name: `Open deployment ${db.name}` }).click();
    await page.waitForURL(new RegExp(`/deployments/${db.id}$`));
    const neighbours = page.getByRole('region', { name: 'Network neighbours' });
    await neighbours.getByTestId('neighbours').waitFor();
    assert.equal(await neighbours.locator('tbody tr').count(), mine.length);
    const flagged = neighbours.locator('tr[data-flag="observed-not-allowed"]');
    assert.equal(await flagged.count(), 1);
    assert.match(await flagged.innerText(), /from\s+web\/frontend|from\s+frontend/);
    assert.match(await flagged.innerText(), /5432\/TCP/);
    assert.match(await neighbours.innerText(), /1 observed but not allowed/);
    await shot(page, 'deployment-neighbours');
    assert.deepEqual(await axeSerious(page), []);
  });

  test('by keyboard: the flagged edges table and the finder select what the canvas shows', async () => {
    await openGraph(`?cluster=${CLUSTER}`);
    const table = page.getByRole('region', { name: 'Flagged edges table' });
    const flagged = graph.edges.filter((e) => e.flag);
    assert.equal(await table.locator('tbody tr').count(), flagged.length);
    const unused = edge('cart', 'db', 5432)!;
    const row = table.locator('tbody tr').filter({ hasText: 'allowed, not observed' }).filter({ hasText: 'shop/cart' });
    assert.equal(await row.count(), graph.edges.filter((e) => e.flag === 'allowed-not-observed' && e.source === byName('cart').id).length);
    await row.getByRole('button', { name: 'Show' }).focus();
    await page.keyboard.press('Enter');
    const panel = page.getByRole('complementary', { name: 'Selection' });
    await panel.getByRole('heading', { name: 'Edge' }).waitFor();
    assert.match(await panel.getByTestId('edge-facts').innerText(), /not observed/);
    assert.match(page.url(), new RegExp(`edge=${encodeURIComponent(unused.id)}`));
    assert.deepEqual(await page.evaluate<string[]>('window.__gatehouseNetwork.edges().filter((e) => e.selected).map((e) => e.id)'), [unused.id], 'the canvas shows the same edge selected');
    await page.getByLabel('Find a node').fill('cart');
    await page.getByLabel('Find a node').press('Enter');
    await panel.getByRole('heading', { name: byName('cart').label }).waitFor();
  });

  test('filters by namespace in the URL ask the API for that namespace', async () => {
    await openGraph(`?cluster=${CLUSTER}`);
    await page.getByLabel('Namespace').fill('web');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/namespace=web/);
    const api = (await central.api('GET', `/api/v1/network/graph?cluster=${CLUSTER}&namespace=web`)).body as NetworkGraph;
    await until(page, `window.__gatehouseNetwork.edges().length === ${api.edges.length} && window.__gatehouseNetwork.renderedAt !== null`);
    const nodes = await page.evaluate<CyNode[]>('window.__gatehouseNetwork.nodes()');
    assert.deepEqual(nodes.filter((n) => !n.isParent || api.nodes.some((g: GraphNode) => g.id === n.id)).map((n) => n.id).sort(), api.nodes.map((n: GraphNode) => n.id).sort());
    assert.ok(api.edges.every((e: GraphEdge) => [e.source, e.target].includes(byName('frontend').id)), 'the web namespace view keeps frontend\'s edges');
    // "Observed in" asks for the window as an RFC 3339 `since`, an hour back from now.
    const asked = page.waitForRequest((r) => r.url().includes('/api/v1/network/graph?') && r.url().includes('since='));
    const before = Date.now();
    await page.getByLabel('Observed in').selectOption('1h');
    const since = new URL((await asked).url()).searchParams.get('since')!;
    await page.waitForURL(/window=1h/);
    const back = before - Date.parse(since);
    assert.ok(back > 3_590_000 && back < 3_700_000, `since ${since} is an hour back`);
  });

  test('new flows are offered live; redrawn, the unused edge becomes observed', async () => {
    await openGraph(`?cluster=${CLUSTER}`);
    await page.evaluate('window.marker = 5');
    const unused = edge('cart', 'db', 5432)!;
    const sensor = await central.token('sensor');
    const now = new Date().toISOString();
    const flow = {
      id: 'flow-cart-db', type: 'flow', time: now,
      data: { protocol: 'TCP', direction: 'egress', local: { ip: IPS.cart, port: 41000, pod: { namespace: 'shop', name: 'cart-5d8f7c9b4-abcde' } }, remote: { ip: IPS.db, port: 5432 }, firstSeen: now, lastSeen: now, connections: 9, observedBy: 'ebpf' },
    };
    const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: CLUSTER, node: 'node-1' }, events: [flow] }, sensor);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const redraw = page.getByRole('button', { name: 'Redraw the graph' });
    await redraw.waitFor({ timeout: 15_000 });
    await redraw.click();
    await until(page, `window.__gatehouseNetwork.renderedAt !== null && window.__gatehouseNetwork.edges().some((e) => e.id === ${JSON.stringify(unused.id)} && e.observed)`);
    const now2 = (await central.api('GET', `/api/v1/network/graph?cluster=${CLUSTER}`)).body as NetworkGraph;
    const after = now2.edges.find((e) => e.id === unused.id);
    assert.ok(after?.observed && after.allowed && !after.flag, JSON.stringify(after));
    const drawn = (await page.evaluate<CyEdge[]>('window.__gatehouseNetwork.edges()')).find((e) => e.id === unused.id)!;
    assert.equal(drawn.flag, '');
    assert.equal(drawn.lineStyle, 'solid');
    assert.equal(await page.evaluate('window.marker'), 5, 'no reload');
  });
});

describe('console: network graph of 600 workloads (the large-graph drawing)', { skip: chromiumSkip() }, () => {
  let central: TestCentral;
  let browser: Browser;
  let page: Page;
  let graph: NetworkGraph;

  before(async () => {
    ensureConsoleBuilt();
    central = await startTestCentral();
    const { ctx } = central;
    const source = (await createSource(ctx.db, { kind: 'cluster', name: 'big', sealedConfig: ctx.secrets.seal(JSON.stringify({ kubeconfig: 'apiVersion: v1\nkind: Config\n' })) }, new Date().toISOString()))!;
    const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
    const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
    const pods: { namespace: string; name: string; ip: string }[] = [];
    for (const [kind, list] of clusterObjects(source.id, 600, 50)) {
      if (kind === 'Pod') for (const o of list) if (/-0-x\d+$/.test(o.name ?? '')) pods.push({ namespace: o.namespace!, name: o.name!, ip: (o.body.status as { podIP: string }).podIP });
      await sink.replaceKind(source.id, kind, list);
    }
    await evaluator.settle();
    // Each workload's first pod talks to the next workload of its namespace: half the namespaces deny it.
    const now = Date.now() - 60_000;
    const events = pods.map((p, i) => {
      const peer = pods[Math.floor(i / 50) * 50 + ((i + 1) % 50)] ?? pods[0]!;
      return { id: `f-${i}`, type: 'flow', time: new Date(now).toISOString(), data: { protocol: 'TCP', direction: 'egress', local: { ip: p.ip, port: 40000 + i, pod: { namespace: p.namespace, name: p.name } }, remote: { ip: peer.ip, port: 8080 }, firstSeen: new Date(now).toISOString(), lastSeen: new Date(now).toISOString(), connections: 1, observedBy: 'ebpf' } };
    });
    const res = await central.api('POST', '/api/v1/ingest/events', { source: { kind: 'sensor', cluster: 'big' }, events }, await central.token('sensor'));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    graph = (await central.api('GET', '/api/v1/network/graph?cluster=big')).body;
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    await context.addInitScript('window.__GATEHOUSE_TEST_HOOKS__ = true');
    page = await context.newPage();
    await signIn(page, central.url, central.adminToken);
  });
  after(async () => {
    await browser?.close();
    await central?.close();
  });

  test('drawn with namespace boxes as plain nodes, flags kept, a click still opens the side panel', async () => {
    assert.ok(graph.nodes.length > 500, `${graph.nodes.length} nodes`);
    assert.ok(graph.counts.observedNotAllowed > 0);
    await page.goto(`${central.url}/network?cluster=big`);
    await until(page, 'window.__gatehouseNetwork && window.__gatehouseNetwork.renderedAt !== null', 60_000);
    const nodes = await page.evaluate<(CyNode & { box: string | null })[]>('window.__gatehouseNetwork.nodes()');
    const edges = await page.evaluate<CyEdge[]>('window.__gatehouseNetwork.edges()');
    const members = nodes.filter((n) => !n.isParent);
    assert.deepEqual(members.map((n) => n.id).sort(), graph.nodes.filter((n) => n.kind !== 'namespace').map((n) => n.id).sort());
    // No compound parents: every member names its namespace box, which is drawn.
    assert.ok(members.every((n) => n.parent === null && n.box && nodes.some((b) => b.id === n.box && b.isParent)));
    const dep = graph.nodes.find((n) => n.kind === 'deployment' && n.namespace === 'team-0')!;
    assert.equal(members.find((n) => n.id === dep.id)!.box, `namespace:big/team-0`);
    assert.equal(edges.length, graph.edges.length);
    const flagged = graph.edges.filter((e) => e.flag === 'observed-not-allowed');
    assert.equal(edges.filter((e) => e.flag === 'observed-not-allowed' && e.width === '3px').length, flagged.length);
    // A tap on a node (Cytoscape's own event, emitted through the hook) opens the side panel with its edges.
    await page.evaluate(`window.__gatehouseNetwork.select(${JSON.stringify(dep.id)})`);
    const panel = page.getByRole('complementary', { name: 'Selection' });
    await panel.getByRole('heading', { name: dep.label }).waitFor();
    assert.equal(await panel.getByTestId('neighbours').locator('tbody tr').count(), graph.edges.filter((e) => e.source === dep.id || e.target === dep.id).length);
    await shot(page, 'network-600');
    assert.deepEqual(await axeSerious(page), []);
  });
});
