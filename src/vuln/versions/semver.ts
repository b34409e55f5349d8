/** SemVer 2 (npm, crates.io, Hex, …): lenient ordering plus npm range checks via `semver`. */
import semver from 'semver';
import { InvalidVersionError, basicCheck, type VersionScheme } from './scheme.js';
import { compareSemverLike, parseSemverLike } from './semver-like.js';

function check(v: string): void {
  basicCheck('semver', v);
  if (!/^v?[0-9]/.test(v)) throw new InvalidVersionError(v, 'does not start with a number', 'semver');
}

export const semverScheme: VersionScheme = {
  name: 'semver',
  ecosystems: ['npm', 'crates.io', 'Hex'],
  validate: check,
  compare(a, b) {
    check(a);
    check(b);
    return compareSemverLike(parseSemverLike(a, 3), parseSemverLike(b, 3));
  },
};

/** Whether an npm version satisfies an npm range ("^1.2.0 || >=2.1 <3"), as npm decides. */
export function npmSatisfies(version: string, range: string): boolean {
  if (semver.valid(version, { loose: true }) === null) throw new InvalidVersionError(version, 'not a SemVer version', 'npm');
  if (semver.validRange(range, { loose: true }) === null) throw new InvalidVersionError(range, 'not an npm range', 'npm');
  return semver.satisfies(version, range, { loose: true, includePrerelease: true });
}
