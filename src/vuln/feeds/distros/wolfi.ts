/** Wolfi: packages.wolfi.dev/os/security.json (../wolfi-secdb.ts), one rolling release, keyed "Wolfi" by apk origin. */
import type { OsDistro } from './types.js';

export const wolfi: OsDistro = {
  label: 'wolfi',
  osIds: ['wolfi'],
  scheme: 'apk',
  keys: () => ['Wolfi'],
};
