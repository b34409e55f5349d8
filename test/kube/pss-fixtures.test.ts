/**
 * Differential test against Kubernetes' own Pod Security fixtures: every pass file must be
 * admitted and every fail file rejected, at its level and policy version.
 */
import { test } from 'node:test';
import { subjects } from '../../src/subjects/index.js';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { evaluatePss } from '../../src/kube/pss/evaluate.js';
import { missing } from '../helpers/components.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const testdata = join(repoRoot, '..', 'shared', 'reference', 'pod-security', 'test', 'testdata');

test('Pod Security Standards agree with every upstream fixture', { skip: missing(existsSync(testdata), `fixtures at ${testdata}`) }, () => {
  const mismatches: string[] = [];
  let total = 0;
  for (const level of ['baseline', 'restricted'] as const) {
    for (const version of readdirSync(join(testdata, level))) {
      const minor = Number(/^v1\.(\d+)$/.exec(version)![1]);
      for (const expect of ['pass', 'fail'] as const) {
        const dir = join(testdata, level, version, expect);
        if (!existsSync(dir)) continue;
        for (const f of readdirSync(dir)) {
          const pod = parse(readFileSync(join(dir, f), 'utf8'));
          const result = evaluatePss({ metadata: pod.metadata ?? {}, spec: pod.spec ?? {} }, { level, minor });
          total++;
          const admitted = result.length === 0;
          if (admitted !== (expect === 'pass')) {
            mismatches.push(`${level}/${version}/${expect}/${f}: ${admitted ? 'admitted' : `rejected (${result.map((r) => r.checkId).join(',')})`}`);
          }
        }
      }
    }
  }
  assert.ok(total >= 4500, `expected the full fixture set, saw ${total}`);
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${total} fixtures disagree`);
});

test('the PSS policies in the pack give the same verdicts through the manifest loader', { skip: missing(existsSync(testdata), `fixtures at ${testdata}`) }, async () => {
  const { loadManifests } = await import('../../src/kube/manifests.js');
  const { checkObjects } = await import('../../src/kube/check.js');
  const mismatches: string[] = [];
  for (const level of ['baseline', 'restricted'] as const) {
    for (const version of readdirSync(join(testdata, level))) {
      for (const expect of ['pass', 'fail'] as const) {
        const dir = join(testdata, level, version, expect);
        if (!existsSync(dir)) continue;
        const { objects, notes } = await loadManifests([dir]);
        assert.deepEqual(notes, []);
        const r = await checkObjects(objects, notes, { subjects: subjects(), pss: { level, minor: Number(version.slice(3)) } });
        const flagged = new Set(r.findings.map((f) => f.resource.k8s!.file));
        for (const o of objects) {
          if (flagged.has(o.source.file) !== (expect === 'fail')) mismatches.push(`${o.source.file.slice(testdata.length + 1)}`);
        }
      }
    }
  }
  assert.deepEqual(mismatches, []);
});
