/**
 * Go module versions: SemVer with a "v" prefix (optional in OSV), `+incompatible` (build
 * metadata, so ignored) and pseudo-versions (v0.0.0-20210101120000-abcdef123456 or
 * vX.Y.Z-pre.0.2021…), which are pre-releases and so order correctly by SemVer rules.
 */
import { InvalidVersionError, basicCheck, type VersionScheme } from './scheme.js';
import { compareSemverLike, parseSemverLike } from './semver-like.js';

const GO_VERSION = /^v?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

function check(v: string): void {
  basicCheck('go', v);
  if (!GO_VERSION.test(v)) throw new InvalidVersionError(v, 'not a Go module version (vMAJOR.MINOR.PATCH[-pre][+build])', 'go');
}

export const goScheme: VersionScheme = {
  name: 'go',
  ecosystems: ['Go'],
  validate: check,
  compare(a, b) {
    check(a);
    check(b);
    return compareSemverLike(parseSemverLike(a, 3), parseSemverLike(b, 3));
  },
};
