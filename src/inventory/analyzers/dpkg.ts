/**
 * Debian packages: var/lib/dpkg/status (and distroless status.d/*), with the source package
 * (Debian advisories are keyed by it), each package's installed files from info/*.list and
 * the licences its /usr/share/doc/<package>/copyright declares.
 */
import type { VisitResult } from '../../image/files.js';
import type { Analyzer, FileFindings, FinishContext } from '../analyzer.js';
import type { OsInfo, Package } from '../package.js';
import { makePurl } from '../purl.js';
import { distroQualifier } from '../os-release.js';
import { readText } from '../streams.js';
import { parseStanzas, stanzaWarning } from './deb822.js';
import { copyrightLicenses } from './deb-copyright.js';

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d/';
const INFO = '/var/lib/dpkg/info/';
const DOC = '/usr/share/doc/';
const COPYRIGHT = /^\/usr\/share\/doc\/([^/]+)\/copyright$/;

interface DpkgStanza {
  name: string;
  version: string;
  arch?: string;
  sourceName: string;
  sourceVersion: string;
}

type DpkgData =
  | { kind: 'status'; entries: DpkgStanza[] }
  | { kind: 'files'; pkg: string; files: string[] }
  | { kind: 'copyright'; licenses: string[] };

export const dpkgAnalyzer: Analyzer<DpkgData> = {
  name: 'dpkg',
  wants(path) {
    if (path === STATUS) return true;
    if (path.startsWith(DOC)) return COPYRIGHT.test(path);
    if (path.startsWith(STATUS_D)) return !path.endsWith('.md5sums') && !path.slice(STATUS_D.length).includes('/');
    return path.startsWith(INFO) && path.endsWith('.list') && !path.slice(INFO.length).includes('/');
  },
  async visit({ path, content }): Promise<FileFindings<DpkgData>> {
    if (path.startsWith(DOC)) return { data: { kind: 'copyright', licenses: copyrightLicenses(await readText(content, 4 * 1024 * 1024)) } };
    if (path.startsWith(INFO)) {
      // info/<pkg>[:<arch>].list: one installed path per line.
      const pkg = path.slice(INFO.length, -'.list'.length).split(':')[0];
      const files = (await readText(content, 32 * 1024 * 1024)).split('\n').filter((l) => l && l !== '/.');
      return { data: { kind: 'files', pkg, files } };
    }
    const { stanzas, errors } = parseStanzas(await readText(content, 256 * 1024 * 1024));
    const entries: DpkgStanza[] = [];
    for (const s of stanzas) {
      if (!s.Package || !s.Version) {
        errors.push(`entry without Package/Version${s.Package ? ` (${s.Package})` : ''}`);
        continue;
      }
      // Only installed packages ("rc" leftovers and half-removed ones are not in the image).
      if (s.Status && !/ installed$/.test(s.Status)) continue;
      const src = /^(\S+)(?:\s+\((\S+)\))?/.exec(s.Source ?? '');
      entries.push({
        name: s.Package,
        version: s.Version,
        arch: s.Architecture,
        sourceName: src?.[1] ?? s.Package,
        sourceVersion: src?.[2] ?? s.Version,
      });
    }
    return { data: { kind: 'status', entries }, warning: stanzaWarning(errors) };
  },
  finish(results, ctx) {
    return dpkgPackages(results, ctx);
  },
};

function dpkgPackages(results: VisitResult<FileFindings<DpkgData>>[], ctx: FinishContext): Package[] {
  const files = new Map<string, string[]>();
  const copyrights = new Map<string, string[]>();
  for (const r of results) {
    const d = r.result.data;
    if (d?.kind === 'files') files.set(d.pkg, d.files);
    else if (d?.kind === 'copyright') copyrights.set(r.path, d.licenses);
  }
  // A package's doc directory may be a symlink to another's (libgcc-s1 -> gcc-12-base).
  const licensesOf = (pkg: string): string[] | undefined => {
    const path = `${DOC}${pkg}/copyright`;
    const found = copyrights.get(path) ?? copyrights.get(ctx.realPath?.(path) ?? '');
    return found?.length ? found : undefined;
  };
  const out: Package[] = [];
  for (const r of results) {
    const d = r.result.data;
    if (d?.kind !== 'status') continue;
    for (const e of d.entries) out.push(toPackage(e, r.path, ctx.os, files.get(e.name), licensesOf(e.name)));
  }
  return out;
}

function toPackage(
  e: DpkgStanza,
  path: string,
  os: OsInfo | undefined,
  files: string[] | undefined,
  licenses: string[] | undefined,
): Package {
  const epochMatch = /^(\d+):/.exec(e.version);
  const vendor = os?.id === 'ubuntu' ? 'ubuntu' : 'debian';
  return {
    ecosystem: vendor === 'ubuntu' ? 'Ubuntu' : 'Debian',
    name: e.name,
    version: e.version,
    purl: makePurl('deb', vendor, e.name, e.version, {
      arch: e.arch,
      distro: distroQualifier(os),
      upstream: e.sourceName !== e.name ? e.sourceName : undefined,
    }),
    licenses,
    location: { path },
    source: { name: e.sourceName, version: e.sourceVersion },
    arch: e.arch,
    epoch: epochMatch ? Number(epochMatch[1]) : undefined,
    analyzer: 'dpkg',
    metadata: files ? { files } : undefined,
  };
}
