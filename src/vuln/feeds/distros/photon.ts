/** VMware Photon OS: cve_data_photonX.Y.json (../photon-cve.ts), keyed "Photon OS:X.Y"; binary package names. */
import type { OsDistro } from './types.js';

export const PHOTON_ECOSYSTEM = 'Photon OS';

export const photon: OsDistro = {
  label: 'photon',
  osIds: ['photon'],
  scheme: 'rpm',
  keys: (os) => {
    const m = os.versionId ? /^(\d+)(?:\.(\d+))?/.exec(os.versionId) : null;
    return m ? [`${PHOTON_ECOSYSTEM}:${m[1]}.${m[2] ?? '0'}`] : [];
  },
};
