/**
 * Rocky Linux: osv.dev's "Rocky Linux:N" records, or the repositories' updateinfo.xml
 * (read by ../updateinfo.ts into the same key); binary package names.
 */
import { majorOf, type OsDistro } from './types.js';

export const ROCKY_ECOSYSTEM = 'Rocky Linux';

export const rockyLinux: OsDistro = {
  label: 'rocky',
  osIds: ['rocky'],
  scheme: 'rpm',
  keys: (os) => {
    const major = majorOf(os.versionId);
    return major ? [`${ROCKY_ECOSYSTEM}:${major}`] : [];
  },
};
