/**
 * NDB rpmdb (`Packages.db`, openSUSE/SLES 15): databases written by rpm 4.18 itself, built
 * with --enable-ndb by .ci/setup.d/57-rpm-ndb.sh from the real headers of the sqlite
 * fixture: `basic` (each package once) and `churn` (300 imports, then 150 erased: two slot
 * pages, free slots, moved blobs). The inventory must equal that rpm's own `rpm -qa`;
 * damaged copies give an NdbFormatError (one line) and a warning naming the file, never a crash.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { NdbFormatError, ndbPackageBlobs } from '../../src/inventory/analyzers/rpm-ndb.js';
import { cachedPath, missing } from '../helpers/components.js';
import { rpmQaLine } from './helpers.js';

const dir = cachedPath('inventory', 'rpm-ndb');
const ready = existsSync(join(dir, '.done-v1'));
const DBS = { basic: 'var/lib/rpm/Packages.db', churn: 'usr/lib/sysimage/rpm/Packages.db' };

/** Asserts that reading `buf` fails with a one-line NdbFormatError matching `re`. */
function rejects(buf: Buffer, re: RegExp, what: string): void {
  assert.throws(
    () => [...ndbPackageBlobs(buf)],
    (e: unknown) => e instanceof NdbFormatError && re.test(e.message) && !e.message.includes('\n'),
    what,
  );
}

describe('rpm NDB Packages.db: inputs made by hand', () => {
  test('too short, zeroes, absurd slot page count', () => {
    rejects(Buffer.from('not a database'), /too short/, 'tiny');
    rejects(Buffer.alloc(8192), /bad magic/, 'zeroes');
    const head = Buffer.alloc(4096);
    head.write('RpmP', 0, 'latin1');
    head.writeUInt32LE(0xffffffff, 12);
    rejects(head, /slot pages do not fit/, 'slot pages');
    head.writeUInt32LE(1, 4);
    rejects(head, /version 1/, 'version');
  });
});

