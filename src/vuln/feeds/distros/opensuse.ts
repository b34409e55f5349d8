/** openSUSE Leap and Tumbleweed: SUSE's CVRF advisories (../suse-cvrf.ts), keyed "openSUSE Leap:X.Y" / "openSUSE Tumbleweed". */
import type { OsDistro } from './types.js';

/** The key of an openSUSE product name: "openSUSE Leap 15.0" → "openSUSE Leap:15.0". */
export function openSuseKeyOfProduct(product: string): string | undefined {
  const leap = /^openSUSE Leap (\d+\.\d+)$/.exec(product);
  if (leap) return `openSUSE Leap:${leap[1]}`;
  return product === 'openSUSE Tumbleweed' ? 'openSUSE Tumbleweed' : undefined;
}

export const openSuse: OsDistro = {
  label: 'opensuse',
  osIds: ['opensuse-leap', 'opensuse-tumbleweed', 'opensuse'],
  scheme: 'rpm',
  keys: (os) => {
    if (os.id === 'opensuse-tumbleweed') return ['openSUSE Tumbleweed'];
    const m = os.versionId ? /^(\d+\.\d+)/.exec(os.versionId) : null;
    return m ? [`openSUSE Leap:${m[1]}`] : [];
  },
};
