/**
 * Differential tests: our comparators against the native tools on thousands of real versions
 * (advisories in ../shared/vulndata, this machine's packages, reference vector pools).
 * Each pool is sorted with our comparator; the native tool must agree on every adjacent pair
 * (so, by transitivity, on the whole order) and on a few thousand random pairs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import semver from 'semver';
import { hasCommand, missing } from '../helpers/components.js';
import { compareVersions, schemeFor } from '../../src/vuln/versions/index.js';
import { parsePep440Strict } from '../../src/vuln/versions/pep440.js';
import { parseEvr } from '../../src/vuln/versions/rpm.js';
import { opOf } from './helpers.js';
import {
  alpineSecdbVersions,
  goVulndbVersions,
  installedDebianVersions,
  pypaVersions,
  rng,
  sample,
  vectorVersions,
} from './version-pools.js';

type Op = '<' | '=' | '>';
const PY = '/usr/bin/python3';

function pyHas(module: string): boolean {
  return spawnSync(PY, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a command with `input` on stdin and returns its stdout lines. */
function run(cmd: string, args: string[], input: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.split('\n').slice(0, -1)) : reject(new Error(`${cmd} failed (${code}): ${err}`))));
    child.stdin.end(input);
  });
}

/** Pairs to check: every adjacent pair of the pool sorted by us, plus random pairs. */
function pairsFor(ecosystem: string, pool: string[], randomPairs: number, seed: number): [string, string][] {
  const sorted = [...new Set(pool)].sort((a, b) => compareVersions(ecosystem, a, b));
  const pairs: [string, string][] = [];
  for (let i = 1; i < sorted.length; i++) pairs.push([sorted[i - 1]!, sorted[i]!]);
  const rand = rng(seed);
  for (let i = 0; i < randomPairs; i++) {
    pairs.push([sorted[Math.floor(rand() * sorted.length)]!, sorted[Math.floor(rand() * sorted.length)]!]);
  }
  return pairs;
}

function assertAgree(ecosystem: string, pairs: [string, string][], native: Op[]): void {
  assert.equal(native.length, pairs.length, 'native tool answered every pair');
  const diffs: string[] = [];
  pairs.forEach(([a, b], i) => {
    const ours = opOf(compareVersions(ecosystem, a, b));
    if (ours !== native[i]) diffs.push(`${a} ${native[i]} ${b} (ours: ${ours})`);
  });
  assert.deepEqual(diffs.slice(0, 20), [], `${diffs.length} of ${pairs.length} pairs disagree with the native tool`);
}

