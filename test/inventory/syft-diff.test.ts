/**
 * Differential test against Syft (v1.57.0, built from the Go module proxy by
 * .ci/setup.d/58-syft.sh) on the same images: the debootstrap Debian image (docker-archive)
 * and the language-artefact image (OCI layout: Go binary, npm, Python venv, Maven jars and
 * a fat jar, rpmdb, cargo-auditable binary). Packages are compared as multisets of package
 * URLs without qualifiers (type/namespace/name@version). Every difference must match one
 * of the explained cases below; anything else fails with the list.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../../src/image/index.js';
import { inventoryImage } from '../../src/inventory/index.js';
import { cacheHas, cachedPath, missing } from '../helpers/components.js';
import { debianRoot, haveLang, inv } from './helpers.js';
import { resolveInDirectory } from '../../src/inventory/sources/directory.js';
import { LICENSE_SEPARATOR } from '../../src/inventory/analyzers/deb-copyright.js';
import { spdxIdFor } from '../../src/inventory/sbom/licenses.js';

const syft = cachedPath('bin', 'syft');
const available = cacheHas('bin', 'syft') && cacheHas('archives', 'debian.tar') && haveLang;

interface SyftArtifact {
  name: string;
  version: string;
  type: string;
  purl?: string;
  locations: { path: string }[];
  licenses?: { value: string; spdxExpression?: string }[];
}

/** A difference Syft and Gatehouse are known to have, and why. */
interface Explained {
  side: 'syft' | 'gatehouse';
  reason: string;
  matches: (key: string, path: string) => boolean;
}

const EXPLAINED: Explained[] = [
  {
    side: 'syft',
    reason: "Syft's binary classifier names setuptools' Windows launcher executables (cli*.exe, gui*.exe) as packages; they are files of the setuptools package both tools list",
    matches: (key, path) => key.startsWith('binary:') && /\/site-packages\/setuptools\/(cli|gui)(-\w+)?\.exe$/.test(path),
  },
  {
    side: 'syft',
    reason: "Syft names a jar without Maven metadata after its Main-Class (no version); Gatehouse reports jars by their pom.properties / Maven manifest entries, and does list the Maven artefacts nested in that fat jar",
    matches: (key, path) => key.startsWith('pkg:maven/') && !key.includes('@') && path.endsWith('/fat.jar'),
  },
  {
    side: 'syft',
    reason: "the project's own package.json (/srv/web) is not an installed package; Gatehouse, like Trivy for images, lists node_modules/**/package.json",
    matches: (key, path) => key.startsWith('pkg:npm/') && path === '/srv/web/package.json',
  },
];

/** Version spellings that differ only in form. */
function normalize(key: string): string {
  return key
    .replace(/^(pkg:golang\/[^@]+)@\(devel\)$/, '$1') // main module: "(devel)" vs no version
    .replace(/^(pkg:golang\/stdlib)@go/, '$1@'); // stdlib: go1.26.8 vs 1.26.8
}

/** Qualifiers dropped, percent-encoding undone (Syft encodes `+` and `:` in versions, which the purl spec allows either way). */
const base = (purl: string) => normalize(decodeURIComponent(purl.split('?')[0]!.split('#')[0]!));

function syftArtifacts(source: string): SyftArtifact[] {
  const out = execFileSync(syft, ['scan', source, '-o', 'syft-json', '-q'], { maxBuffer: 256 << 20, env: { ...process.env, SYFT_CHECK_FOR_APP_UPDATE: 'false' } });
  return JSON.parse(out.toString('utf8')).artifacts as SyftArtifact[];
}

function syftPackages(source: string): { key: string; path: string }[] {
  return syftArtifacts(source).map((a) => ({
    key: a.purl ? base(a.purl) : `${a.type}:${a.name}@${a.version}`,
    path: a.locations[0]?.path ?? '',
  }));
}

async function gatehousePackages(ref: string): Promise<{ key: string; path: string }[]> {
  const img = await openImage(ref);
  try {
    return (await inventoryImage(img)).packages.map((p) => ({ key: base(p.purl), path: p.location.path }));
  } finally {
    await img.close();
  }
}

/** Multiset difference a − b, by key. */
function minus(a: { key: string; path: string }[], b: { key: string; path: string }[]): { key: string; path: string }[] {
  const left = new Map<string, number>();
  for (const x of b) left.set(x.key, (left.get(x.key) ?? 0) + 1);
  const out: { key: string; path: string }[] = [];
  for (const x of a) {
    const n = left.get(x.key) ?? 0;
    if (n > 0) left.set(x.key, n - 1);
    else out.push(x);
  }
  return out;
}

