/** Every reference vector line per ecosystem, both directions; and the `version compare` CLI. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { InvalidVersionError, compareVersions, findScheme, schemeFor } from '../../src/vuln/versions/index.js';
import { flip, opOf, readVectors, vectorsDir } from './helpers.js';

const ECOSYSTEM_OF_FILE: Record<string, string> = {
  debian: 'Debian',
  alpine: 'Alpine',
  redhat: 'Red Hat',
  pypi: 'PyPI',
  maven: 'Maven',
  rubygems: 'RubyGems',
  nuget: 'NuGet',
  packagist: 'Packagist',
  semver: 'npm',
};

describe('reference version vectors', () => {
  const files = readdirSync(vectorsDir).filter((f) => f.endsWith('.txt') && ECOSYSTEM_OF_FILE[f.split('-')[0]!]);
  test('all ecosystems of the issue have vector files', () => {
    assert.equal(new Set(files.map((f) => f.split('-')[0])).size, Object.keys(ECOSYSTEM_OF_FILE).length);
  });
  for (const file of files) {
    const ecosystem = ECOSYSTEM_OF_FILE[file.split('-')[0]!]!;
    test(`${file} (${ecosystem})`, () => {
      const vectors = readVectors(file);
      assert.ok(vectors.length > 10);
      const wrong: string[] = [];
      for (const v of vectors) {
        const got = opOf(compareVersions(ecosystem, v.a, v.b));
        const back = opOf(compareVersions(ecosystem, v.b, v.a));
        if (got !== v.op || back !== flip(v.op)) wrong.push(`line ${v.line}: ${v.a} ${v.op} ${v.b} (got ${got}, reversed ${back})`);
      }
      assert.deepEqual(wrong, []);
    });
  }
});

describe('scheme lookup', () => {
  test('OSV ecosystems case-insensitively, with release suffixes, and scheme names', () => {
    assert.equal(schemeFor('debian').name, 'dpkg');
    assert.equal(schemeFor('Debian:12').name, 'dpkg');
    assert.equal(schemeFor('UBUNTU:22.04:LTS').name, 'dpkg');
    assert.equal(schemeFor('Alpine:v3.19').name, 'apk');
    assert.equal(schemeFor('red hat').name, 'rpm');
    assert.equal(schemeFor('PEP440').name, 'pep440');
    assert.equal(schemeFor('go').name, 'go');
    assert.equal(findScheme('CRAN'), undefined);
    assert.throws(() => schemeFor('CRAN'), /unknown ecosystem or version scheme "CRAN"/);
  });

  test('Go: +incompatible is ignored, pseudo-versions sort before their release', () => {
    assert.equal(compareVersions('Go', 'v2.0.0+incompatible', '2.0.0'), 0);
    assert.equal(compareVersions('Go', 'v0.0.0-20210101120000-abcdef123456', '0.0.1'), -1);
    assert.equal(compareVersions('Go', 'v1.2.4-0.20210101120000-abcdef123456', 'v1.2.3'), 1);
    assert.equal(compareVersions('Go', 'v1.2.4-0.20210101120000-abcdef123456', 'v1.2.4'), -1);
  });

  test('unparsable versions raise InvalidVersionError naming the reason', () => {
    assert.throws(() => compareVersions('Debian', 'abc', '1.0'), InvalidVersionError);
    assert.throws(() => compareVersions('Debian', '1:', '1.0'), /nothing after colon/);
    assert.throws(() => compareVersions('Go', 'latest', 'v1.0.0'), /not a Go module version/);
    assert.throws(() => compareVersions('npm', '', '1.0.0'), /empty version/);
  });
});

describe('gatehouse version compare', () => {
  test('prints <, = or > for two versions', async () => {
    const r = await runCli(['version', 'compare', 'Red Hat', '1:1.0-1.el9', '2.0-1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '>\n');
  });

  test('reads pairs from stdin; "!" with the reason on stderr for bad lines; exit non-zero', async () => {
    const r = await runCli(['version', 'compare', 'debian', '-'], { input: '1.0 1.1\n2:1 1:9\nbad 1.0\n1.0 1.0-0\nonlyone\n1~rc1 1\n' });
    assert.equal(r.stdout, '<\n>\n!\n=\n!\n<\n');
    assert.match(r.stderr, /line 3: invalid dpkg version "bad": version number does not start with digit/);
    assert.match(r.stderr, /line 5: expected "A B"/);
    assert.equal(r.code, 2);
    const ok = await runCli(['version', 'compare', 'PyPI', '-'], { input: '1.0.0 1.0\n1.0.0 1.0.0rc1\n1.0.post1 1.0\n' });
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, '=\n>\n>\n');
  });

  test('unknown ecosystem is a one-line error, exit 2', async () => {
    const r = await runCli(['version', 'compare', 'nosuch', '1', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^gatehouse: unknown ecosystem or version scheme "nosuch"/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