describe('version comparators agree with native tools', () => {
  test('dpkg: dpkg --compare-versions', { skip: missing(hasCommand('dpkg'), 'dpkg not installed') }, async () => {
    const rand = rng(1);
    const dpkg = schemeFor('dpkg');
    const valid = (v: string): boolean => {
      try {
        dpkg.validate(v);
        return true;
      } catch {
        return false;
      }
    };
    const pool = [
      ...installedDebianVersions(),
      ...sample(vectorVersions('debian-versions-generated.txt'), 900, rand),
      ...vectorVersions('debian-versions.txt'),
    ].filter(valid);
    assert.ok(pool.length > 1000, `pool has ${pool.length} versions`);
    const pairs = pairsFor('Debian', pool, 300, 2);
    // One dpkg process per comparison is slow, so split the work over two shell loops.
    const script =
      'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo "<"; elif dpkg --compare-versions "$a" eq "$b"; then echo "="; else echo ">"; fi; done';
    const half = Math.ceil(pairs.length / 2);
    const chunks = [pairs.slice(0, half), pairs.slice(half)];
    const results = await Promise.all(chunks.map((c) => run('bash', ['-c', script], c.map(([a, b]) => `${a} ${b}\n`).join(''))));
    assertAgree('Debian', pairs, results.flat() as Op[]);
  });

  test('pep440: python packaging.version', { skip: missing(pyHas('packaging'), 'python3-packaging not installed') }, async () => {
    const rand = rng(3);
    const all = [...pypaVersions(), ...vectorVersions('pypi-versions-generated.txt'), ...vectorVersions('pypi-versions.txt')];
    assert.ok(all.length > 10000, `pool has ${all.length} versions`);
    const py = `
import sys
from packaging.version import Version, InvalidVersion
def ok(v):
    try:
        Version(v); return True
    except InvalidVersion:
        return False
mode = sys.stdin.readline().strip()
for line in sys.stdin:
    line = line.rstrip('\\n')
    if mode == 'valid':
        print('1' if ok(line) else '0')
    else:
        a, b = line.split('\\t')
        x, y = Version(a), Version(b)
        print('<' if x < y else '>' if x > y else '=')
`;
    // Validity: our strict PEP 440 parser accepts exactly what packaging accepts.
    const unique = [...new Set(all)];
    const validity = await run(PY, ['-c', py], `valid\n${unique.join('\n')}\n`);
    const validityDiffs = unique.filter((v, i) => (parsePep440Strict(v) !== undefined) !== (validity[i] === '1'));
    assert.deepEqual(validityDiffs.slice(0, 20), [], `${validityDiffs.length} versions where validity differs`);
    const valid = unique.filter((_, i) => validity[i] === '1');
    const pairs = pairsFor('PyPI', sample(valid, 6000, rand), 4000, 4);
    const native = await run(PY, ['-c', py], `cmp\n${pairs.map(([a, b]) => `${a}\t${b}`).join('\n')}\n`);
    assertAgree('PyPI', pairs, native as Op[]);
  });

  test('rpm: rpm.labelCompare (python3-rpm)', { skip: missing(pyHas('rpm'), 'python3-rpm not installed') }, async () => {
    const rand = rng(5);
    // No RPM advisories are shared, so take real versions of other distros plus generated
    // ones exercising epochs, releases, tilde and caret.
    const base = [
      ...vectorVersions('redhat-versions.txt').filter(
        // ASCII only; no empty release ("1-"): OSV orders "1" < "1-", rpm has no such spelling.
        (v) => /^[\x21-\x7e]+$/.test(v) && !/[:]/.test(v.replace(/^\d+:/, '')) && !v.endsWith('-'),
      ),
      ...sample(vectorVersions('debian-versions-generated.txt'), 500, rand),
      ...sample(alpineSecdbVersions(), 300, rand),
    ];
    const pieces = ['~rc1', '^git2', '~', '^', '.el8', '.el8_2', 'a', '.1', '_2', '~beta', '^20240101'];
    const generated = sample(base, 600, rand).map((v) => {
      let s = v;
      if (rand() < 0.5) s += pieces[Math.floor(rand() * pieces.length)]!;
      if (rand() < 0.3) s = `${Math.floor(rand() * 3)}:${s}`;
      if (rand() < 0.4 && !s.includes('-')) s += `-${Math.floor(rand() * 20)}${rand() < 0.5 ? '.el9' : ''}`;
      return s;
    });
    const pool = [...base, ...generated];
    assert.ok(pool.length > 1000, `pool has ${pool.length} versions`);
    const pairs = pairsFor('rpm', pool, 3000, 6);
    // labelCompare gets the same epoch/version/release split we use.
    const lines = pairs.map(([a, b]) => {
      const x = parseEvr(a);
      const y = parseEvr(b);
      return [x.epoch, x.version, x.release.replace(/^-/, ''), y.epoch, y.version, y.release.replace(/^-/, '')].join('\t');
    });
    const py = `
import sys, rpm
for line in sys.stdin:
    e1, v1, r1, e2, v2, r2 = line.rstrip('\\n').split('\\t')
    c = rpm.labelCompare((e1, v1, r1 or None), (e2, v2, r2 or None))
    print('<' if c < 0 else '>' if c > 0 else '=')
`;
    const native = await run(PY, ['-c', py], `${lines.join('\n')}\n`);
    assertAgree('rpm', pairs, native as Op[]);
  });

  test('npm semver and Go: the npm semver package', () => {
    const rand = rng(7);
    const goVersions = goVulndbVersions();
    const pool = [...goVersions, ...vectorVersions('semver-versions.txt')].filter((v) => semver.valid(v) !== null);
    assert.ok(pool.length > 2000, `pool has ${pool.length} versions`);
    for (const ecosystem of ['npm', 'Go']) {
      const pairs = pairsFor(ecosystem, pool, 4000, 8);
      assertAgree(ecosystem, pairs, pairs.map(([a, b]) => opOf(semver.compare(a, b))));
    }
    // Go's own spellings: "v" prefix, +incompatible, pseudo-versions.
    const go = sample(goVersions.filter((v) => semver.valid(v) !== null), 500, rand);
    const spelled = go.map((v) => (rand() < 0.5 ? `v${v}` : v)).map((v) => (/^v?([2-9]|\d\d)/.test(v) && !v.includes('+') && rand() < 0.3 ? `${v}+incompatible` : v));
    const pairs = pairsFor('Go', spelled, 2000, 9);
    assertAgree('Go', pairs, pairs.map(([a, b]) => opOf(semver.compare(a.replace(/^v/, ''), b.replace(/^v/, '')))));
  });

  test('apk: Alpine secdb versions order like the generated apk vectors', () => {
    // apk-tools is not packaged for Debian; the generated vectors come from apk itself, and
    // the secdb versions must at least form a consistent total order with ours.
    const pool = alpineSecdbVersions();
    assert.ok(pool.length > 1000);
    const sorted = [...new Set(pool)].sort((a, b) => compareVersions('Alpine', a, b));
    for (let i = 2; i < sorted.length; i++) {
      assert.notEqual(compareVersions('Alpine', sorted[i - 2]!, sorted[i]!), 1, `${sorted[i - 2]} <= ${sorted[i]}`);
    }
  });
});
