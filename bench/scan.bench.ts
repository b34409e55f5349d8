/**
 * npm run bench:scan — a warm-database vulnerability scan (inventory + matching + secret and
 * hygiene checks, one walk) of the Debian test image and of a language-heavy image (2,000
 * node_modules plus the real Go/Java/Python/rpm artefacts), each as a ratio to the
 * image-read floor measured in the same run (walking the same image with no visitors).
 * Also the import time of all shared advisories and the peak RSS of a scan run in a process
 * of its own (the import, done once above, is not part of a user's scan).
 * Goals (issue 4): ≤ 1.5x the floor, RSS ≤ 300 MB, import ≤ 10 s, ≥ 2x faster than
 * osv-scanner (offline, same advisories, same image as a docker-archive; bench/osv-peer.ts;
 * build it with bench/build-osv-scanner.sh, else the peer line says it is missing).
 * Usage: npm run bench:scan [-- --runs N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hygieneVisitors, imageHygiene } from '../src/hygiene/index.js';
import { openImage, walkImage, type ImageWalk } from '../src/image/index.js';
import { inventoryImage } from '../src/inventory/index.js';
import { VulnDb } from '../src/vuln/db.js';
import { importPath } from '../src/vuln/feeds/index.js';
import { scanInventory } from '../src/vuln/scan.js';
import { cachedPath } from '../test/helpers/components.js';
import { buildNodeImage } from './images.js';
import { buildOsvDb, osvScannerAvailable, runOsvScanner, toDockerArchive } from './osv-peer.js';

// Child mode: one scan of REF against the warm DB, then this process's peak RSS — the
// memory a user's `image scan` needs, apart from the advisory import done above.
const childArg = process.argv.indexOf('--child-scan');
if (childArg > 0) {
  const [ref, dbPath] = process.argv.slice(childArg + 1);
  const childDb = VulnDb.open(dbPath!);
  const img = await openImage(ref!);
  let walk: ImageWalk | undefined;
  const inv = await inventoryImage(img, { extraVisitors: hygieneVisitors(), onWalk: (w) => (walk = w) });
  scanInventory(childDb, inv, ref!, { maxDbAgeDays: 100_000 });
  if (walk) imageHygiene(img, walk);
  await img.close();
  childDb.close();
  console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const vulndata = join(process.cwd(), '..', 'shared', 'vulndata');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-scan-'));
const db = VulnDb.open(join(work, 'vuln.db'), { create: true });
try {
  const importMs = await ms(async () => {
    for (const feed of ['go-vulndb/data/osv', 'pypa/vulns', 'alpine-secdb']) await importPath(db, join(vulndata, feed));
  });
  console.log(`import of all shared advisories: ${(importMs / 1000).toFixed(2)} s (goal ≤ 10 s${importMs <= 10_000 ? '' : ' MISSED'})`);

  const scan = async (ref: string) => {
    const img = await openImage(ref);
    let walk: ImageWalk | undefined;
    const inv = await inventoryImage(img, { extraVisitors: hygieneVisitors(), onWalk: (w) => (walk = w) });
    const report = scanInventory(db, inv, ref, { maxDbAgeDays: 100_000 });
    const extra = walk ? imageHygiene(img, walk) : [];
    await img.close();
    return report.findings.length + extra.length;
  };
  const floor = async (ref: string) => {
    const img = await openImage(ref);
    await walkImage(img);
    await img.close();
  };

  const targets: [string, string][] = [];
  const debian = cachedPath('oci');
  if (existsSync(join(debian, 'index.json'))) targets.push(['Debian bookworm minbase image', `oci:${debian}:debian`]);
  else console.log('Debian test image missing (bash .ci/setup); left out');
  targets.push(['2,000 node_modules + artefacts', await buildNodeImage(work)]);

  let worst = 0;
  let scanRss = 0;
  for (const [label, ref] of targets) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, '--child-scan', ref, join(work, 'vuln.db')], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`child scan of ${ref} failed: ${child.stderr}`);
    scanRss = Math.max(scanRss, (JSON.parse(child.stdout.trim().split('\n').pop()!) as { maxRssMb: number }).maxRssMb);
    const f: number[] = [];
    const s: number[] = [];
    let findings = 0;
    for (let i = 0; i <= RUNS; i++) {
      const a = await ms(() => floor(ref));
      const b = await ms(async () => (findings = await scan(ref)));
      if (i > 0) {
        f.push(a);
        s.push(b);
      }
    }
    const ratio = median(s) / median(f);
    worst = Math.max(worst, ratio);
    console.log(`${label.padEnd(32)} floor ${median(f).toFixed(0).padStart(6)} ms  scan ${median(s).toFixed(0).padStart(6)} ms  ratio ${ratio.toFixed(2)} (goal ≤ 1.50${ratio <= 1.5 ? '' : ' MISSED'})  ${findings} findings`);
  }
  // The peer: osv-scanner offline on the language-heavy image (the advisories both have are
  // Go vulndb + PyPA), against Gatehouse's vulnerability scan (inventory + matching, no
  // secret/hygiene checks, which osv-scanner does not do) of the same archive, in process.
  if (osvScannerAvailable()) {
    const archive = toDockerArchive(targets[targets.length - 1]![1], join(work, 'node.tar'));
    const osvDb = buildOsvDb(work, vulndata);
    const ours: number[] = [];
    const theirs: number[] = [];
    let ourIds: string[] = [];
    let theirIds: string[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const o = await ms(async () => {
        const img = await openImage(`docker-archive:${archive}`);
        const report = scanInventory(db, await inventoryImage(img), archive, { maxDbAgeDays: 100_000 });
        await img.close();
        ourIds = [...new Set(report.findings.map((f) => f.id))].sort();
      });
      const p = runOsvScanner(archive, osvDb);
      theirIds = p.ids;
      if (i > 0) {
        ours.push(o);
        theirs.push(p.ms);
      }
    }
    const speedup = median(theirs) / median(ours);
    console.log(`osv-scanner 2.6.0 (offline)          ${median(theirs).toFixed(0).padStart(6)} ms  gatehouse ${median(ours).toFixed(0).padStart(6)} ms  ${speedup.toFixed(2)}x faster (goal ≥ 2${speedup >= 2 ? '' : ' MISSED'})`);
    console.log(`  ids: gatehouse [${ourIds.join(' ')}]  osv-scanner [${theirIds.join(' ')}]`);
  } else console.log('osv-scanner peer not built (bash bench/build-osv-scanner.sh); peer ratio not measured');
  const rss = process.resourceUsage().maxRSS / 1024;
  console.log(`worst ratio ${worst.toFixed(2)}; peak RSS of a scan process (warm DB, own process) ${scanRss.toFixed(0)} MB (goal ≤ 300${scanRss <= 300 ? '' : ' MISSED'}); this bench process, import included: ${rss.toFixed(0)} MB`);
} finally {
  db.close();
  rmSync(work, { recursive: true, force: true });
}
