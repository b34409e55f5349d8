/**
 * Bad input costs only itself: a corrupt dpkg status entry, truncated ELF files, a zip bomb
 * nested in a jar, a jar that is not a zip, an unreadable rpmdb and broken JSON each give a
 * warning naming the file, and every other package is still listed (through the real CLI).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { zipSync } from 'fflate';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { haveLang, langRoot, setupHint } from './helpers.js';

const GOOD_STATUS = (name: string) => `Package: ${name}\nStatus: install ok installed\nVersion: 1.0-1\nArchitecture: amd64\nSource: ${name}-src (1.0-1)\nDescription: x\n continued\n`;

describe('bad input', { skip: missing(haveLang, `inventory fixtures (${setupHint})`) }, () => {
  let dir: string;
  let out: { code: number; stdout: string; stderr: string };
  let packages: Array<{ name: string; version: string; analyzer: string; location: { path: string }; licenses?: string[] }>;
  const put = (rel: string, data: string | Uint8Array, mode = 0o644) => {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
    chmodSync(p, mode);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-inv-bad-'));
    // dpkg: one corrupt stanza between two good ones.
    put('var/lib/dpkg/status', `${GOOD_STATUS('alpha')}\nPackage: broken\nthis line has no colon\nVersion: 2\n\n${GOOD_STATUS('omega')}`);
    // Go: the real binary cut in half (headers intact, build info gone), and its first 200 bytes.
    const goapp = readFileSync(join(langRoot, 'usr/local/bin/goapp'));
    put('usr/local/bin/half-go', goapp.subarray(0, Math.floor(goapp.length / 3)), 0o755);
    put('usr/local/bin/stub-elf', goapp.subarray(0, 200), 0o755);
    copyFileSync(join(langRoot, 'usr/local/bin/goapp'), join(dir, 'usr/local/bin/goapp'));
    chmodSync(join(dir, 'usr/local/bin/goapp'), 0o755);
    // Java: a jar with its own pom.properties and a nested 64 MiB-of-zeros "jar" (ratio ~1000:1).
    const bomb = zipSync({ 'META-INF/MANIFEST.MF': new TextEncoder().encode('Manifest-Version: 1.0\n'), 'BOOT-INF/lib/evil-1.0.jar': new Uint8Array(64 * 1024 * 1024) }, { level: 9 });
    put(
      'opt/app/app.jar',
      zipSync({
        'META-INF/maven/org.example/app/pom.properties': new TextEncoder().encode('groupId=org.example\nartifactId=app\nversion=3.1.4\n'),
        // A pom whose licence name is an entity "billion laughs": never expanded.
        'META-INF/maven/org.example/app/pom.xml': new TextEncoder().encode(
          `<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 9 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join('')}]>` +
            '<project><licenses><license><name>&j;</name></license><license><name>MIT &amp; more</name></license></licenses></project>',
        ),
        'BOOT-INF/lib/bomb.jar': [bomb, { level: 0 }],
      }),
    );
    put('opt/app/not-a-zip.jar', 'PK\x03\x04 this is not really a zip file at all');
    // rpm: garbage where the sqlite rpmdb should be, and a real rpmdb with one corrupt header.
    put('var/lib/rpm/rpmdb.sqlite', 'SQLite format 3\0 but then nothing useful'.padEnd(4096, '\0'));
    mkdirSync(join(dir, 'usr/lib/sysimage/rpm'), { recursive: true });
    const rpmdb = join(dir, 'usr/lib/sysimage/rpm/rpmdb.sqlite');
    copyFileSync(join(langRoot, 'var/lib/rpm/rpmdb.sqlite'), rpmdb);
    const db = new Database(rpmdb);
    db.pragma('journal_mode = DELETE');
    const first = db.prepare('SELECT hnum FROM Packages ORDER BY hnum LIMIT 1').get() as { hnum: number };
    db.prepare('UPDATE Packages SET blob = ? WHERE hnum = ?').run(Buffer.from([0, 0, 1, 0, 0, 0, 0, 9]), first.hnum);
    db.close();
    // npm: one broken package.json next to a good one.
    put('srv/node_modules/good/package.json', '{"name":"good","version":"1.2.3"}');
    put('srv/node_modules/bad/package.json', '{"name":"bad", "version":');
    out = await runCli(['fs', 'sbom', dir, '--format', 'json']);
    packages = JSON.parse(out.stdout).packages;
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  const warningFor = (path: string) => out.stderr.split('\n').find((l) => l.startsWith(`gatehouse: warning: ${path}: `));

  test('exits 0 with the rest of the inventory', () => {
    assert.equal(out.code, 0, out.stderr);
    const names = packages.map((p) => `${p.analyzer}:${p.name}@${p.version}`);
    for (const n of ['dpkg:alpha@1.0-1', 'dpkg:omega@1.0-1', 'java:org.example:app@3.1.4', 'npm:good@1.2.3', 'gobinary:github.com/google/uuid@v1.6.0']) {
      assert.ok(names.includes(n), `${n} missing from ${names.join(', ')}`);
    }
    assert.ok(!names.some((n) => n.includes('broken') || n.includes('evil')));
  });

  test('corrupt dpkg status entry: warning with the line, other entries kept', () => {
    assert.match(warningFor('/var/lib/dpkg/status') ?? '', /1 corrupt entry skipped.*line 10/);
  });

  test('truncated ELF files: warnings naming them', () => {
    assert.match(warningFor('/usr/local/bin/half-go') ?? '', /build info|truncated/i);
    assert.match(warningFor('/usr/local/bin/stub-elf') ?? '', /truncated ELF/);
  });

  test('zip bomb nested in a jar: skipped by the caps, the jar itself listed', () => {
    assert.match(warningFor('/opt/app/app.jar') ?? '', /bomb\.jar!\/BOOT-INF\/lib\/evil-1\.0\.jar: skipped.*zip bomb/);
    assert.match(warningFor('/opt/app/not-a-zip.jar') ?? '', /not a readable zip/);
    // The entity bomb in its pom.xml stays an unexpanded reference; predefined entities decode.
    assert.deepEqual(packages.find((p) => p.name === 'org.example:app')?.licenses, ['&j;', 'MIT & more']);
  });

  test('unreadable rpmdb and a corrupt rpm header: warnings, good headers kept', () => {
    assert.match(warningFor('/var/lib/rpm/rpmdb.sqlite') ?? '', /rpmdb|database|SQLite|malformed/i);
    assert.match(warningFor('/usr/lib/sysimage/rpm/rpmdb.sqlite') ?? '', /1 unreadable package header/);
    const rpms = packages.filter((p) => p.analyzer === 'rpm');
    assert.equal(rpms.length, 1);
    assert.equal(rpms[0].location.path, '/usr/lib/sysimage/rpm/rpmdb.sqlite');
  });

  test('broken package.json: warning naming it', () => {
    assert.match(warningFor('/srv/node_modules/bad/package.json') ?? '', /invalid JSON/);
  });

  test('no stack traces', () => {
    assert.doesNotMatch(out.stderr, /\n\s+at /);
  });
});
