/**
 * Bottlerocket: BRSA advisories from advisories.bottlerocket.aws/updateinfo.xml.gz
 * (../updateinfo.ts). One feed for every variant and release, so one key.
 */
import type { OsDistro } from './types.js';

export const BOTTLEROCKET_ECOSYSTEM = 'Bottlerocket';

export const bottlerocket: OsDistro = {
  label: 'bottlerocket',
  osIds: ['bottlerocket'],
  scheme: 'rpm',
  keys: () => [BOTTLEROCKET_ECOSYSTEM],
};
