/** AlmaLinux: OSV records from AlmaLinux/osv-database (osv.dev ecosystem "AlmaLinux:N"), binary package names. */
import { majorOf, type OsDistro } from './types.js';

export const almaLinux: OsDistro = {
  label: 'almalinux',
  osIds: ['almalinux'],
  scheme: 'rpm',
  keys: (os) => {
    const major = majorOf(os.versionId);
    return major ? [`AlmaLinux:${major}`] : [];
  },
};
