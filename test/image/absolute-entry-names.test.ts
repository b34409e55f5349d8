/**
 * Issue 24 item 13: a Debian root put into an OCI layout with `umoci insert` (umoci 0.4.7,
 * Debian's) has a layer whose first entry is the root itself, named "/". GNU tar, containerd
 * and Trivy read a leading "/" as relative to the root; so must the layer walker.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { cacheHas, cachedPath, hasCommand, missing } from '../helpers/components.js';

const rootfs = cachedPath('debian-rootfs');
const skip =
  missing(hasCommand('umoci'), 'umoci not installed (bash .ci/setup)') ||
  missing(cacheHas('debian-rootfs', '.complete'), 'debootstrap root ~/.cache/gatehouse-test/debian-rootfs not built (bash .ci/setup)');

/** name → version of the packages dpkg has installed in the root. */
function dpkgInstalled(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const para of readFileSync(join(root, 'var/lib/dpkg/status'), 'utf8').split(/\n\n+/)) {
    const field = (f: string): string | undefined => new RegExp(`^${f}: (.*)$`, 'm').exec(para)?.[1];
    if (field('Status') === 'install ok installed') out.set(field('Package')!, field('Version')!);
  }
  return out;
}

function run(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

describe('layers with absolute entry names (umoci insert)', { skip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-umoci-'));
  after(() => rmSync(work, { recursive: true, force: true }));
  const layout = join(work, 'layout');

  it('image sbom lists the dpkg packages of the inserted root', async () => {
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', `${layout}:debian`]);
    run('umoci', ['insert', '--image', `${layout}:debian`, rootfs, '/']);

    // The input is of the kind the issue names: some layer's first entry is the root, "/".
    const blobs = join(layout, 'blobs/sha256');
    const firstNames = readdirSync(blobs)
      .map((b) => spawnSync('tar', ['-tzf', join(blobs, b)], { encoding: 'utf8' }))
      .filter((r) => r.status === 0)
      .map((r) => r.stdout.split('\n')[0]);
    assert.ok(firstNames.includes('/'), `no layer starts with an entry named "/": ${JSON.stringify(firstNames)}`);

    const res = await runCli(['image', 'sbom', '--format', 'json', `oci:${layout}:debian`]);
    assert.equal(res.code, 0, res.stderr);
    const sbom = JSON.parse(res.stdout) as { os?: { id: string }; packages: { ecosystem: string; name: string; version: string }[] };
    assert.equal(sbom.os?.id, 'debian');
    const found = new Map(sbom.packages.filter((p) => p.ecosystem === 'Debian').map((p) => [p.name, p.version]));
    const expected = dpkgInstalled(rootfs);
    assert.ok(expected.size > 50, `only ${expected.size} packages in the root's dpkg status`);
    assert.deepEqual([...found].sort(), [...expected].sort());
  });
});
