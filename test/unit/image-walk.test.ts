import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collectFiles, openImage, walkImage, type FileVisitor } from '../../src/image/index.js';
import { OciLayoutWriter } from '../fixtures/oci-builder.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-walk-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function image(layers: Parameters<OciLayoutWriter['image']>[0]['layers']) {
  const w = new OciLayoutWriter(join(work, String(Math.random()).slice(2)));
  const m = await w.image({ layers });
  w.tag(m, 't');
  return openImage(`oci:${w.dir}:t`);
}

describe('walkImage visitors', () => {
  it('several visitors wanting the same file each get all of it', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 1);
    const img = await image([{ entries: [{ name: 'bin/app', content: big, mode: 0o755 }, { name: 'etc/x', content: 'x' }] }]);
    const counter = (name: string, stopAfter?: number): FileVisitor<number> => ({
      name,
      wants: (p) => p === '/bin/app',
      visit: async ({ content }) => {
        let n = 0;
        for await (const c of content) {
          n += (c as Buffer).length;
          if (stopAfter !== undefined && n >= stopAfter) break;
        }
        return n;
      },
    });
    const walk = await walkImage(img, { visitors: [counter('a'), counter('b'), counter('early', 1000), collectFiles('c', ['/bin/app', '/etc/x'], 8 * 1024 * 1024)] });
    assert.equal(walk.results.get('a')![0]!.result, big.length);
    assert.equal(walk.results.get('b')![0]!.result, big.length);
    assert.ok((walk.results.get('early')![0]!.result as number) >= 1000);
    const c = walk.results.get('c')!;
    assert.equal(c.length, 2);
    assert.ok((c.find((r) => r.path === '/bin/app')!.result as Buffer).equals(big));
    assert.deepEqual(walk.warnings, []);
  });

  it('keeps results only for files that survive, from their last layer', async () => {
    const img = await image([
      { entries: [{ name: 'a', content: 'one' }, { name: 'b', content: 'gone' }, { name: 'd/e', content: 'e' }] },
      { entries: [{ name: 'a', content: 'two' }, { name: '.wh.b', content: '' }, { name: 'd/.wh..wh..opq', content: '' }] },
    ]);
    const walk = await walkImage(img, { visitors: [collectFiles('all', () => true)] });
    const got = walk.results.get('all')!.map((r) => [r.path, r.layer, (r.result as Buffer).toString()]);
    assert.deepEqual(got, [['/a', 1, 'two']]);
  });

  it('a visitor that throws becomes a warning, the walk goes on', async () => {
    const img = await image([{ entries: [{ name: 'a', content: 'x'.repeat(100000) }, { name: 'b', content: 'y' }] }]);
    const bad: FileVisitor = { name: 'bad', wants: () => true, visit: async () => { throw new Error('boom'); } };
    const walk = await walkImage(img, { visitors: [bad, collectFiles('ok', ['/b'])] });
    assert.equal(walk.results.get('ok')!.length, 1);
    assert.deepEqual(walk.warnings, ['bad: /a: boom', 'bad: /b: boom']);
  });
});
