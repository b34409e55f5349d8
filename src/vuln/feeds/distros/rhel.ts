/**
 * Red Hat Enterprise Linux: Red Hat's OVAL v2 (../rhel-oval.ts), keyed "Red Hat:N" per major
 * release; binary package names, epoch in the fixed versions. CentOS and Oracle Linux are not
 * mapped here: CentOS Stream and CentOS Linux build ahead of / beside RHEL with their own
 * release numbers, and Oracle Linux rebuilds with its own "el8_N" releases and errata (ELSA),
 * so RHEL's fixed versions are not theirs and would call a package fixed or vulnerable wrongly.
 */
import { majorOf, type OsDistro } from './types.js';

export const RHEL_ECOSYSTEM = 'Red Hat';

export const redHatEnterpriseLinux: OsDistro = {
  label: 'rhel',
  osIds: ['rhel'],
  scheme: 'rpm',
  keys: (os) => {
    const major = majorOf(os.versionId);
    return major ? [`${RHEL_ECOSYSTEM}:${major}`] : [];
  },
};
