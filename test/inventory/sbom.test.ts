/**
 * SBOM output of real inventories (the Debian root and the language artefacts, ~270
 * packages with npm/PyPI/rpm licences of every shape) is valid: CycloneDX against the
 * CycloneDX JSON schema (the library's strict validator), SPDX 2.3 by the SPDX project's
 * own validator (pyspdxtools); and each lists exactly the inventory's packages.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { inventoryDirectory, sbomFormats } from '../../src/inventory/index.js';
import { writeTable } from '../../src/inventory/sbom/table.js';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';
import { debianRoot, haveDebian, haveLang, inv, langRoot, setupHint, sorted } from './helpers.js';

const pyspdxtools = join(inv, 'spdx-tools/bin/pyspdxtools');

function spdxValidate(doc: unknown, dir: string): { ok: boolean; output: string } {
  const file = join(dir, `doc-${Math.random().toString(36).slice(2)}.spdx.json`);
  writeFileSync(file, JSON.stringify(doc));
  const r = spawnSync(pyspdxtools, ['-i', file], { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe('SBOM formats', { skip: missing(haveLang && haveDebian, `inventory fixtures (${setupHint})`) }, () => {
  const roots = [langRoot, debianRoot];
  const outputs = new Map<string, { json: any; cdx: any; spdx: any }>();
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'gatehouse-sbom-'));
    for (const root of roots) {
      const inventory = await inventoryDirectory(root);
      const write = (format: string) => JSON.parse(sbomFormats[format]({ target: { kind: 'directory', name: root }, inventory, toolVersion: '0.1.0' }));
      outputs.set(root, { json: write('json'), cdx: write('cyclonedx'), spdx: write('spdx') });
    }
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('CycloneDX 1.6 validates against the CycloneDX schema and lists every package', async () => {
    const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
    for (const root of roots) {
      const { json, cdx } = outputs.get(root)!;
      assert.equal(await validator.validate(JSON.stringify(cdx)), null);
      const libs = cdx.components.filter((c: any) => c.type === 'library');
      assert.deepEqual(sorted(libs.map((c: any) => c.purl)), sorted(json.packages.map((p: any) => p.purl)));
      if (json.os) assert.ok(cdx.components.some((c: any) => c.type === 'operating-system' && c.name === json.os.id));
    }
    // The validator does reject a broken document.
    const broken = structuredClone(outputs.get(langRoot)!.cdx);
    broken.components[0].type = 'not-a-type';
    assert.notEqual(await validator.validate(JSON.stringify(broken)), null);
  });

  test('CycloneDX keeps licences, locations and source packages', () => {
    const { cdx } = outputs.get(langRoot)!;
    const lodash = cdx.components.find((c: any) => c.purl === 'pkg:npm/lodash@4.17.21');
    assert.deepEqual(lodash.licenses, [{ license: { id: 'MIT' } }]);
    const prop = (c: any, n: string) => c.properties.find((p: any) => p.name === `gatehouse:package:${n}`)?.value;
    assert.equal(prop(lodash, 'location'), '/srv/web/node_modules/lodash/package.json');
    const deb = outputs.get(debianRoot)!.cdx.components.find((c: any) => c.name === 'libc6');
    assert.equal(prop(deb, 'sourceName'), 'glibc');
    // Debian's licence names become SPDX ids where they name one (GPL-2+ → GPL-2.0-or-later).
    const adduser = outputs.get(debianRoot)!.cdx.components.find((c: any) => c.name === 'adduser');
    assert.deepEqual(adduser.licenses.map((l: any) => l.license.id).sort(), ['GPL-2.0-only', 'GPL-2.0-or-later']);
    const spdxAdduser = outputs.get(debianRoot)!.spdx.packages.find((p: any) => p.name === 'adduser');
    assert.equal(spdxAdduser.licenseDeclared, 'GPL-2.0-only AND GPL-2.0-or-later');
  });

  test('SPDX 2.3 passes the SPDX validator and lists every package', { skip: missing(spawnSync(pyspdxtools, ['--help']).status === 0, `pyspdxtools (${setupHint})`) }, () => {
    for (const root of roots) {
      const { json, spdx } = outputs.get(root)!;
      const v = spdxValidate(spdx, tmp);
      assert.ok(v.ok, v.output);
      const purls = spdx.packages.flatMap((p: any) => (p.externalRefs ?? []).map((r: any) => r.referenceLocator));
      assert.deepEqual(sorted(purls), sorted(json.packages.map((p: any) => p.purl)));
      const contained = spdx.relationships.filter((r: any) => r.relationshipType === 'CONTAINS').length;
      assert.equal(contained, spdx.packages.length - 1);
    }
    // Free-text licences become LicenseRefs with their text (the Python classifiers do this).
    const lang = outputs.get(langRoot)!.spdx;
    assert.ok(lang.hasExtractedLicensingInfos?.length > 0);
    // And the validator does reject a broken document.
    const broken = structuredClone(lang);
    broken.packages[1].SPDXID = 'not an id';
    assert.equal(spdxValidate(broken, tmp).ok, false);
  });

  test('CLI: --output, --analyzers, table, and a clear error for an unknown analyzer', async () => {
    const file = join(tmp, 'out.spdx.json');
    const [r, bad] = await Promise.all([
      runCli(['fs', 'sbom', langRoot, '--format', 'spdx', '--output', file, '--analyzers', 'rpm,npm']),
      runCli(['fs', 'sbom', langRoot, '--analyzers', 'cobol']),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(doc.spdxVersion, 'SPDX-2.3');
    const purls = doc.packages.flatMap((p: any) => (p.externalRefs ?? []).map((x: any) => x.referenceLocator as string));
    assert.ok(purls.includes('pkg:rpm/hello-tool@2.5.0-3?arch=noarch&epoch=1'), purls.join(' '));
    assert.ok(purls.every((u: string) => u.startsWith('pkg:rpm/') || u.startsWith('pkg:npm/')));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^gatehouse: unknown analyzer cobol/);
    const table = writeTable({ target: { kind: 'directory', name: langRoot }, inventory: await inventoryDirectory(langRoot, { only: ['rpm'] }), toolVersion: '0.1.0' });
    assert.match(table, /^NAME\s+VERSION\s+ECOSYSTEM\s+FOUND IN$/m);
    assert.match(table, /^hello-tool\s+2\.5\.0-3\s+rpm\s+\/var\/lib\/rpm\/rpmdb\.sqlite$/m);
  });
});
