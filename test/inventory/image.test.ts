/**
 * `gatehouse image sbom` over real OCI images: the artefact image (two layers: a jar deleted
 * by a whiteout, an npm package added) and the lead's debootstrap Debian image. The image
 * inventory equals the directory inventory of the same files, only files surviving in the
 * final filesystem count, and each package carries the layer (and digest) that added it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inventoryDirectory, type Package } from '../../src/inventory/index.js';
import { runCli } from '../helpers/cli.js';
import { cacheHas, missing } from '../helpers/components.js';
import { debianImage, debianRoot, haveDebian, haveLang, inv, langImage, langRoot, setupHint, sorted } from './helpers.js';

const id = (p: Pick<Package, 'analyzer' | 'name' | 'version' | 'location'>) => `${p.analyzer} ${p.name}@${p.version} ${p.location.path}`;

async function imageSbom(ref: string): Promise<{ packages: Package[]; target: { digest: string }; os?: { id: string } }> {
  const r = await runCli(['image', 'sbom', ref, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '', 'no warnings expected');
  return JSON.parse(r.stdout);
}

function manifestLayers(ociDir: string, tag: string): string[] {
  const index = JSON.parse(readFileSync(join(ociDir, 'index.json'), 'utf8'));
  const desc = index.manifests.find((m: any) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  const manifest = JSON.parse(readFileSync(join(ociDir, 'blobs/sha256', desc.digest.slice(7)), 'utf8'));
  return manifest.layers.map((l: any) => l.digest);
}

describe('image sbom', () => {
  test('artefact image: surviving files only, with their layers', { skip: missing(haveLang, `inventory fixtures (${setupHint})`) }, async () => {
    const [img, dir] = await Promise.all([imageSbom(langImage), inventoryDirectory(langRoot)]);
    // Lockfiles count in source trees only; in an image what is installed counts.
    const want = dir.packages.filter((p) => p.location.path !== '/opt/java/commons-lang3-3.14.0.jar' && p.analyzer !== 'npm-lock').map(id);
    assert.ok(dir.packages.some((p) => p.analyzer === 'npm-lock'));
    want.push('npm late-pkg@9.9.9 /srv/web/node_modules/late-pkg/package.json');
    assert.deepEqual(sorted(img.packages.map(id)), sorted(want));
    const layers = manifestLayers(join(inv, 'oci'), 'lang');
    for (const p of img.packages) {
      const layer = p.name === 'late-pkg' ? 1 : 0;
      assert.equal(p.location.layer, layer, id(p));
      assert.equal(p.location.layerDigest, layers[layer], id(p));
    }
    // Same purls as the directory scan (the inventory does not depend on the source).
    const dirPurls = new Map(dir.packages.map((p) => [id(p), p.purl]));
    for (const p of img.packages) if (dirPurls.has(id(p))) assert.equal(p.purl, dirPurls.get(id(p)));
  });

  test('Debian image equals the Debian root filesystem it was built from', { skip: missing(haveDebian && cacheHas('oci', 'index.json'), 'Debian test image (.ci/setup.d/40-test-images.sh)') }, async () => {
    const [img, dir] = await Promise.all([imageSbom(debianImage), inventoryDirectory(debianRoot)]);
    assert.equal(img.os?.id, 'debian');
    assert.deepEqual(dir.warnings, []);
    const line = (p: Package) => `${p.name} ${p.version} ${p.source?.name} ${p.source?.version} ${p.arch} ${p.purl}`;
    assert.deepEqual(sorted(img.packages.map(line)), sorted(dir.packages.map(line)));
    assert.ok(img.packages.length > 50);
    assert.ok(img.packages.every((p) => p.location.layer === 0));
  });
});
