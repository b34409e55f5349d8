/** A package found in an image or directory: the inventory's output, the vuln matcher's input. */

/** OSV ecosystem names where one exists (Debian, Alpine, npm, PyPI, Go, Maven, …). */
export type Ecosystem = string;

export interface PackageLocation {
  /** File the package was found in, absolute inside the image/dir, e.g. /var/lib/dpkg/status. */
  path: string;
  /** Layer index that introduced that file (undefined for a plain directory). */
  layer?: number;
  layerDigest?: string;
}

export interface Package {
  ecosystem: Ecosystem;
  name: string;
  version: string;
  /** Package URL (purl), e.g. pkg:deb/debian/bash@5.2.15-2?arch=amd64&distro=debian-12. */
  purl: string;
  licenses?: string[];
  location: PackageLocation;
  /** Source package (dpkg Source, apk origin, rpm source RPM) — what OS feeds key on. */
  source?: { name: string; version?: string };
  arch?: string;
  epoch?: number;
  /** Which analyzer found it (dpkg, apk, rpm, npm, python, gobinary, java, …). */
  analyzer: string;
  /** Extra per-format details (vendor, files list, go version, …). */
  metadata?: Record<string, unknown>;
}

/** The operating system of the scanned root, from /etc/os-release and friends. */
export interface OsInfo {
  id: string; // debian, alpine, rhel, ubuntu, …
  versionId?: string; // 12, 3.19.1, 9.3
  codename?: string; // bookworm
  prettyName?: string;
}
