/**
 * The framework fragments this engine owns name only checks it has, and every check with a
 * CIS number appears under that control.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { checkCatalog } from '../../src/node/index.js';
import { builtinCatalog, loadFramework } from '../../src/compliance/index.js';

const read = (p: string) => parse(readFileSync(new URL(`../../policies/frameworks/${p}`, import.meta.url), 'utf8'));

test('CIS and NIST fragments name existing checks; every CIS-numbered node check is mapped to its control; the frameworks load', async () => {
  const catalog = new Map(checkCatalog().map((c) => [c.id, c]));
  const all = await builtinCatalog({ registered: checkCatalog() });
  const cp = read('cis-kubernetes/control-plane.yaml');
  const wn = read('cis-kubernetes/worker-node.yaml');
  const host = read('nist-800-190/host.yaml');
  // Node checks, or (control plane) the deploy pack's policies over manifests that serve the same control.
  for (const doc of [cp, wn, host]) for (const c of doc.controls) for (const id of c.checks) assert.ok(catalog.has(id) || (doc === cp && all.get(id)?.source === 'policy'), `${c.id}: unknown check ${id}`);
  for (const fw of ['cis-kubernetes', 'nist-800-190']) await loadFramework(fw, all);
  const controls = new Map<string, string[]>([...cp.controls, ...wn.controls].map((c: any) => [c.id, c.checks]));
  for (const c of catalog.values()) if (c.cis) assert.ok(controls.get(c.cis)?.includes(c.id), `${c.id} is not under CIS ${c.cis}`);
  for (const id of controls.keys()) assert.match(id, /^[1-4](\.\d+){1,2}$/);
  assert.equal(cp.version, '1.10');
  assert.equal(wn.version, '1.10');
  // Every host and engine check maps to NIST SP 800-190.
  const nist = new Set(host.controls.flatMap((c: any) => c.checks));
  for (const c of catalog.values()) if (/^node\.(boot|kernel|cpu|crypto|lsm|cgroup|engine)\./.test(c.id)) assert.ok(nist.has(c.id), `${c.id} is not mapped to NIST SP 800-190`);
});
