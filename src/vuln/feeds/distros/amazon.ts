/**
 * Amazon Linux 1, 2 and 2023: ALAS advisories from the repositories' updateinfo.xml
 * (../updateinfo.ts), keyed "Amazon Linux:1|2|2023"; binary package names.
 */
import type { OsDistro } from './types.js';

export const AMAZON_ECOSYSTEM = 'Amazon Linux';

/** The release an ALAS id belongs to: ALAS-… is Amazon Linux 1, ALAS2-… 2, ALAS2023-… 2023. */
export function amazonReleaseOfAdvisory(id: string): string | undefined {
  const m = /^ALAS(\d*)/.exec(id);
  if (!m) return undefined;
  return m[1] || '1';
}

export const amazonLinux: OsDistro = {
  label: 'amazon',
  osIds: ['amzn'],
  scheme: 'rpm',
  keys: (os) => {
    const v = os.versionId;
    if (!v) return [];
    // Amazon Linux 1 images say VERSION_ID="2018.03"; 2 says "2"; 2023 says "2023".
    const release = /^20(1\d)\./.test(v) ? '1' : (/^\d+/.exec(v)?.[0] ?? v);
    return [`${AMAZON_ECOSYSTEM}:${release}`];
  },
};
