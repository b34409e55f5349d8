/**
 * The RPM order on the versions the RPM distributions' real records carry (AlmaLinux,
 * Rocky, Amazon Linux, Bottlerocket, Photon, Azure Linux/CBL-Mariner, SUSE, openSUSE:
 * test/vuln/fixtures/feeds), against rpm's own rpm.labelCompare (python3-rpm): every pair.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { missing } from '../helpers/components.js';
import { advisoriesOf } from '../../src/vuln/feeds/index.js';
import { readXmlFeed, xmlAdvisories } from '../../src/vuln/feeds/xml-feeds.js';
import { compareVersions } from '../../src/vuln/versions/index.js';
import { parseEvr } from '../../src/vuln/versions/rpm.js';
import { opOf, repoRoot } from './helpers.js';

// Debian's python3: python3-rpm installs the module there (a pyenv python earlier on PATH lacks it).
const PY = '/usr/bin/python3';
const RPM_DIRS = ['almalinux', 'rocky', 'amazon', 'bottlerocket', 'photon', 'azurelinux', 'suse'];
const fixtures = join(repoRoot, 'test', 'vuln', 'fixtures', 'feeds');
const hasPythonRpm = spawnSync(PY, ['-c', 'import rpm'], { stdio: 'ignore' }).status === 0;

function fixtureVersions(): string[] {
  const out = new Set<string>();
  for (const dir of RPM_DIRS) {
    for (const name of readdirSync(join(fixtures, dir))) {
      const file = join(fixtures, dir, name);
      if (name === 'README.md') continue;
      const head = readFileSync(file).subarray(0, 4096).toString('utf8');
      const xml = readXmlFeed(file, head);
      const { advisories } = xml !== undefined ? xmlAdvisories(xml, file, '2026-01-01T00:00:00Z') : advisoriesOf(JSON.parse(readFileSync(file, 'utf8')), file, '2026-01-01T00:00:00Z');
      for (const a of advisories) for (const af of a.affected) for (const r of af.ranges) for (const e of r.events) for (const v of Object.values(e)) if (v !== '0') out.add(v);
    }
  }
  return [...out];
}

test('RPM order on the fixtures’ versions agrees with rpm.labelCompare', { skip: missing(hasPythonRpm, 'python3-rpm not installed') }, () => {
  const versions = fixtureVersions();
  assert.ok(versions.length >= 20, `only ${versions.length} versions`);
  const pairs: [string, string][] = [];
  for (const a of versions) for (const b of versions) pairs.push([a, b]);
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
  const res = spawnSync(PY, ['-c', py], { input: `${lines.join('\n')}\n`, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(res.status, 0, res.stderr);
  const native = res.stdout.trim().split('\n');
  assert.equal(native.length, pairs.length);
  const disagree = pairs.filter(([a, b], i) => opOf(compareVersions('rpm', a, b)) !== native[i]).map(([a, b], i) => `${a} vs ${b}: rpm says ${native[i]}`);
  assert.deepEqual(disagree, []);
});
