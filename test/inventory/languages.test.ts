/**
 * Language and rpm inventories of real artefacts (built by 55-inventory-fixtures.sh with the
 * real tools) equal what those tools themselves report: `go version -m`, `npm ls`,
 * `pip list`, `mvn dependency:list`, `rpm -qa`, Cargo.lock.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inventoryDirectory, type Inventory, type Package } from '../../src/inventory/index.js';
import { normalizePythonName } from '../../src/inventory/analyzers/python.js';
import { hasCommand, missing } from '../helpers/components.js';
import { expected, haveLang, key, langRoot, run, setupHint, sorted } from './helpers.js';

describe('language artefacts', { skip: missing(haveLang, `inventory fixtures (${setupHint})`) }, () => {
  let inv: Inventory;
  const of = (analyzer: string, pathPrefix: string): Package[] =>
    inv.packages.filter((p) => p.analyzer === analyzer && p.location.path.startsWith(pathPrefix));

  before(async () => {
    inv = await inventoryDirectory(langRoot);
  });

  test('no warnings on well-formed artefacts', () => {
    assert.deepEqual(inv.warnings, []);
  });

  test('Go binary: modules and Go version equal `go version -m`', { skip: missing(hasCommand('go'), 'go toolchain') }, () => {
    const bin = join(langRoot, 'usr/local/bin/goapp');
    const lines = run('go', ['version', '-m', bin]).split('\n');
    const goVersion = lines[0].split(': ')[1].trim();
    const want: string[] = [];
    for (const l of lines.slice(1)) {
      const f = l.trim().split('\t');
      if (f[0] === 'mod' || f[0] === 'dep') want.push(`${f[1]}@${f[2]}`);
      if (f[0] === '=>') want[want.length - 1] = `${f[1]}@${f[2]}`;
    }
    want.push(`stdlib@${goVersion.replace(/^go/, '')}`);
    assert.ok(want.length >= 4, 'expected real module dependencies');
    const got = of('gobinary', '/usr/local/bin/goapp');
    assert.deepEqual(sorted(got.map(key)), sorted(want));
    for (const p of got) {
      assert.equal(p.ecosystem, 'Go');
      assert.equal(p.metadata?.goVersion, goVersion);
      if (p.name !== 'stdlib') assert.equal(p.purl, `pkg:golang/${p.name}@${p.version}`);
    }
  });

  test('npm: node_modules and package-lock equal `npm ls --all`', () => {
    const tree = JSON.parse(run('npm', ['ls', '--all', '--json'], { cwd: join(langRoot, 'srv/web') }));
    const want = new Set<string>();
    const walk = (deps: Record<string, any> | undefined) => {
      for (const [name, d] of Object.entries(deps ?? {})) {
        want.add(`${name}@${d.version}`);
        walk(d.dependencies);
      }
    };
    walk(tree.dependencies);
    assert.ok(want.size > 50, `npm ls listed only ${want.size}`);
    const installed = of('npm', '/srv/web/node_modules/');
    assert.deepEqual(sorted(new Set(installed.map(key))), sorted(want));
    // Nested copies (e.g. several versions of debug/ms) are each listed where installed.
    assert.ok(installed.filter((p) => p.name === 'ms').length >= 2);
    const locked = of('npm-lock', '/srv/web/package-lock.json');
    assert.deepEqual(sorted(new Set(locked.map(key))), sorted(want));
    const lodash = installed.find((p) => p.name === 'lodash')!;
    assert.deepEqual([lodash.version, lodash.licenses, lodash.purl], ['4.17.21', ['MIT'], 'pkg:npm/lodash@4.17.21']);
  });

  test('Python venv: distributions equal `pip list`', () => {
    const pip = JSON.parse(run(join(langRoot, 'opt/venv/bin/pip'), ['list', '--format', 'json', '--disable-pip-version-check'])) as Array<{ name: string; version: string }>;
    const want = pip.map((p) => `${normalizePythonName(p.name)}@${p.version}`);
    const got = of('python', '/opt/venv/');
    assert.deepEqual(sorted(got.map(key)), sorted(want));
    const yaml = got.find((p) => p.name === 'pyyaml')!;
    assert.equal(yaml.purl, 'pkg:pypi/pyyaml@6.0.1');
    assert.equal(got.find((p) => p.name === 'zope-interface')?.version, '6.1');
  });

  test('Maven: jars and a fat jar list exactly the resolved dependencies', () => {
    // mvn dependency:list output, captured at build time (mvn itself takes ~10 s to start).
    const text = readFileSync(join(expected, 'mvn-deps.txt'), 'utf8').split(String.fromCharCode(27)).map((s) => s.replace(/^\[[0-9;]*m/, '')).join('');
    const deps = [...text.matchAll(/^\s+([\w.-]+):([\w.-]+):jar:([\w.-]+):\w+/gm)].map((m) => `${m[1]}:${m[2]}@${m[3]}`);
    assert.ok(deps.length >= 4, 'mvn dependency:list output missing');
    const jars = of('java', '/opt/java/');
    assert.deepEqual(sorted(jars.map(key)), sorted([...deps, 'com.example.gatehouse:inv-app@1.2.3']));
    const fat = of('java', '/opt/fat/fat.jar');
    assert.deepEqual(sorted(fat.map(key)), sorted(deps));
    for (const p of fat) assert.match(String(p.metadata?.archive), /^fat\.jar!\/BOOT-INF\/lib\/.+\.jar$/);
    const lang3 = jars.find((p) => p.name === 'org.apache.commons:commons-lang3')!;
    assert.equal(lang3.purl, 'pkg:maven/org.apache.commons/commons-lang3@3.14.0');
  });

  test("Maven: licences equal each jar's pom.xml <licenses> (else its manifest's Bundle-License), read by python", () => {
    // The reference: Python's zipfile + ElementTree on the same jars (name, else url); a pom
    // without licences (inherited from a parent pom) falls back to the OSGi header.
    const script = [
      'import sys, zipfile, json, xml.etree.ElementTree as ET',
      'out = {}',
      'for jar in sys.argv[1:]:',
      '    z = zipfile.ZipFile(jar)',
      '    for n in z.namelist():',
      "        if n.startswith('META-INF/maven/') and n.endswith('/pom.xml'):",
      "            ns = {'m': 'http://maven.apache.org/POM/4.0.0'}",
      '            root = ET.fromstring(z.read(n))',
      "            names = [(l.findtext('m:name', '', ns) or l.findtext('m:url', '', ns)).strip() for l in root.findall('m:licenses/m:license', ns)]",
      "            if not [x for x in names if x]:",
      "                mf = z.read('META-INF/MANIFEST.MF').decode().replace('\\r\\n ', '').replace('\\n ', '')",
      "                names = [l.split(': ', 1)[1].split(';')[0].strip() for l in mf.splitlines() if l.startswith('Bundle-License: ')]",
      "            out[n.split('/')[3]] = [x for x in names if x]",
      'print(json.dumps(out))',
    ].join('\n');
    const jars = of('java', '/opt/java/');
    const files = [...new Set(jars.map((p) => join(langRoot, p.location.path)))];
    const want = JSON.parse(run('python3', ['-c', script, ...files])) as Record<string, string[]>;
    assert.ok(Object.values(want).filter((l) => l.length).length >= 3, 'the real jars declare licences');
    for (const p of jars) {
      const artifact = p.name.split(':')[1]!;
      if (!(artifact in want)) continue; // built without a pom.xml inside (the app jar)
      assert.deepEqual(p.licenses ?? [], want[artifact], p.name);
    }
    // The fat jar's nested jars carry the same poms.
    for (const p of of('java', '/opt/fat/fat.jar')) assert.deepEqual(p.licenses ?? [], want[p.name.split(':')[1]!] ?? [], `fat.jar ${p.name}`);
  });

  test('Rust binary built with cargo auditable: crates equal its Cargo.lock', () => {
    const lock = readFileSync(join(expected, 'rustapp.Cargo.lock'), 'utf8');
    const want = [...lock.matchAll(/\[\[package\]\]\nname = "([^"]+)"\nversion = "([^"]+)"/g)].map((m) => `${m[1]}@${m[2]}`);
    assert.ok(want.length >= 4, 'Cargo.lock lists the crate and its dependencies');
    const got = of('rust', '/usr/local/bin/rustapp');
    assert.deepEqual(sorted(got.map(key)), sorted(want));
    const root = got.find((p) => p.metadata?.root);
    assert.equal(root && key(root), 'rustapp@0.3.1');
    assert.equal(got.find((p) => p.name === 'semver')?.purl, 'pkg:cargo/semver@1.0.23');
  });

  test('rpm (sqlite rpmdb): packages equal `rpm -qa`', { skip: missing(hasCommand('rpm'), 'rpm') }, () => {
    const qa = run('rpm', ['-qa', '--dbpath', join(langRoot, 'var/lib/rpm'), '--qf', '%{NAME}|%{EPOCHNUM}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}|%{VENDOR}|%{LICENSE}\n']);
    const want = qa.trim().split('\n');
    assert.equal(want.length, 2);
    const got = of('rpm', '/var/lib/rpm/rpmdb.sqlite').map(
      (p) => `${p.name}|${p.epoch ?? 0}|${p.version}|${p.arch}|${p.metadata?.sourceRpm}|${p.metadata?.vendor}|${p.licenses?.join(' ')}`,
    );
    assert.deepEqual(sorted(got), sorted(want));
    const hello = of('rpm', '/var/lib/rpm/').find((p) => p.name === 'hello-tool')!;
    assert.deepEqual(hello.source, { name: 'hello-tool', version: '2.5.0-3' });
    assert.deepEqual(hello.metadata?.files, ['/usr/share/hello-tool/README']);
    assert.equal(hello.epoch, 1);
  });
});
