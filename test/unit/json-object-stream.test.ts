/** The top-level object splitter agrees with JSON.parse on generated documents and refuses malformed ones. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { objectMembers } from '../../src/vuln/feeds/json-object-stream.js';

const dir = mkdtempSync(join(tmpdir(), 'gh-jsonstream-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let seed = 42;
const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
const TRICKY = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'é', '😀', '\u2028', 'a'];
const str = () => Array.from({ length: rnd(12) }, () => TRICKY[rnd(TRICKY.length)]).join('');
function value(depth: number): unknown {
  const k = depth > 3 ? rnd(4) : rnd(6);
  if (k === 0) return str();
  if (k === 1) return rnd(1000) - 500;
  if (k === 2) return [null, true, false][rnd(3)];
  if (k === 3) return 1.5e10;
  if (k === 4) return Array.from({ length: rnd(4) }, () => value(depth + 1));
  return Object.fromEntries(Array.from({ length: rnd(4) }, () => [str(), value(depth + 1)]));
}

async function members(path: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const [k, v] of objectMembers(path)) out[k] = v;
  return out;
}

test('200 generated documents (tricky keys and strings, any nesting, any spacing) read exactly as JSON.parse reads them', async () => {
  for (let i = 0; i < 200; i++) {
    const doc = Object.fromEntries(Array.from({ length: rnd(8) }, (_, j) => [`${str()}${j}`, value(0)]));
    const text = JSON.stringify(doc, null, i % 3 === 0 ? undefined : i % 3);
    const file = join(dir, `d${i}.json`);
    writeFileSync(file, text);
    assert.deepEqual(await members(file), JSON.parse(text), text);
  }
});

test('members larger than the read chunk, split across reads', async () => {
  const doc = { big: { 'CVE-1': { description: 'x'.repeat(3 << 20) } }, small: { 'CVE-2': {} } };
  writeFileSync(join(dir, 'big.json'), JSON.stringify(doc));
  assert.deepEqual(await members(join(dir, 'big.json')), doc);
});

test('malformed documents are refused with a reason', async () => {
  for (const bad of ['[1,2]', '{"a":1', '{"a":1} x', '{"a":}', '{"a":1,}', '{"a":[1}', '', '{5:1}', '{"a":1 "b":2}']) {
    writeFileSync(join(dir, 'bad.json'), bad);
    await assert.rejects(members(join(dir, 'bad.json')), (e: Error) => e.name === 'Error' && e.message.length > 0, bad);
  }
});
