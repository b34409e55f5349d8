/**
 * A deployment running two scanned images that share a base package (openssl), written
 * through Central's real paths: the Deployment through the inventory sink (as a watcher's list
 * does), the images and their findings through `POST /api/v1/ingest/images` (as `scan --push`).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { LiveEvaluator } from '../../src/central/live/evaluator.js';
import { StoreInventorySink } from '../../src/central/live/sink.js';
import { createSource } from '../../src/central/store/sources.js';
import type { TestCentral } from '../helpers/central.js';

export const APP = 'sha256:' + 'a1'.repeat(32);
export const SIDECAR = 'sha256:' + 'b2'.repeat(32);
export const UNSCANNED = 'sha256:' + 'c3'.repeat(32);

const vuln = (id: string, severity: string, pkg: string, version: string, layer: number, fixed?: string) => ({
  id, kind: 'vulnerability', severity, title: `${id} in ${pkg}`,
  resource: { image: { layer } },
  data: { package: pkg, installedVersion: version, ...(fixed ? { fixedVersion: fixed } : {}) },
});

/** Writes the fixture; returns the deployment's id. */
export async function twoImageDeployment(central: TestCentral): Promise<string> {
  const { ctx } = central;
  const name = `dv-${randomBytes(3).toString('hex')}`;
  const source = (await createSource(ctx.db, { kind: 'cluster', name, sealedConfig: ctx.secrets.seal('{}') }, new Date().toISOString()))!;
  const evaluator = new LiveEvaluator(ctx.db, ctx.policies, ctx.now, { debounceMs: 3_600_000, onError: (m) => console.error(m) });
  const sink = new StoreInventorySink(ctx.db, evaluator, ctx.now);
  const labels = { app: 'shop' };
  const containers = [
    { name: 'app', image: `registry.example/shop@${APP}` },
    { name: 'proxy', image: `registry.example/proxy@${SIDECAR}` },
    { name: 'tools', image: `registry.example/tools@${UNSCANNED}` },
  ];
  const body = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop', namespace: 'shop', uid: `u-${name}`, resourceVersion: '1', labels }, spec: { selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers } } } };
  await sink.replaceKind(source.id, 'Deployment', [{ sourceId: source.id, kind: 'Deployment', uid: `u-${name}`, namespace: 'shop', name: 'shop', resourceVersion: '1', body }]);
  await evaluator.settle();

  const ci = await central.token('ci');
  const push = async (digest: string, ref: string, findings: unknown[]) => {
    const r = await central.api('POST', '/api/v1/ingest/images', { image: { digest, refs: [ref] }, findings }, ci);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  await push(APP, 'registry.example/shop:1', [
    vuln('CVE-2024-0001', 'HIGH', 'openssl', '3.0.1', 0, '3.0.2'),
    vuln('CVE-2024-0002', 'CRITICAL', 'libxml2', '2.9.1', 1),
    vuln('GHSA-aaaa-bbbb-cccc', 'MEDIUM', 'lodash', '4.17.0', 2, '4.17.21'),
    { id: 'aws-key', kind: 'secret', severity: 'HIGH', title: 'AWS key', resource: { image: { layer: 2, path: '/app/.env' } } },
  ]);
  await push(SIDECAR, 'registry.example/proxy:1', [
    vuln('CVE-2024-0001', 'HIGH', 'openssl', '3.0.1', 0, '3.0.2'),
    vuln('CVE-2024-0003', 'LOW', 'zlib', '1.2.11', 0),
  ]);
  const deployments = (await central.api('GET', `/api/v1/deployments?cluster=${name}`)).body.items as { id: string }[];
  assert.equal(deployments.length, 1);
  return deployments[0]!.id;
}
