/**
 * How the walker hands files to visitors: small files are read once and visited while the
 * tar stream moves on, large ones are streamed; either way the result kept for a path is
 * the one from the entry that wrote it last, however the visits interleave.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openImage, walkImage, wholeContent, type FileVisitor } from '../../src/image/index.js';
import { OciLayoutWriter } from '../fixtures/oci-builder.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-visitors-'));
after(() => rmSync(work, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads the whole content as a stream would be read, and returns it as text. */
async function drain(content: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of content) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

describe('walker visitors', () => {
  it('keeps the last writer of each path although earlier visits finish later', async () => {
    const w = new OciLayoutWriter(join(work, 'oci'));
    const big = Buffer.alloc(600 * 1024, 0x61);
    // The large file first: its visit is awaited, so it must not hold back the small ones.
    const files = (tag: string) => [
      { name: 'data/big.bin', content: Buffer.concat([Buffer.from(`${tag}:`), big]) },
      ...Array.from({ length: 30 }, (_, i) => ({ name: `data/f${i}.txt`, content: `${tag} file ${i}` })),
    ];
    // The upper layer writes every path twice (tar allows it; the later entry wins).
    w.tag(await w.image({ layers: [{ entries: files('lower') }, { entries: [...files('early'), ...files('final')] }] }), 'v');
    let visits = 0;
    const slowEarly: FileVisitor<string> = {
      name: 'slow-early',
      wants: (path) => path.startsWith('/data/'),
      async visit({ content }) {
        const text = await drain(content);
        // The superseded copies take longest, so their visits end after the final ones.
        await sleep(text.startsWith('early') ? 30 : 0);
        visits++;
        return text.slice(0, 5);
      },
    };
    const img = await openImage(`oci:${w.dir}:v`);
    const walk = await walkImage(img, { visitors: [slowEarly, { ...slowEarly, name: 'second' }] });
    await img.close();
    for (const name of ['slow-early', 'second']) {
      const results = walk.results.get(name)!;
      assert.equal(results.length, 31);
      for (const r of results) assert.deepEqual([r.layer, r.result], [1, 'final'], r.path);
    }
    assert.equal(visits, 2 * 3 * 31, 'every entry visited by both visitors');
  });

  it('small files come as whole buffers; large ones only as streams', async () => {
    const w = new OciLayoutWriter(join(work, 'oci2'));
    w.tag(await w.image({ layers: [{ entries: [{ name: 'small', content: 'tiny' }, { name: 'large', content: Buffer.alloc(300 * 1024, 1) }] }] }), 'v');
    const got: Record<string, { whole: boolean; bytes: number }> = {};
    const img = await openImage(`oci:${w.dir}:v`);
    await walkImage(img, {
      visitors: [{ name: 'v', wants: () => true, visit: async ({ path, content }) => void (got[path] = { whole: wholeContent(content) !== undefined, bytes: (await drain(content)).length }) }],
    });
    await img.close();
    assert.deepEqual(got, { '/small': { whole: true, bytes: 4 }, '/large': { whole: false, bytes: 300 * 1024 } });
  });
});
