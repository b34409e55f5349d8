/**
 * The Debian tracker is imported as a stream: peak memory does not grow with the size of the
 * file. Two generated trackers with the same 100 advisories, one listing them under three
 * times as many source packages (~50 MB vs ~150 MB of text), are imported in fresh
 * processes; their peak RSS must stay within a small margin of each other (parsing the
 * whole text, as before, costs several times the file size on top).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const work = mkdtempSync(join(tmpdir(), 'gh-tracker-stream-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

function writeTracker(path: string, packages: number): void {
  const fd = openSync(path, 'w');
  const description = 'x'.repeat(5000);
  writeSync(fd, '{');
  for (let p = 0; p < packages; p++) {
    const issues: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      issues[`CVE-2099-${String(i).padStart(5, '0')}`] = { description: `${description}${i}`, releases: { bookworm: { status: 'resolved', fixed_version: `1.${i}-1`, urgency: 'low' } } };
    }
    writeSync(fd, `${p ? ',' : ''}${JSON.stringify(`pkg${p}`)}:${JSON.stringify(issues)}`);
  }
  writeSync(fd, '}');
  closeSync(fd);
}

/** Imports in a fresh process; returns its peak RSS in MB and what it imported. */
function importPeak(file: string): { rssMb: number; added: number; affected: number } {
  const feeds = fileURLToPath(new URL('../../src/vuln/feeds/index.ts', import.meta.url));
  const dbModule = fileURLToPath(new URL('../../src/vuln/db.ts', import.meta.url));
  const script = `
    const { VulnDb } = await import(${JSON.stringify(dbModule)});
    const { importPath } = await import(${JSON.stringify(feeds)});
    const db = VulnDb.open(${JSON.stringify(`${file}.db`)}, { create: true });
    const stats = await importPath(db, ${JSON.stringify(file)});
    const affected = db.candidates('Debian:bookworm', 'pkg7').length;
    db.close();
    console.log(JSON.stringify({ rssMb: process.resourceUsage().maxRSS / 1024, added: stats.added, affected }));`;
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('tracker import memory does not grow with the file size', () => {
  const small = join(work, 'small.json');
  const large = join(work, 'large.json');
  writeTracker(small, 100);
  writeTracker(large, 300);
  const a = importPeak(small);
  const b = importPeak(large);
  assert.equal(a.added, 100);
  assert.equal(b.added, 100);
  assert.equal(b.affected, 100, 'every CVE of pkg7 is in the database');
  // The large file has ~100 MB more text; a whole-document parse would need several hundred MB more.
  assert.ok(Math.abs(b.rssMb - a.rssMb) < 40, `peak RSS ${a.rssMb.toFixed(0)} MB for ~50 MB of text, ${b.rssMb.toFixed(0)} MB for ~150 MB`);
});
