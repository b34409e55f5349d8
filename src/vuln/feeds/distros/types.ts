/** One operating-system distribution a feed covers: how its images are recognized and keyed. */
import type { OsInfo } from '../../../inventory/package.js';

export interface OsDistro {
  /** The name the coverage report uses, e.g. "amazon" (with the release: "amazon:2023"). */
  label: string;
  /** os-release IDs of its images. */
  osIds: readonly string[];
  /** The version order of its packages (a scheme name of src/vuln/versions). */
  scheme: 'rpm' | 'apk' | 'dpkg';
  /** Its RPM advisories name source packages (Azure Linux OVAL), not binary ones. */
  sourcePackages?: boolean;
  /** The ecosystem keys its advisories are stored under for this installed release ([] when unknown). */
  keys(os: OsInfo): string[];
}

/** "9.3" → "9": RPM distributions publish advisories per major release. */
export function majorOf(versionId: string | undefined): string | undefined {
  return versionId ? /^\d+/.exec(versionId)?.[0] : undefined;
}
