/**
 * `npm run bench:vuln`: the vulnerability engine's speed, as ratios measured in one run.
 *  1. DB import of all shared advisories (Go vulndb, PyPA, Alpine secdb) against the floor
 *     of merely reading and parsing the same files (goal: import ≤ 10 s).
 *  2. Version comparisons (semver) against the npm `semver` package as a peer.
 *  3. Matching 2,000 packages against the warm DB.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsYaml from 'js-yaml';
import semver from 'semver';
import type { Package } from '../src/inventory/package.js';
import { VulnDb } from '../src/vuln/db.js';
import { importPath } from '../src/vuln/feeds/index.js';
import { matchPackages } from '../src/vuln/match.js';
import { compareVersions } from '../src/vuln/versions/index.js';

const shared = join(import.meta.dirname, '..', '..', 'shared', 'vulndata');
const feeds = [join(shared, 'go-vulndb', 'data', 'osv'), join(shared, 'pypa', 'vulns'), join(shared, 'alpine-secdb')];

function files(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir)) {
    if (n.startsWith('.')) continue;
    const p = join(dir, n);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(json|ya?ml)$/.test(n)) out.push(p);
  }
  return out;
}

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, (performance.now() - t) / 1000];
}

/** CPU seconds (user+system) of this process: steadier than wall time on a shared machine. */
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-vuln-'));
try {
  // 1. Import vs read+parse floor.
  const all = feeds.flatMap((d) => files(d));
  const c0 = cpu();
  const [, floor] = time(() => {
    for (const f of all) {
      const text = readFileSync(f, 'utf8');
      if (f.endsWith('.json')) JSON.parse(text);
      else jsYaml.load(text, { schema: jsYaml.FAILSAFE_SCHEMA });
    }
  });
  const floorCpu = cpu() - c0;
  const db = VulnDb.open(join(work, 'vuln.db'), { create: true });
  const c1 = cpu();
  const t0 = performance.now();
  let records = 0;
  for (const f of feeds) records += (await importPath(db, f)).added;
  const importSecs = (performance.now() - t0) / 1000;
  const importCpu = cpu() - c1;
  console.log(`import: ${records} advisories from ${all.length} files in ${importSecs.toFixed(2)} s; read+parse floor ${floor.toFixed(2)} s; ratio ${(importSecs / floor).toFixed(2)}x (goal: <= 10 s: ${importSecs <= 10 ? 'met' : 'NOT met'}); CPU ${importCpu.toFixed(2)} s vs floor ${floorCpu.toFixed(2)} s, ratio ${(importCpu / floorCpu).toFixed(2)}x`);

  // 2. Version comparisons vs the npm semver package.
  const versions = readFileSync(join(shared, '..', 'reference', 'version-vectors', 'semver-versions.txt'), 'utf8')
    .split('\n')
    .flatMap((l) => l.split(' '))
    .filter((v) => semver.valid(v));
  const pairs: [string, string][] = [];
  for (let i = 0; i < 200_000; i++) pairs.push([versions[i % versions.length]!, versions[(i * 7 + 3) % versions.length]!]);
  const [, ours] = time(() => pairs.forEach(([a, b]) => compareVersions('npm', a, b)));
  const [, peer] = time(() => pairs.forEach(([a, b]) => semver.compare(a, b)));
  console.log(`semver compare: ${pairs.length} pairs in ${ours.toFixed(3)} s; npm semver ${peer.toFixed(3)} s; ratio ${(ours / peer).toFixed(2)}x`);

  // 3. Matching against the warm DB.
  const pkgs: Package[] = [];
  for (let i = 0; i < 1000; i++) pkgs.push({ ecosystem: 'Go', name: 'github.com/gin-gonic/gin', version: `v1.${i % 10}.0`, purl: 'x', location: { path: '/a' }, analyzer: 'bench' });
  for (let i = 0; i < 1000; i++) pkgs.push({ ecosystem: 'PyPI', name: 'jinja2', version: `2.${i % 12}`, purl: 'x', location: { path: '/b' }, analyzer: 'bench' });
  const [findings, matchSecs] = time(() => matchPackages(db, pkgs));
  const [, lookupFloor] = time(() => pkgs.forEach((p) => db.candidates(p.ecosystem, p.name)));
  console.log(`match: ${pkgs.length} packages, ${findings.length} findings in ${matchSecs.toFixed(3)} s; DB lookup floor ${lookupFloor.toFixed(3)} s; ratio ${(matchSecs / lookupFloor).toFixed(2)}x`);
  db.close();
} finally {
  rmSync(work, { recursive: true, force: true });
}
