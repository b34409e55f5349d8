/**
 * Frameworks as data: the shipped mapping files load; every built-in check and policy maps
 * to a control of CIS Kubernetes or NIST SP 800-190 (or is listed, with a reason, in
 * policies/frameworks/unmapped.yaml); the NIST files agree with the packs' own
 * `mappings.nist`; malformed files give every problem with file:line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'yaml';
import { builtinCatalog, FrameworkLoadError, frameworksDir, FRAMEWORKS, loadFramework } from '../../src/compliance/index.js';
import { defaultPackDir } from '../../src/policy/builtin.js';
import { expandYamlPaths } from '../../src/util/positioned-yaml.js';
import { runCli } from '../helpers/cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-frameworks-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('framework mapping files', () => {
  test('both frameworks load; every built-in check, policy and runtime rule maps to a control (or is an explained exception)', async () => {
    const catalog = await builtinCatalog();
    const mapped = new Set<string>();
    for (const name of FRAMEWORKS) {
      const fw = await loadFramework(name, catalog);
      assert.ok(fw.controls.length > 10, `${name}: ${fw.controls.length} controls`);
      for (const c of fw.controls) for (const id of c.checks) mapped.add(id);
    }
    const exceptions = parse(readFileSync(join(frameworksDir(), 'unmapped.yaml'), 'utf8')) as { unmapped: { id: string; reason: string }[] };
    for (const e of exceptions.unmapped ?? []) {
      assert.ok(catalog.has(e.id), `unmapped.yaml lists ${e.id}, which is no built-in check`);
      assert.ok(e.reason && e.reason.length > 20, `unmapped.yaml: ${e.id} needs a reason`);
      assert.ok(!mapped.has(e.id), `unmapped.yaml lists ${e.id}, which is mapped: remove the exception`);
    }
    const excepted = new Set((exceptions.unmapped ?? []).map((e) => e.id));
    const missing = [...catalog.values()].filter((e) => !mapped.has(e.id) && !excepted.has(e.id)).map((e) => `${e.id} (${e.source}, ${e.origin})`);
    assert.deepEqual(missing, [], 'checks that map to no control of either framework');
    // The catalog knows every kind of source.
    const sources = new Set([...catalog.values()].map((e) => e.source));
    for (const s of ['policy', 'rbac-risk', 'dockerfile-rule', 'runtime-rule', 'cluster-check', 'node-check']) assert.ok(sources.has(s as never), s);
  });

  test("NIST files agree with the packs' own mappings.nist (sections 4.1-4.4)", async () => {
    const catalog = await builtinCatalog();
    const fw = await loadFramework('nist-800-190', catalog);
    const byControl = new Map(fw.controls.map((c) => [c.id, new Set(c.checks)]));
    const problems: string[] = [];
    const root = defaultPackDir();
    for (const file of (await expandYamlPaths(root)).filter((f) => !f.includes('/frameworks/'))) {
      for (const doc of [parse(readFileSync(file, 'utf8'))]) {
        // Packs list their policies, risks or rules; other data under policies/ (ATT&CK maps…) is not a pack.
        const list: unknown = doc?.policies ?? doc?.risks ?? doc?.rules;
        if (!Array.isArray(list)) continue;
        for (const p of list) {
          for (const m of p.mappings?.nist ?? []) {
            const id = String(m).replace('SP 800-190 ', '');
            if (id.startsWith('4.5')) continue; // host.yaml (the node checks' file)
            if (!byControl.get(id)?.has(p.id)) problems.push(`${p.id} maps to ${m} in ${file}, but control ${id} does not list it`);
          }
        }
      }
    }
    assert.deepEqual(problems, []);
  });
});

describe('framework loader errors', () => {
  const write = (name: string, files: Record<string, string>) => {
    const dir = join(tmp, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  };

  test('unknown keys, unknown checks (did-you-mean), wrong framework, version drift, duplicates, bad assessment: all with file:line', async () => {
    const catalog = await builtinCatalog();
    const dir = write('bad', {
      'a.yaml': `framework: cis-kubernetes
version: "1.10"
controls:
  - id: "5.1.6"
    title: Tokens
    section: "5.1 RBAC"
    assessment: automated
    checks: [automount-service-acount-token]
  - id: "5.1.7"
    title: Masters
    section: "5.1 RBAC"
    assessment: sometimes
    checks: []
    severity: HIGH
`,
      'b.yaml': `framework: cis-kubernetes
version: "1.9"
extra: 1
controls:
  - id: "5.1.6"
    title: Again
    section: "5.1 RBAC"
    assessment: manual
  - id: 5.2
    title: ""
    section: s
    assessment: manual
`,
      'c.yaml': `framework: nist-800-190
version: "1.10"
controls: {}
`,
    });
    await assert.rejects(loadFramework('cis-kubernetes', catalog, { dir }), (e: unknown) => {
      assert.ok(e instanceof FrameworkLoadError);
      const lines = e.diagnostics.map((d) => `${d.file.slice(dir.length + 1)}:${d.line}: ${d.message}`);
      const expect = [
        /^a\.yaml:8: unknown check "automount-service-acount-token" \(did you mean "automount-service-account-token"\?\)/,
        /^a\.yaml:12: assessment must be automated or manual, not "sometimes"/,
        /^a\.yaml:14: unknown key "severity" in a control/,
        /^b\.yaml:2: version "1\.9" differs from "1\.10" in .*a\.yaml/,
        /^b\.yaml:3: unknown key "extra"/,
        /^b\.yaml:5: control "5\.1\.6" is defined twice \(first at .*a\.yaml:4\)/,
        /^b\.yaml:9: control id must be a non-empty string \(quote numbers: "5\.1\.6"\)/,
        /^b\.yaml:10: control title must be a non-empty string/,
        /^c\.yaml:1: framework "nist-800-190" in the folder of cis-kubernetes/,
        /^c\.yaml:3: controls must be a list/,
      ];
      for (const re of expect) assert.ok(lines.some((l) => re.test(l)), `expected ${re} among:\n${lines.join('\n')}`);
      assert.equal(lines.length, expect.length, lines.join('\n'));
      assert.match(e.message, /^.*a\.yaml:8: unknown check .* \(and 9 more problem\(s\)\)$/);
      return true;
    });
  });

  test('invalid YAML and an empty folder', async () => {
    const catalog = await builtinCatalog();
    const dir = write('syntax', { 'x.yaml': 'framework: cis-kubernetes\ncontrols: [\n' });
    await assert.rejects(loadFramework('cis-kubernetes', catalog, { dir }), /x\.yaml:\d+: invalid YAML/);
    const empty = write('empty', {});
    await assert.rejects(loadFramework('cis-kubernetes', catalog, { dir: empty }), /no framework files/);
    await assert.rejects(loadFramework('pci-dss', catalog), /unknown framework "pci-dss" \(known: cis-kubernetes, nist-800-190\)/);
  });

  test('the CLI refuses an unknown framework in one line', async () => {
    const r = await runCli(['compliance', 'report', '--framework', 'pci', 'x.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pci/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
