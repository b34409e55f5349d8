/** Chainguard OS: packages.cgr.dev/chainguard/security.json (../wolfi-secdb.ts), keyed "Chainguard" by apk origin. */
import type { OsDistro } from './types.js';

export const chainguard: OsDistro = {
  label: 'chainguard',
  osIds: ['chainguard'],
  scheme: 'apk',
  keys: () => ['Chainguard'],
};
