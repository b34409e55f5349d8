/** The manifest loader: positions, lists, directories, bad input noted with file and line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { loadManifests, parseManifests } from '../../src/kube/manifests.js';

const POD = `apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns
  labels: { app: a }
spec:
  containers:
    - name: c
      image: nginx:1.25
      securityContext:
        privileged: true
`;

test('objects carry metadata and field positions (line of the value)', () => {
  const { objects, notes } = parseManifests(`# comment\n---\n${POD}`, 'pod.yaml');
  assert.deepEqual(notes, []);
  assert.equal(objects.length, 1);
  const o = objects[0]!;
  assert.equal(o.kind, 'Pod');
  assert.equal(o.name, 'p');
  assert.equal(o.namespace, 'ns');
  assert.deepEqual(o.labels, { app: 'a' });
  assert.equal(o.source.line, 3);
  assert.equal(o.positionOf(['spec', 'containers', 0, 'securityContext', 'privileged']).line, 14);
  assert.equal(o.positionOf(['spec', 'containers', 0, 'image']).line, 12);
  // A missing field falls back to its closest existing parent.
  assert.equal(o.positionOf(['spec', 'containers', 0, 'securityContext', 'runAsUser']).line, 14);
});

test('List kinds are expanded with item positions', () => {
  const text = `apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata: { name: a }\n  - apiVersion: v1\n    kind: Secret\n    metadata: { name: b }\n`;
  const { objects } = parseManifests(text, 'l.yaml');
  assert.deepEqual(objects.map((o) => `${o.kind}/${o.name}@${o.source.line}`), ['ConfigMap/a@4', 'Secret/b@7']);
});

test('items of typed lists (PodList as the API serves it) get the list\'s item kind', () => {
  const text = `apiVersion: v1\nkind: PodList\nitems:\n  - metadata: { name: a, namespace: x }\n    spec: { hostPID: true, containers: [{ name: c, image: i }] }\n  - kind: Pod\n    apiVersion: v1\n    metadata: { name: b }\n`;
  const { objects, notes } = parseManifests(text, 'pods.json');
  assert.deepEqual(notes, []);
  assert.deepEqual(objects.map((o) => `${o.apiVersion} ${o.kind}/${o.name}@${o.source.line}`), ['v1 Pod/a@4', 'v1 Pod/b@6']);
  assert.equal(objects[0]!.raw.spec.hostPID, true);
  assert.equal(objects[0]!.positionOf(['spec', 'hostPID']).line, 5);
});

test('malformed YAML is noted with file and line, and the other documents still load', () => {
  const text = `${POD}---\nkind: Pod\nmetadata: {name: [unclosed\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: after }\n`;
  const { objects, notes } = parseManifests(text, 'bad.yaml');
  assert.deepEqual(objects.map((o) => o.name), ['p', 'after']);
  assert.equal(notes.length, 1);
  assert.equal(notes[0]!.level, 'error');
  assert.equal(notes[0]!.file, 'bad.yaml');
  assert.ok(notes[0]!.line! >= 14 && notes[0]!.line! <= 16, `line ${notes[0]!.line}`);
  assert.match(notes[0]!.message, /invalid YAML/);
});

test('YAML alias bombs are capped and reported, not expanded', () => {
  const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const prev = String.fromCharCode(96 + i);
    const cur = String.fromCharCode(97 + i);
    levels.push(`${cur}: &${cur} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  const bomb = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: bomb }\ndata:\n${levels.map((l) => `  ${l}`).join('\n')}\n`;
  const started = Date.now();
  const { objects, notes } = parseManifests(`${bomb}---\n${POD}`, 'bomb.yaml');
  assert.ok(Date.now() - started < 5000);
  assert.deepEqual(objects.map((o) => o.name), ['p']);
  assert.equal(notes.length, 1);
  assert.match(notes[0]!.message, /alias/);
  assert.equal(notes[0]!.line, 1);
});

test('unknown kinds and CRDs are kept and noted; kindless and scalar documents are noted', () => {
  const text = `apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n---\nfoo: bar\n---\njust a string\n---\n`;
  const { objects, notes } = parseManifests(text, 'x.yaml');
  assert.equal(objects.length, 1);
  assert.equal(objects[0]!.known, false);
  assert.deepEqual(notes.map((n) => [n.level, n.line, n.message.split(' ').slice(0, 3).join(' ')]), [
    ['note', 1, 'unknown kind Widget'],
    ['error', 5, 'object has no'],
    ['error', 7, 'document is not'],
  ]);
});

test('directories are walked recursively (yaml, yml, json), stdin is read for "-", size limit applies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-manifests-'));
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a.yaml'), POD);
  writeFileSync(join(dir, 'sub', 'b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } }));
  writeFileSync(join(dir, 'sub', 'c.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm }\n');
  writeFileSync(join(dir, 'README.md'), '# not a manifest');
  writeFileSync(join(dir, 'big.yaml'), `${POD}${'#'.repeat(2000)}\n`);
  const r = await loadManifests([dir, '-'], { stdin: Readable.from([POD.replace('name: p', 'name: from-stdin')]), maxFileBytes: 1000 });
  assert.deepEqual(r.objects.map((o) => o.name).sort(), ['cm', 'from-stdin', 'p', 's']);
  assert.equal(r.objects.find((o) => o.name === 's')!.source.file, join(dir, 'sub', 'b.json'));
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0]!.message, /larger than 1000 bytes/);
  await assert.rejects(loadManifests([join(dir, 'missing.yaml')]), /cannot read/);
});
