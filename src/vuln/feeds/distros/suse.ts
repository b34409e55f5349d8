/**
 * SUSE Linux Enterprise: SUSE's CVRF advisories (../suse-cvrf.ts). SLE packages are filed
 * under the product or module that ships them (Server, Desktop, "Module for Basesystem", …)
 * with the same release, so every SLE product of release X SP Y is keyed
 * "SUSE Linux Enterprise:X.Y" (as Trivy does). SLE Micro and other products with their own
 * version line are not SLE releases and are left out.
 */
import type { OsDistro } from './types.js';

export const SLE_ECOSYSTEM = 'SUSE Linux Enterprise';

/** The key of a SUSE product name, e.g. "SUSE Linux Enterprise Module for Basesystem 15 SP1" → "SUSE Linux Enterprise:15.1". */
export function sleKeyOfProduct(product: string): string | undefined {
  if (!product.startsWith('SUSE Linux Enterprise ') || /Micro|Storage|Manager|CaaS|OpenStack|Cloud/i.test(product)) return undefined;
  const m = / (\d+)(?: SP(\d+))?(?:[- ](?:LTSS|ESPOS|TERADATA|BCL|INSTALLER))*$/.exec(product);
  return m ? `${SLE_ECOSYSTEM}:${m[1]}.${m[2] ?? '0'}` : undefined;
}

export const suseLinuxEnterprise: OsDistro = {
  label: 'sles',
  osIds: ['sles', 'sled', 'sles_sap'],
  scheme: 'rpm',
  keys: (os) => {
    const m = os.versionId ? /^(\d+)(?:\.(\d+))?/.exec(os.versionId) : null;
    return m ? [`${SLE_ECOSYSTEM}:${m[1]}.${m[2] ?? '0'}`] : [];
  },
};
