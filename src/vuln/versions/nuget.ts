/** NuGet versions: up to four numeric parts, case-insensitive pre-release, metadata ignored. */
import { InvalidVersionError, basicCheck, type VersionScheme } from './scheme.js';
import { compareSemverLike, parseSemverLike } from './semver-like.js';

function check(v: string): void {
  basicCheck('nuget', v);
  if (!/^v?[0-9]/.test(v)) throw new InvalidVersionError(v, 'does not start with a number', 'nuget');
}

export const nugetScheme: VersionScheme = {
  name: 'nuget',
  ecosystems: ['NuGet'],
  validate: check,
  compare(a, b) {
    check(a);
    check(b);
    return compareSemverLike(parseSemverLike(a, 4), parseSemverLike(b, 4), true);
  },
};
