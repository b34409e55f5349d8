/**
 * Differential test of the fast field locator: on generated manifests in the styles
 * kubectl, helm and people write (indented or flush sequences, comments, quoted keys, flow
 * collections, block scalars, several documents), every field's line must equal the line
 * the `yaml` library's own parse tree gives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify } from 'yaml';
import { lazyExact, parseManifests, splitDocuments, type FieldPath } from '../../src/kube/manifests.js';

let seed = 42;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const pick = <T,>(xs: T[]): T => xs[rnd(xs.length)]!;

function randomValue(depth: number): unknown {
  const r = rnd(depth > 3 ? 4 : 7);
  if (r === 0) return pick(['nginx:1.25', 'a: b', '', 'multi\nline\ntext', 'x'.repeat(rnd(90)), '#notacomment', '- dash']);
  if (r === 1) return rnd(70000);
  if (r === 2) return pick([true, false, null]);
  if (r === 3) return `v${rnd(100)}`;
  if (r === 4 || r === 5) {
    const o: Record<string, unknown> = {};
    for (let i = rnd(5) + 1; i > 0; i--) o[pick(['name', 'image', 'ports', 'env', 'value', 'securityContext', 'privileged', 'app.kubernetes.io/name', 'key with space', 'x-y', `k${rnd(50)}`])] = randomValue(depth + 1);
    return o;
  }
  return Array.from({ length: rnd(4) + 1 }, () => randomValue(depth + 1));
}

function allPaths(v: unknown, base: FieldPath = []): FieldPath[] {
  const out: FieldPath[] = [base];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...allPaths(x, [...base, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...allPaths(x, [...base, k]));
  return out;
}

test('fast positions equal the yaml library positions on 600 generated documents', () => {
  let compared = 0;
  for (let round = 0; round < 60; round++) {
    const docs = Array.from({ length: 10 }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `d${round}-${i}` }, data: randomValue(0) }));
    const text = docs
      .map((d) => {
        let y = stringify(d, { indentSeq: rnd(2) === 0, lineWidth: 0, flowCollectionPadding: rnd(2) === 0 });
        if (rnd(3) === 0) y = `# leading comment\n${y}`;
        if (rnd(4) === 0) y = y.replace(/^(\s*)(name: .*)$/m, '$1$2 # trailing comment');
        if (rnd(5) === 0) y = y.replace(/^kind: ConfigMap$/m, 'kind: "ConfigMap"');
        return y;
      })
      .join(rnd(2) ? '---\n' : '--- \n');
    const { objects, notes } = parseManifests(text, 't.yaml');
    assert.deepEqual(notes, []);
    assert.equal(objects.length, docs.length);
    const chunks = splitDocuments(text).filter((c) => /^[ \t]*[^\s#%]/m.test(c.text));
    objects.forEach((o, i) => {
      const exact = lazyExact(chunks[i]!.text);
      for (const path of allPaths(o.raw)) {
        const want = exact(path).line + chunks[i]!.firstLine;
        const got = o.positionOf(path).line;
        compared++;
        if (got !== want) assert.fail(`doc ${i} path ${JSON.stringify(path)}: fast ${got}, exact ${want}\n${chunks[i]!.text}`);
      }
    });
  }
  assert.ok(compared > 5000, `compared ${compared}`);
});

test('flow-style and JSON documents are located exactly too', () => {
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'j' }, spec: { containers: [{ name: 'c', image: 'i', securityContext: { privileged: true } }] } }, null, 2);
  const text = `${json}\n---\n{apiVersion: v1, kind: Pod, metadata: {name: f}}\n`;
  const lines = text.split('\n');
  const { objects } = parseManifests(text, 'j.json');
  assert.equal(objects[0]!.positionOf(['spec', 'containers', 0, 'securityContext', 'privileged']).line, lines.findIndex((l) => l.includes('"privileged"')) + 1);
  assert.equal(objects[1]!.positionOf(['metadata', 'name']).line, lines.findIndex((l) => l.includes('name: f')) + 1);
});
