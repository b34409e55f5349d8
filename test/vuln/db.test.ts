/** The vulnerability DB: CVSS scoring, OSV normalization, importers, incremental import, CLI. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { hasCommand, missing } from '../helpers/components.js';
import { runCli } from '../helpers/cli.js';
import { scoreVector } from '../../src/vuln/cvss.js';
import { VulnDb } from '../../src/vuln/db.js';
import { importPath } from '../../src/vuln/feeds/index.js';
import { advisorySeverity, normalizeOsv } from '../../src/vuln/model.js';
import { osvDebianRecord, trackerJson } from './fixtures.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-vulndb-'));
after(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const freshDb = (): VulnDb => VulnDb.open(join(work, `db-${++n}.db`), { create: true });
const goDir = join(vulndataDir, 'go-vulndb', 'data', 'osv');

describe('CVSS', () => {
  test('v2, v3.0, v3.1 and v4.0 vectors score and rate as FIRST specifies', () => {
    assert.deepEqual(scoreVector('AV:N/AC:L/Au:N/C:P/I:P/A:P'), { version: '2.0', vector: 'AV:N/AC:L/Au:N/C:P/I:P/A:P', score: 7.5, rating: 'HIGH' });
    assert.equal(scoreVector('CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N')?.score, 4.3);
    assert.equal(scoreVector('CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:N/A:N')?.rating, 'MEDIUM');
    assert.equal(scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')?.score, 9.8);
    assert.equal(scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')?.rating, 'CRITICAL');
    assert.equal(scoreVector('CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L')?.rating, 'LOW');
    assert.equal(scoreVector('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')?.score, 9.3);
    assert.equal(scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N')?.rating, 'UNKNOWN');
    assert.equal(scoreVector('garbage'), undefined);
    assert.equal(scoreVector('CVSS:3.1/AV:X'), undefined);
  });
});

describe('OSV normalization', () => {
  test('a real Go vulndb record: ids, aliases, ranges, references, dates', () => {
    const raw = JSON.parse(readFileSync(join(goDir, 'GO-2021-0052.json'), 'utf8'));
    const adv = normalizeOsv(raw, 'osv', 'GO-2021-0052.json');
    assert.equal(adv.id, 'GO-2021-0052');
    assert.deepEqual(adv.aliases, ['CVE-2020-28483', 'GHSA-h395-qcrw-5vmq']);
    assert.equal(adv.affected[0]!.ecosystem, 'Go');
    assert.equal(adv.affected[0]!.name, 'github.com/gin-gonic/gin');
    assert.deepEqual(adv.affected[0]!.ranges, [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.7.7' }] }]);
    assert.equal(adv.modified, new Date(raw.modified).toISOString());
    assert.equal(adv.published, new Date(raw.published).toISOString());
    assert.ok(adv.references.length > 0 && adv.references.every((r) => r.url.startsWith('http')));
  });

  test('a real PyPA YAML record; severity from CVSS vectors, newest version preferred', () => {
    const raw = parseYaml(readFileSync(join(vulndataDir, 'pypa', 'vulns', 'jinja2', 'PYSEC-2019-217.yaml'), 'utf8'));
    const adv = normalizeOsv(raw, 'osv', 'x');
    assert.equal(adv.affected[0]!.ecosystem, 'PyPI');
    assert.ok(adv.affected[0]!.versions.includes('2.10'));
    const deb = normalizeOsv(osvDebianRecord(), 'osv', 'x');
    assert.deepEqual(
      deb.cvss.map((c) => [c.version, c.score, c.rating]),
      [
        ['3.1', 9.8, 'CRITICAL'],
        ['4.0', 9.3, 'CRITICAL'],
      ],
    );
    assert.deepEqual(advisorySeverity(deb), { rating: 'CRITICAL', source: 'CVSS 4.0', score: 9.3 });
  });

  test('bad records are one-line user errors', () => {
    assert.throws(() => normalizeOsv({ modified: '2020-01-01T00:00:00Z' }, 'osv', 'f.json'), /f.json: OSV record without "id"/);
    assert.throws(() => normalizeOsv({ id: 'X-1' }, 'osv', 'f.json'), /without "modified"/);
    assert.throws(() => normalizeOsv({ id: 'X-1', modified: 'yesterday' }, 'osv', 'f.json'), /modified is not a date/);
    assert.throws(() => normalizeOsv([], 'osv', 'f.json'), /not an OSV record/);
  });
});

describe('importers', () => {
  test('OSV directory (all Go vulndb records): idempotent, second import changes nothing', async () => {
    const db = freshDb();
    const first = await importPath(db, goDir);
    assert.equal(first.added, 4291);
    assert.equal(first.invalid, 0);
    const second = await importPath(db, goDir);
    assert.deepEqual([second.added, second.updated, second.unchanged], [0, 0, 4291]);
    assert.equal(db.status().advisories, 4291);
    assert.ok(db.updatedAt());
    assert.equal(db.updatedAt(), db.status().updatedAt, 'the cheap age query agrees with status');
    assert.equal(db.byAlias('CVE-2020-28483')[0]?.id, 'GO-2021-0052');
    db.close();
  });

  test('incremental by modified: newer replaces, older and equal are ignored; withdrawn is kept but not matched', async () => {
    const db = freshDb();
    const file = join(work, 'dsa.json');
    writeFileSync(file, JSON.stringify(osvDebianRecord('2024-01-02T00:00:00Z', 'first')));
    assert.equal((await importPath(db, file)).added, 1);
    writeFileSync(file, JSON.stringify(osvDebianRecord('2024-03-01T00:00:00Z', 'newer')));
    assert.equal((await importPath(db, file)).updated, 1);
    assert.equal(db.get('osv', 'DSA-9999-1')?.summary, 'newer');
    writeFileSync(file, JSON.stringify(osvDebianRecord('2023-12-01T00:00:00Z', 'older')));
    assert.equal((await importPath(db, file)).unchanged, 1);
    assert.equal(db.get('osv', 'DSA-9999-1')?.summary, 'newer');
    assert.equal(db.candidates('Debian:12', 'zlib').length, 1);
    writeFileSync(file, JSON.stringify({ ...osvDebianRecord('2024-04-01T00:00:00Z'), withdrawn: '2024-04-01T00:00:00Z' }));
    assert.equal((await importPath(db, file)).updated, 1);
    assert.equal(db.candidates('Debian:12', 'zlib').length, 0);
    db.close();
  });

  test('OSV YAML file and a directory with a bad record: the rest is imported, the bad one reported', async () => {
    const db = freshDb();
    const dir = join(work, 'mixed');
    mkdirSync(dir);
    cpSync(join(vulndataDir, 'pypa', 'vulns', 'jinja2'), join(dir, 'jinja2'), { recursive: true });
    writeFileSync(join(dir, 'broken.json'), '{"id": "X-1", ');
    const stats = await importPath(db, dir);
    assert.equal(stats.added, 5);
    assert.equal(stats.invalid, 1);
    assert.match(stats.problems[0]!, /broken.json: cannot parse/);
    const single = freshDb();
    assert.equal((await importPath(single, join(dir, 'jinja2', 'PYSEC-2021-66.yaml'))).added, 1);
    await assert.rejects(importPath(single, join(dir, 'broken.json')), /broken.json: cannot parse/);
    db.close();
    single.close();
  });

  test('OSV all.zip as osv.dev publishes it', { skip: missing(hasCommand('zip'), 'zip not installed') }, async () => {
    const zipDir = join(work, 'zipsrc');
    mkdirSync(zipDir);
    for (const id of ['GO-2020-0001', 'GO-2021-0052', 'GO-2023-1737']) cpSync(join(goDir, `${id}.json`), join(zipDir, `${id}.json`));
    const zip = join(work, 'all.zip');
    assert.equal(spawnSync('zip', ['-q', '-j', zip, ...['GO-2020-0001', 'GO-2021-0052', 'GO-2023-1737'].map((id) => join(zipDir, `${id}.json`))]).status, 0);
    const db = freshDb();
    const stats = await importPath(db, zip);
    assert.equal(stats.added, 3);
    assert.deepEqual(db.candidates('Go', 'github.com/gin-gonic/gin').map((c) => c.advisory.id).sort(), ['GO-2020-0001', 'GO-2021-0052', 'GO-2023-1737']);
    writeFileSync(join(work, 'notzip.zip'), 'not a zip');
    await assert.rejects(importPath(db, join(work, 'notzip.zip')), /not a readable zip archive/);
    db.close();
  });

  test('Alpine secdb: the old YAML and the current main.json shape', async () => {
    const db = freshDb();
    const stats = await importPath(db, join(vulndataDir, 'alpine-secdb', 'v3.10', 'main.yaml'));
    assert.ok(stats.added > 1000);
    assert.deepEqual([...stats.sources], ['alpine-secdb:v3.10/main']);
    const openssl = db.candidates('Alpine:v3.10', 'openssl').map((c) => c.advisory.id).sort();
    assert.deepEqual(openssl, ['CVE-2018-0734', 'CVE-2018-0735', 'CVE-2019-1543', 'CVE-2019-1547', 'CVE-2019-1549', 'CVE-2019-1563']);
    // secdb.alpinelinux.org serves the same document as JSON.
    const json = join(work, 'main.json');
    const doc = parseYaml(readFileSync(join(vulndataDir, 'alpine-secdb', 'v3.11', 'main.yaml'), 'utf8'));
    writeFileSync(json, JSON.stringify(doc));
    await importPath(db, json);
    assert.ok(db.candidates('Alpine:v3.11', 'openssl').some((c) => c.advisory.id === 'CVE-2019-1551'));
    assert.ok(!db.candidates('Alpine:v3.10', 'openssl').some((c) => c.advisory.id === 'CVE-2019-1551'));
    db.close();
  });

  test('Debian tracker JSON: per release, "0" means not affected, statuses and urgency kept', async () => {
    const db = freshDb();
    const file = join(work, 'tracker.json');
    writeFileSync(file, JSON.stringify(trackerJson()));
    const stats = await importPath(db, file);
    assert.deepEqual([...stats.sources], ['debian-tracker']);
    const bookworm = db.candidates('Debian:bookworm', 'openssl').map((c) => [c.advisory.id, c.advisory.affected[c.affectedIndex]!.status]);
    assert.deepEqual(bookworm.sort(), [
      ['CVE-2023-0001', 'fixed'],
      ['CVE-2023-0002', 'no-fix-yet'],
      ['CVE-2023-0003', 'end-of-life'],
      ['CVE-2023-0004', 'fixed'],
      ['CVE-2023-0005', 'will-not-fix'],
    ]);
    assert.deepEqual(db.candidates('Debian:bullseye', 'openssl').map((c) => c.advisory.id), ['CVE-2023-0004']);
    const adv = db.get('debian-tracker', 'CVE-2023-0002')!;
    assert.deepEqual(adv.affected[0]!.vendorSeverity, { source: 'debian', rating: 'LOW', text: 'low' });
    db.close();
  });
});

describe('gatehouse db import / status', () => {
  test('imports, reports counts, status lists sources and ecosystems; errors are one line', async () => {
    const dbPath = join(work, 'cli.db');
    const file = join(work, 'cli-tracker.json');
    writeFileSync(file, JSON.stringify(trackerJson()));
    const r = await runCli(['db', 'import', file, '--db', dbPath]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /6 added, 0 updated, 0 unchanged, 0 invalid \(sources: debian-tracker\)/);
    const s = await runCli(['db', 'status', '--db', dbPath, '--format', 'json']);
    assert.equal(s.code, 0, s.stderr);
    const status = JSON.parse(s.stdout);
    assert.equal(status.advisories, 6);
    assert.deepEqual(status.sources.map((x: { name: string }) => x.name), ['debian-tracker']);
    assert.ok(status.ecosystems.some((e: { ecosystem: string }) => e.ecosystem === 'Debian:bookworm'));
    const missingDb = await runCli(['db', 'status', '--db', join(work, 'nope.db')]);
    assert.equal(missingDb.code, 2);
    assert.match(missingDb.stderr, /^gatehouse: no vulnerability database at .*nope.db/);
  });
});
