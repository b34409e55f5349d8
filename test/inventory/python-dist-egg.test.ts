/**
 * One Python package for a distribution that has both a *.dist-info and a *.egg-info
 * (issue 24 item 6). Real input: Debian bookworm's python3-cryptography ships both
 * /usr/lib/python3/dist-packages/cryptography-38.0.4.dist-info and cryptography.egg-info
 * (installed by .ci/setup.d/71-python-dist.sh); both metadata directories are copied as
 * they are into a site-packages of a temporary tree. Before the fix the inventory listed
 * cryptography twice, and every PyPI advisory matched it twice.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/components.js';

const dist = '/usr/lib/python3/dist-packages';
const metas = existsSync(dist) ? readdirSync(dist).filter((n) => /^cryptography(-[^-]+)?\.(dist|egg)-info$/.test(n)) : [];
const skip = missing(metas.some((n) => n.endsWith('.dist-info')) && metas.some((n) => n.endsWith('.egg-info')), 'Debian python3-cryptography (bash .ci/setup.d/71-python-dist.sh)');
const work = mkdtempSync(join(tmpdir(), 'gatehouse-pydup-'));
after(() => rmSync(work, { recursive: true, force: true }));

interface Pkg {
  name: string;
  version: string;
  ecosystem: string;
  location: { path: string };
}

describe('site-packages with both dist-info and egg-info for one distribution', { skip }, () => {
  const site = join(work, 'usr', 'lib', 'python3', 'dist-packages');
  before(() => {
    mkdirSync(site, { recursive: true });
    for (const n of metas) cpSync(join(dist, n), join(site, n), { recursive: true });
  });

  it('gives one package, located at the dist-info', async () => {
    const res = await runCli(['fs', 'sbom', work, '--format', 'json']);
    assert.equal(res.code, 0, res.stderr);
    const pkgs = (JSON.parse(res.stdout).packages as Pkg[]).filter((p) => p.ecosystem === 'PyPI');
    assert.equal(pkgs.length, 1, JSON.stringify(pkgs));
    assert.equal(pkgs[0]!.name, 'cryptography');
    assert.match(pkgs[0]!.location.path, /\/cryptography-[^/]+\.dist-info\/METADATA$/);
  });

  it('keeps two packages when the same version sits in two site-packages directories', async () => {
    const other = join(work, 'usr', 'local', 'lib', 'python3.11', 'dist-packages');
    mkdirSync(other, { recursive: true });
    const egg = metas.find((n) => n.endsWith('.egg-info'))!;
    cpSync(join(dist, egg), join(other, egg), { recursive: true });
    try {
      const res = await runCli(['fs', 'sbom', work, '--format', 'json']);
      assert.equal(res.code, 0, res.stderr);
      const pkgs = (JSON.parse(res.stdout).packages as Pkg[]).filter((p) => p.ecosystem === 'PyPI');
      assert.equal(pkgs.length, 2, 'the same version in another site-packages directory is another install');
    } finally {
      rmSync(join(work, 'usr', 'local'), { recursive: true, force: true });
    }
  });
});
