/**
 * Every version scheme, registered once. Look schemes up by OSV ecosystem (case-insensitive,
 * release suffix such as "Debian:12" or "Alpine:v3.19" ignored) or by scheme name.
 */
import { UserError } from '../../util/errors.js';
import { apkScheme } from './apk.js';
import { dpkgScheme } from './dpkg.js';
import { goScheme } from './golang.js';
import { mavenScheme } from './maven.js';
import { nugetScheme } from './nuget.js';
import { packagistScheme } from './packagist.js';
import { pep440Scheme } from './pep440.js';
import { rpmScheme } from './rpm.js';
import { rubygemsScheme } from './rubygems.js';
import type { Order, VersionScheme } from './scheme.js';
import { semverScheme } from './semver.js';

export { InvalidVersionError, type Order, type VersionScheme } from './scheme.js';

export const SCHEMES: readonly VersionScheme[] = [
  dpkgScheme,
  apkScheme,
  rpmScheme,
  semverScheme,
  pep440Scheme,
  mavenScheme,
  goScheme,
  rubygemsScheme,
  nugetScheme,
  packagistScheme,
];

const byKey = new Map<string, VersionScheme>();
for (const s of SCHEMES) {
  byKey.set(s.name, s);
  for (const e of s.ecosystems) byKey.set(e.toLowerCase(), s);
}
byKey.set('npm-semver', semverScheme);

/** "Debian:12" → "Debian"; "Alpine:v3.19" → "Alpine"; "Red Hat:enterprise_linux:9" → "Red Hat". */
export function baseEcosystem(ecosystem: string): string {
  const colon = ecosystem.indexOf(':');
  return (colon < 0 ? ecosystem : ecosystem.slice(0, colon)).trim();
}

export function findScheme(ecosystemOrScheme: string): VersionScheme | undefined {
  const key = ecosystemOrScheme.trim().toLowerCase();
  return byKey.get(key) ?? byKey.get(baseEcosystem(key));
}

export function schemeFor(ecosystemOrScheme: string): VersionScheme {
  const s = findScheme(ecosystemOrScheme);
  if (!s) {
    const known = [...new Set(SCHEMES.flatMap((x) => [...x.ecosystems, x.name]))].join(', ');
    throw new UserError(`unknown ecosystem or version scheme "${ecosystemOrScheme}" (known: ${known})`, 'bad-ecosystem');
  }
  return s;
}

export function compareVersions(ecosystemOrScheme: string, a: string, b: string): Order {
  return schemeFor(ecosystemOrScheme).compare(a, b);
}
