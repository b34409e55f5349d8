/**
 * A workload "plus the facts of its images when known": image.* fields evaluated per
 * container through the workload subject's imageFacts(ref) lookup, with the image
 * subject's own definitions; a container whose image facts are unknown is not applicable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseManifests } from '../../src/kube/manifests.js';
import { compilePolicySet, evaluate } from '../../src/policy/evaluate.js';
import { loadPacks } from '../../src/policy/pack.js';
import { createSubjects } from '../../src/subjects/index.js';
import { imageFactsFromData, type ImageFacts } from '../../src/vuln/image-facts.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-workload-image-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('workload policies over the facts of each container image, when known', async () => {
  const pack = join(work, 'pack.yaml');
  writeFileSync(pack, `apiVersion: gatehouse.dev/v1
kind: PolicyPack
subject: workload
policies:
  - id: no-critical-images
    severity: HIGH
    criteria: { field: image.vulnerabilities.critical, op: gt, value: 0 }
    enforcement: [deny-admission]
  - id: signed-images-only
    severity: HIGH
    criteria: { field: image.signed, op: notEquals, value: true }
    enforcement: [deny-admission]
  - id: no-root-images
    severity: MEDIUM
    criteria: { field: image.runsAsRoot, op: equals, value: true }
`);
  const subjects = createSubjects();
  const set = compilePolicySet((await loadPacks([{ input: pack }], subjects)).policies, subjects);
  const { objects } = parseManifests(`apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: prod }
spec:
  template:
    spec:
      containers:
        - name: app
          image: registry.example/app:1
        - name: sidecar
          image: registry.example/proxy:2
        - name: unknown
          image: registry.example/never-scanned:1
`, join(work, 'deploy.yaml'));
  const known: Record<string, ImageFacts> = {
    'registry.example/app:1': imageFactsFromData({
      now: '2026-06-01T00:00:00Z', ref: 'registry.example/app:1',
      vulnerabilities: [{ id: 'CVE-1', severity: 'CRITICAL', package: { name: 'openssl', version: '3' } }],
      hygiene: { user: '' },
      signature: { signed: true, trusted: true, signers: ['release'] },
    }, 'app'),
    'registry.example/proxy:2': imageFactsFromData({
      now: '2026-06-01T00:00:00Z', ref: 'registry.example/proxy:2',
      hygiene: { user: '101' },
      signature: { signed: false, trusted: false, signers: [] },
    }, 'proxy'),
  };
  const verdict = evaluate({ kind: 'workload', value: { objects, imageFacts: (ref: string) => known[ref] } }, set, { stage: 'deploy' });
  const got = verdict.violations.map((v) => `${v.id} ${v.resource.k8s?.container}`).sort();
  assert.deepEqual(got, ['no-critical-images app', 'no-root-images app', 'signed-images-only sidecar']);
  assert.equal(verdict.decision, 'deny');
  // The violation points at the container's image line in the manifest.
  const crit = verdict.violations.find((v) => v.id === 'no-critical-images')!;
  assert.equal(crit.resource.k8s?.line, 9);
  // Without a lookup nothing about images is known: no image policy applies (not even notEquals).
  const blind = evaluate({ kind: 'workload', value: { objects } }, set, { stage: 'deploy' });
  assert.deepEqual(blind.violations, []);
});
