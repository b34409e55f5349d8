/** Where the inventory's real test artefacts live (built by .ci/setup.d/55-inventory-fixtures.sh). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachedPath } from '../helpers/components.js';
import type { Package } from '../../src/inventory/index.js';

export const debianRoot = cachedPath('debian-rootfs');
export const inv = cachedPath('inventory');
export const langRoot = join(inv, 'root');
export const expected = join(inv, 'expected');
export const langImage = `oci:${join(inv, 'oci')}:lang`;
export const debianImage = `oci:${cachedPath('oci')}:debian`;

export const haveDebian = existsSync(join(debianRoot, 'var/lib/dpkg/status'));
export const haveLang = existsSync(join(inv, '.image-v1'));
export const setupHint = 'run bash .ci/setup.d/55-inventory-fixtures.sh';

/** Runs a reference tool; throws with its stderr when it fails. */
export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export const key = (p: Pick<Package, 'name' | 'version'>) => `${p.name}@${p.version}`;
export const sorted = (xs: Iterable<string>) => [...xs].sort();

/** An rpm package as `rpm -qa --qf '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM} %{VENDOR} %{LICENSE}\n'` prints it. */
export function rpmQaLine(p: Package): string {
  const md = p.metadata as { release: string; sourceRpm: string; vendor: string };
  const version = p.version.slice(0, -(md.release.length + 1));
  return `${p.name} ${p.epoch ?? 0} ${version} ${md.release} ${p.arch} ${md.sourceRpm} ${md.vendor} ${p.licenses?.join(' ')}`;
}
