/**
 * The OS distributions whose feeds key advisories by release (beyond Debian, Ubuntu and
 * Alpine, which src/vuln/match.ts keys itself). Adding one is a file here and a line below.
 */
import type { OsInfo, Package } from '../../../inventory/package.js';
import { almaLinux } from './almalinux.js';
import { azureLinux } from './azurelinux.js';
import { amazonLinux } from './amazon.js';
import { bottlerocket } from './bottlerocket.js';
import { chainguard } from './chainguard.js';
import { openSuse } from './opensuse.js';
import { photon } from './photon.js';
import { redHatEnterpriseLinux } from './rhel.js';
import { rockyLinux } from './rocky.js';
import { suseLinuxEnterprise } from './suse.js';
import type { OsDistro } from './types.js';
import { wolfi } from './wolfi.js';

export type { OsDistro } from './types.js';

export const OS_DISTROS: readonly OsDistro[] = [almaLinux, rockyLinux, amazonLinux, bottlerocket, photon, wolfi, chainguard, azureLinux, suseLinuxEnterprise, openSuse, redHatEnterpriseLinux];

/** Analyzers of the OS package databases, by the version scheme of what they find. */
const OS_ANALYZERS: Record<string, OsDistro['scheme']> = { rpm: 'rpm', apk: 'apk', dpkg: 'dpkg' };

/** The registered distribution an installed OS package belongs to (by the image's os-release ID). */
export function osDistroOf(pkg: Package, os: OsInfo | undefined): OsDistro | undefined {
  if (!os) return undefined;
  const scheme = OS_ANALYZERS[pkg.analyzer];
  if (!scheme) return undefined;
  const id = os.id.toLowerCase();
  return OS_DISTROS.find((d) => d.scheme === scheme && d.osIds.includes(id));
}

/**
 * The name and version a distribution's advisories use: RPM feeds name binary packages and
 * write the epoch into fixed versions ("1:3.0.1-47.el9_1"), so the epoch goes in front;
 * apk feeds name the origin package.
 */
export function distroIdentity(distro: OsDistro, pkg: Package): { name: string; version: string } {
  if (distro.scheme === 'rpm') {
    const name = distro.sourcePackages ? (pkg.source?.name ?? pkg.name) : pkg.name;
    const version = distro.sourcePackages ? (pkg.source?.version ?? pkg.version) : pkg.version;
    return { name, version: pkg.epoch ? `${pkg.epoch}:${version}` : version };
  }
  if (distro.scheme === 'apk') return { name: pkg.source?.name ?? pkg.name, version: pkg.version };
  return { name: pkg.source?.name ?? pkg.name, version: pkg.source?.version ?? pkg.version };
}

/** The coverage report's name for the installed release, e.g. "amazon:2023"; "wolfi" for a rolling release. */
export function distroCoverageLabel(distro: OsDistro, os: OsInfo): string {
  const perRelease = distro.keys(os).some((k) => k.includes(':'));
  return perRelease && os.versionId ? `${distro.label}:${os.versionId}` : distro.label;
}
