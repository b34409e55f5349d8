/**
 * Azure Linux 3.0 and CBL-Mariner 1.0/2.0 (its former name): Microsoft's OVAL files
 * (../azure-oval.ts), keyed "Azure Linux:X.0". The OVAL names source packages (as Trivy
 * reads it too), so installed packages are looked up by their source RPM.
 */
import type { OsDistro } from './types.js';

export const AZURE_ECOSYSTEM = 'Azure Linux';

export const azureLinux: OsDistro = {
  label: 'azurelinux',
  osIds: ['azurelinux', 'mariner'],
  scheme: 'rpm',
  sourcePackages: true,
  keys: (os) => {
    const m = os.versionId ? /^(\d+)\.(\d+)/.exec(os.versionId) : null;
    return m ? [`${AZURE_ECOSYSTEM}:${m[1]}.${m[2]}`] : [];
  },
};
