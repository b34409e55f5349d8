/**
 * `fs scan --format cyclonedx`: the SBOM with its vulnerabilities, valid against the
 * CycloneDX 1.6 schema (the library's strict validator), each vulnerability affecting the
 * component of the package it was found in, and the same ids as the JSON report.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { runCli } from '../helpers/cli.js';
import { vulndataDir } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'gatehouse-cdx-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('scan results as CycloneDX', () => {
  const root = join(work, 'root');
  const db = join(work, 'vuln.db');
  before(async () => {
    for (const [name, version] of [['Jinja2', '2.10'], ['requests', '2.31.0']]) {
      const dir = join(root, 'usr/lib/python3/dist-packages', `${name}-${version}.dist-info`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'METADATA'), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nLicense: BSD-3-Clause\n`);
    }
    const imp = await runCli(['db', 'import', '--db', db, join(vulndataDir, 'pypa', 'vulns', 'jinja2')]);
    assert.equal(imp.code, 0, imp.stderr);
  });

  it('is valid CycloneDX 1.6 and ties each vulnerability to its component', async () => {
    const json = await runCli(['fs', 'scan', '--db', db, '--db-max-age', '100000', '--format', 'json', root]);
    assert.equal(json.code, 0, json.stderr);
    const ids = (JSON.parse(json.stdout).findings as { id: string }[]).map((f) => f.id).sort();
    assert.ok(ids.length >= 2, `expected jinja2 2.10 advisories, got ${ids}`);
    const res = await runCli(['fs', 'scan', '--db', db, '--db-max-age', '100000', '--format', 'cyclonedx', root]);
    assert.equal(res.code, 0, res.stderr);
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    assert.equal(await validator.validate(res.stdout), null);
    const bom = JSON.parse(res.stdout) as {
      components: { 'bom-ref': string; name: string; version: string }[];
      vulnerabilities: { id: string; affects: { ref: string; versions: { version: string; status: string }[] }[]; ratings: { severity: string }[] }[];
    };
    assert.deepEqual(bom.vulnerabilities.map((v) => v.id).sort(), ids);
    const jinja = bom.components.find((c) => c.name.toLowerCase() === 'jinja2')!;
    for (const v of bom.vulnerabilities) {
      assert.deepEqual(v.affects, [{ ref: jinja['bom-ref'], versions: [{ version: '2.10', status: 'affected' }] }]);
      assert.ok(v.ratings.length >= 1);
    }
    assert.ok(bom.components.some((c) => c.name === 'requests'), 'unaffected packages stay in the SBOM');
  });
});
