/** Small handcrafted feed documents for the vulnerability tests (real advisories come from ../shared). */

/** A Debian security tracker JSON in the shape of tracker/data/json, built for the tests. */
export function trackerJson(): Record<string, unknown> {
  return {
    openssl: {
      'CVE-2023-0001': {
        description: 'fixed in bookworm by 3.0.9-1',
        releases: {
          bookworm: { status: 'resolved', repositories: { bookworm: '3.0.11-1~deb12u2' }, fixed_version: '3.0.9-1', urgency: 'medium' },
          bullseye: { status: 'resolved', repositories: { bullseye: '1.1.1w-0+deb11u1' }, fixed_version: '0', urgency: 'unimportant' },
        },
      },
      'CVE-2023-0002': {
        description: 'open in bookworm',
        releases: { bookworm: { status: 'open', repositories: { bookworm: '3.0.11-1~deb12u2' }, urgency: 'low**' } },
      },
      'CVE-2023-0003': {
        description: 'end of life',
        releases: { bookworm: { status: 'open', repositories: { bookworm: '3.0.11-1~deb12u2' }, urgency: 'end-of-life' } },
      },
      'CVE-2023-0004': {
        description: 'fixed before the installed version',
        releases: {
          bookworm: { status: 'resolved', repositories: { bookworm: '3.0.11-1~deb12u2' }, fixed_version: '3.0.8-1', urgency: 'high' },
          bullseye: { status: 'resolved', repositories: { bullseye: '1.1.1w-0+deb11u1' }, fixed_version: '1.1.1n-0+deb11u5', urgency: 'high' },
        },
      },
      'CVE-2023-0005': {
        description: 'ignored',
        releases: { bookworm: { status: 'open', repositories: { bookworm: '3.0.11-1~deb12u2' }, urgency: 'low', nodsa: 'Minor issue', nodsa_reason: 'ignored' } },
      },
    },
    glibc: {
      'CVE-2023-0100': {
        description: 'glibc issue',
        releases: { bookworm: { status: 'resolved', repositories: { bookworm: '2.36-9+deb12u4' }, fixed_version: '2.36-9+deb12u3', urgency: 'high' } },
      },
    },
  };
}

/** An OSV record keyed the OSV way for Debian ("Debian:12"), with CVSS v3.1 and v4 vectors. */
export function osvDebianRecord(modified = '2024-01-02T00:00:00Z', summary = 'zlib overflow'): Record<string, unknown> {
  return {
    schema_version: '1.6.0',
    id: 'DSA-9999-1',
    modified,
    published: '2024-01-01T00:00:00Z',
    aliases: ['CVE-2023-9999'],
    summary,
    severity: [
      { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' },
      { type: 'CVSS_V4', score: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N' },
    ],
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: 'zlib', purl: 'pkg:deb/debian/zlib?arch=source' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-1+deb12u1' }] }],
      },
    ],
    references: [{ type: 'ADVISORY', url: 'https://security-tracker.debian.org/tracker/DSA-9999-1' }],
  };
}