describe('inventory vs Syft on the same images', { skip: missing(available, 'syft and the test images (bash .ci/setup.d/58-syft.sh, 40-test-images.sh, 55-inventory-fixtures.sh)') }, () => {
  const cases: [string, string, string, number][] = [
    ['Debian image', `docker-archive:${cachedPath('archives', 'debian.tar')}`, `docker-archive:${cachedPath('archives', 'debian.tar')}`, 80],
    ['language artefacts image', `oci-dir:${join(inv, 'oci')}`, `oci:${join(inv, 'oci')}:lang`, 90],
  ];
  for (const [label, syftRef, ourRef, atLeast] of cases) {
    test(`${label}: every difference is explained`, async () => {
      const theirs = syftPackages(syftRef);
      const ours = await gatehousePackages(ourRef);
      assert.ok(theirs.length >= atLeast && ours.length >= atLeast, `syft ${theirs.length}, gatehouse ${ours.length} packages`);
      const unexplained: string[] = [];
      const used = new Set<Explained>();
      for (const [side, diff] of [['syft', minus(theirs, ours)], ['gatehouse', minus(ours, theirs)]] as const) {
        for (const d of diff) {
          const why = EXPLAINED.find((e) => e.side === side && e.matches(d.key, d.path));
          if (why) used.add(why);
          else unexplained.push(`only ${side}: ${d.key} (${d.path})`);
        }
      }
      assert.deepEqual(unexplained, [], 'differences with Syft that no explanation covers');
      if (label === 'Debian image') assert.equal(used.size, 0, 'the dpkg inventories agree exactly');
    });
  }

  // Licences of the Debian packages, from /usr/share/doc/<pkg>/copyright. Syft keeps the
  // first name of each DEP-5 `License:` expression, and names a file it cannot read that way
  // by the hash of its text; Gatehouse keeps every name of an expression and, in free-form
  // files, the /usr/share/common-licenses/<name> references.
  test('Debian image: dpkg licences agree with Syft, every difference explained', async () => {
    const archive = `docker-archive:${cachedPath('archives', 'debian.tar')}`;
    const theirs = new Map(syftArtifacts(archive).filter((a) => a.type === 'deb').map((a) => [a.name, (a.licenses ?? []).map((l) => l.value)]));
    const img = await openImage(archive);
    const ours = new Map((await inventoryImage(img, { only: ['dpkg'] })).packages.map((p) => [p.name, p.licenses ?? []]));
    await img.close();
    assert.ok(ours.size >= 80 && [...ours.values()].filter((l) => l.length).length >= 80, 'licences found for most packages');
    const unexplained: string[] = [];
    let hashed = 0;
    for (const [name, mine] of ours) {
      // Syft's token may keep the comma that ends it in an expression ("REGCOMP, and …").
      const named = (theirs.get(name) ?? []).filter((v) => !v.startsWith('sha256:')).map((v) => v.replace(/,$/, ''));
      const real = resolveInDirectory(debianRoot, `/usr/share/doc/${name}/copyright`);
      const text = real ? readFileSync(join(debianRoot, real), 'utf8') : '';
      const fields = [...text.matchAll(/^License:[ \t]*(\S.*)$/gm)].map((m) => m[1]!.trim());
      // Syft cuts a name at its first space ("GPL-2+ with Texinfo exception" → "GPL-2+").
      const cutBySyft = (ourName: string, syftName: string) => ourName.startsWith(`${syftName} with `);
      for (const l of named) if (!mine.includes(l) && !mine.some((m) => cutBySyft(m, l))) unexplained.push(`${name}: only syft: ${l}`);
      for (const l of mine.filter((x) => !named.includes(x))) {
        const laterTerm = fields.some((f) => f.split(LICENSE_SEPARATOR).slice(1).map((t) => t.trim().replace(/\.$/, '')).includes(l));
        const cut = named.some((n) => cutBySyft(l, n));
        const commonRef = text.includes(`/usr/share/common-licenses/${l}`);
        // Syft's pattern wants exactly one space after "License:" and reads nothing otherwise.
        const spaced = new RegExp(`^License:[ \\t]{2,}${l.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\s*$`, 'm').test(text);
        if (!laterTerm && !cut && !commonRef && !spaced) unexplained.push(`${name}: only gatehouse: ${l}`);
      }
      if (named.length === 0) hashed++;
    }
    assert.deepEqual(unexplained, []);
    assert.ok(hashed < ours.size / 4, `Syft named licences for most packages (${ours.size - hashed} of ${ours.size})`);
  });

  // The SPDX ids both tools give the Debian licence names (as SBOMs carry them).
  test('Debian image: SPDX ids of the licence names agree with Syft, differences explained', () => {
    const pairs = new Map<string, string>();
    for (const a of syftArtifacts(`docker-archive:${cachedPath('archives', 'debian.tar')}`)) {
      for (const l of a.licenses ?? []) if (!l.value.startsWith('sha256:')) pairs.set(l.value, l.spdxExpression ?? '');
    }
    assert.ok([...pairs.values()].filter(Boolean).length >= 30, 'Syft maps many names');
    const unexplained: string[] = [];
    for (const [name, theirs] of pairs) {
      const ours = spdxIdFor(name) ?? '';
      if (ours === theirs) continue;
      // Syft drops a variant suffix (BSD-2-clause-NetBSD → BSD-2-Clause): a variant is another text.
      if (!ours && theirs && name.toLowerCase().startsWith(`${theirs.toLowerCase()}-`)) continue;
      // DEP-5 defines "Expat" as the licence SPDX calls MIT; Syft leaves it unmapped.
      if (name === 'Expat' && ours === 'MIT' && !theirs) continue;
      unexplained.push(`${name}: syft ${theirs || '-'}, gatehouse ${ours || '-'}`);
    }
    assert.deepEqual(unexplained, []);
  });
});