describe('rpm NDB Packages.db', { skip: missing(ready, 'NDB rpmdb fixtures (bash .ci/setup.d/57-rpm-ndb.sh)') }, () => {
  for (const [name, db] of Object.entries(DBS)) {
    test(`${name}: packages equal rpm -qa of rpm 4.18 built with ndb`, async () => {
      const want = readFileSync(join(dir, name, 'rpm-qa.txt'), 'utf8').trim().split('\n').sort();
      assert.ok(want.length >= 2);
      const inv = await inventoryDirectory(join(dir, name));
      assert.deepEqual(inv.warnings, []);
      const got = inv.packages.filter((p) => p.analyzer === 'rpm').map(rpmQaLine).sort();
      assert.deepEqual(got, want);
      assert.ok(inv.packages.every((p) => p.location.path === `/${db}`));
    });
  }

  test('churn database has what it is meant to exercise', () => {
    const buf = readFileSync(join(dir, 'churn', DBS.churn));
    const s = slots(buf);
    assert.equal(buf.readUInt32LE(12), 2, 'two slot pages');
    assert.equal(s.filter((x) => x.blk !== 0).length, 150);
    assert.ok(s.some((x) => x.blk === 0), 'free slots');
  });

  test('damaged copies: NdbFormatError with a one-line message', () => {
    const good = readFileSync(join(dir, 'basic', DBS.basic));
    assert.equal([...ndbPackageBlobs(good)].length, 2);
    const [first, second] = slots(good).filter((x) => x.blk !== 0);
    const fileBlocks = good.length / 16;
    const edit = (f: (b: Buffer) => void) => {
      const b = Buffer.from(good);
      f(b);
      return b;
    };
    rejects(good.subarray(0, good.length - 16), /past the end of the file/, 'truncated by a block');
    rejects(good.subarray(0, good.length - 5), /not a multiple of 16/, 'truncated mid-block');
    rejects(good.subarray(0, 4096), /past the end/, 'only the slot page');
    rejects(edit((b) => b.write('XXXX', 0, 'latin1')), /bad magic/, 'file magic');
    rejects(edit((b) => b.write('Slxt', first.at, 'latin1')), /bad slot magic/, 'slot magic');
    rejects(edit((b) => b.writeUInt32LE(fileBlocks + 10, first.at + 8)), /past the end/, 'slot past EOF');
    rejects(edit((b) => b.writeUInt32LE(0xffffffff, first.at + 12)), /past the end/, 'huge block count');
    rejects(edit((b) => b.writeUInt32LE(1, first.at + 8)), /bad slot/, 'slot pointing into the slot pages');
    rejects(edit((b) => b.writeUInt32LE(second.blk, first.at + 8)), /overlap/, 'two slots, one blob');
    rejects(edit((b) => b.writeUInt32LE(second.pkg, first.at + 4)), /two slots/, 'duplicate package index');
    rejects(edit((b) => b.writeUInt32LE(0xfffffff0, first.blk * 16 + 12)), /does not fit/, 'blob length huge');
    rejects(edit((b) => b.writeUInt32LE(7, first.blk * 16 + 12)), /does not fit/, 'blob length small');
    rejects(edit((b) => b.write('XXXX', first.blk * 16, 'latin1')), /bad blob magic/, 'blob magic');
    rejects(edit((b) => b.writeUInt32LE(99, first.blk * 16 + 4)), /belongs to package 99/, 'blob of another package');
    rejects(edit((b) => (b[(first.blk + first.count) * 16 - 1] ^= 1)), /trailer/, 'tail magic');
    rejects(edit((b) => (b[first.blk * 16 + 200] ^= 1)), /checksum/, 'blob content');
  });

  test('random damage: blobs or an NdbFormatError, never another error or a hang', () => {
    const good = readFileSync(join(dir, 'churn', DBS.churn));
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const hot = slots(good)
      .filter((x) => x.blk !== 0)
      .flatMap((x) => [x.at, x.blk * 16]);
    for (let i = 0; i < 400; i++) {
      const b = Buffer.from(good);
      for (let k = 0; k < 3; k++) {
        // Mostly the places that steer the reader: file header, slots, blob heads.
        const at = i % 4 === 0 ? rand(b.length) : i % 4 === 1 ? rand(32) : hot[rand(hot.length)] + rand(16);
        b[at] = rand(256);
      }
      try {
        for (const blob of ndbPackageBlobs(b)) assert.ok(blob.length <= b.length);
      } catch (e) {
        assert.ok(e instanceof NdbFormatError, `iteration ${i}: ${String(e)}`);
      }
    }
  });

  test('damaged databases: a warning naming the file, the rest of the inventory kept', async () => {
    const good = readFileSync(join(dir, 'basic', DBS.basic));
    const root = mkdtempSync(join(tmpdir(), 'gh-rpm-ndb-'));
    const cases: Record<string, Buffer> = {
      truncated: good.subarray(0, good.length - 700),
      'bad-magic': Buffer.concat([Buffer.from('XXXX'), good.subarray(4)]),
      tiny: Buffer.from('not a database'),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      mkdirSync(join(root, name, 'var/lib/rpm'), { recursive: true });
      writeFileSync(join(root, name, DBS.basic), bytes);
      mkdirSync(join(root, name, 'usr/lib/node_modules/left-pad'), { recursive: true });
      writeFileSync(join(root, name, 'usr/lib/node_modules/left-pad/package.json'), '{"name":"left-pad","version":"1.3.0"}');
      const inv = await inventoryDirectory(join(root, name));
      const w = inv.warnings.find((x) => x.analyzer === 'rpm');
      assert.ok(w, `${name}: expected a warning`);
      assert.equal(w.path, `/${DBS.basic}`);
      assert.deepEqual(inv.packages.map((p) => p.name), ['left-pad']);
    }
  });
});

/** The slots of a Packages.db: file offset, package index, first block, block count. */
function slots(buf: Buffer): Array<{ at: number; pkg: number; blk: number; count: number }> {
  const out = [];
  for (let at = 32; at < buf.readUInt32LE(12) * 4096; at += 16) {
    out.push({ at, pkg: buf.readUInt32LE(at + 4), blk: buf.readUInt32LE(at + 8), count: buf.readUInt32LE(at + 12) });
  }
  return out;
}
