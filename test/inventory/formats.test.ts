/**
 * Formats with no real producer on this machine (Alpine's apk database, Composer's
 * installed.json, .NET deps.json — their registries/distros are not reachable here) are
 * checked on files written in their documented layouts; plus edge cases of the others
 * (os-release fallbacks, Go replace directives, source RPM names, distroless status.d).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inventoryDirectory } from '../../src/inventory/index.js';
import { parseModInfo } from '../../src/inventory/analyzers/gobinary.js';
import { parseSourceRpm } from '../../src/inventory/analyzers/rpm.js';
import { parseStanzas } from '../../src/inventory/analyzers/deb822.js';

const APK_DB = `C:Q1Z9yzNrEcEzk6VtBaNMtjxbfN0cE=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1700000000
c:8a3b6f7d
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1uJ2pPPqOq0gO6xTfvR6p0Xz6cXY=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1x2Z9yzNrEcEzk6VtBaNMtjxbfN0cE=
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
F:usr/lib
R:libcrypto.so.3
`;

describe('formats without a local producer', () => {
  let dir: string;
  let inv: Awaited<ReturnType<typeof inventoryDirectory>>;
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-inv-formats-'));
    put('etc/os-release', 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n');
    put('lib/apk/db/installed', APK_DB);
    put('app/vendor/composer/installed.json', JSON.stringify({ packages: [{ name: 'monolog/monolog', version: 'v3.5.0', license: ['MIT'] }, { name: 'psr/log', version: '3.0.0' }], dev: true }));
    put('legacy/vendor/composer/installed.json', JSON.stringify([{ name: 'symfony/yaml', version: 'v5.4.35' }]));
    put(
      'srv/api/Api.deps.json',
      JSON.stringify({
        runtimeTarget: { name: '.NETCoreApp,Version=v8.0' },
        libraries: { 'Api/1.0.0': { type: 'project' }, 'Newtonsoft.Json/13.0.3': { type: 'package', sha512: 'x' }, 'Serilog/3.1.1': { type: 'package' } },
      }),
    );
    // Distroless keeps one status file per package.
    put('var/lib/dpkg/status.d/base', 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n');
    put('var/lib/dpkg/status.d/libssl3', 'Package: libssl3\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n');
    put('var/lib/dpkg/status.d/libssl3.md5sums', 'abc  usr/lib/libssl.so.3\n');
    inv = await inventoryDirectory(dir);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const find = (name: string) => inv.packages.find((p) => p.name === name)!;

  test('apk installed database, with origin, licence, files and the distro in the purl', () => {
    assert.deepEqual(inv.os, { id: 'alpine', versionId: '3.19.1', codename: undefined, prettyName: 'Alpine Linux v3.19' });
    const musl = find('musl');
    assert.equal(musl.purl, 'pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1');
    assert.deepEqual(musl.metadata?.files, ['/lib/ld-musl-x86_64.so.1', '/lib/libc.musl-x86_64.so.1']);
    assert.deepEqual(find('libcrypto3').source, { name: 'openssl', version: '3.1.4-r5' });
    assert.deepEqual(find('libcrypto3').licenses, ['Apache-2.0']);
  });

  test('composer installed.json v1 and v2', () => {
    assert.equal(find('monolog/monolog').purl, 'pkg:composer/monolog/monolog@3.5.0');
    assert.deepEqual(find('monolog/monolog').licenses, ['MIT']);
    assert.equal(find('psr/log').version, '3.0.0');
    assert.equal(find('symfony/yaml').version, '5.4.35');
  });

  test('.NET deps.json packages (not the project itself)', () => {
    const nuget = inv.packages.filter((p) => p.ecosystem === 'NuGet').map((p) => p.purl);
    assert.deepEqual(nuget.sort(), ['pkg:nuget/Newtonsoft.Json@13.0.3', 'pkg:nuget/Serilog@3.1.1']);
  });

  test('distroless dpkg status.d', () => {
    const ssl = find('libssl3');
    assert.deepEqual(ssl.source, { name: 'openssl', version: '3.0.11-1~deb12u2' });
    assert.equal(ssl.location.path, '/var/lib/dpkg/status.d/libssl3');
    assert.equal(find('base-files').version, '12.4+deb12u5');
    assert.equal(inv.warnings.length, 0, JSON.stringify(inv.warnings));
  });
});

test('os-release fallbacks: debian_version, redhat-release', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-inv-os-'));
  try {
    mkdirSync(join(dir, 'etc'));
    writeFileSync(join(dir, 'etc/redhat-release'), 'Rocky Linux release 9.3 (Blue Onyx)\n');
    assert.deepEqual((await inventoryDirectory(dir)).os, { id: 'rocky', versionId: '9.3', prettyName: 'Rocky Linux release 9.3 (Blue Onyx)' });
    writeFileSync(join(dir, 'etc/debian_version'), '12.5\n');
    rmSync(join(dir, 'etc/redhat-release'));
    assert.deepEqual((await inventoryDirectory(dir)).os, { id: 'debian', versionId: '12.5' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Go modinfo: replace directives name the module actually built in', () => {
  const info = parseModInfo('go1.22.1', 'path\tex.com/app\nmod\tex.com/app\tv1.0.0\t\ndep\tgithub.com/a/b\tv1.2.0\th1:x\n=>\tgithub.com/fork/b\tv1.2.1\th1:y\nbuild\tGOOS=linux\n');
  assert.deepEqual(info.deps, [{ path: 'github.com/fork/b', version: 'v1.2.1', sum: 'h1:y' }]);
  assert.deepEqual(info.main, { path: 'ex.com/app', version: 'v1.0.0' });
  assert.equal(info.settings.GOOS, 'linux');
});

test('source RPM names', () => {
  assert.deepEqual(parseSourceRpm('bash-5.1.8-6.el9.src.rpm'), { name: 'bash', version: '5.1.8-6.el9' });
  assert.deepEqual(parseSourceRpm('python3-pip-21.3.1-1.el9.nosrc.rpm'), { name: 'python3-pip', version: '21.3.1-1.el9' });
  assert.deepEqual(parseSourceRpm('weird'), { name: 'weird' });
});

test('stanza parser keeps good stanzas around a corrupt one', () => {
  const r = parseStanzas('Package: a\nVersion: 1\n\ngarbage\nPackage: b\n\nPackage: c\nVersion: 3\nDescription: x\n more\n');
  assert.deepEqual(r.stanzas.map((s) => s.Package), ['a', 'c']);
  assert.equal(r.stanzas[1].Description, 'x\nmore');
  assert.equal(r.errors.length, 1);
});

test('directory walk never follows symlinks out of the directory', async () => {
  const outside = mkdtempSync(join(tmpdir(), 'gatehouse-inv-outside-'));
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-inv-links-'));
  try {
    mkdirSync(join(outside, 'dpkg'), { recursive: true });
    writeFileSync(join(outside, 'dpkg/status'), 'Package: secret\nVersion: 1\n');
    writeFileSync(join(outside, 'package.json'), '{"name":"secret","version":"1.0.0"}');
    mkdirSync(join(dir, 'var/lib'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/linked'), { recursive: true });
    symlinkSync(join(outside, 'dpkg'), join(dir, 'var/lib/dpkg'));
    symlinkSync(join(outside, 'package.json'), join(dir, 'node_modules/linked/package.json'));
    const inv = await inventoryDirectory(dir);
    assert.deepEqual(inv.packages, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  }
});
