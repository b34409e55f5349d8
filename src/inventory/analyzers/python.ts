/**
 * Python distributions: *.dist-info/METADATA, *.egg-info/PKG-INFO and single-file
 * *.egg-info, with names normalized as PEP 503 does (what PyPI and OSV key on).
 */
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { readText } from '../streams.js';

const META = /\.dist-info\/METADATA$|\.egg-info\/PKG-INFO$|\.egg-info$/;

export const pythonAnalyzer: Analyzer = {
  name: 'python',
  wants: (path) => META.test(path),
  async visit({ path, content }) {
    const headers = parseMetadataHeaders(await readText(content, 8 * 1024 * 1024));
    const name = headers.get('name')?.[0];
    const version = headers.get('version')?.[0];
    if (!name || !version) throw new Error('metadata without Name/Version');
    const licenses = pythonLicenses(headers);
    return {
      packages: [
        {
          ecosystem: 'PyPI',
          name: normalizePythonName(name),
          version,
          // PEP 503 normalized, as pip, Syft and the PyPA advisories name it (zope.interface → zope-interface).
          purl: makePurl('pypi', undefined, normalizePythonName(name), version),
          licenses,
          location: { path },
          analyzer: 'python',
          metadata: name !== normalizePythonName(name) ? { declaredName: name } : undefined,
        },
      ],
    };
  },
  finish: (results) => dedupeDistributions(results.flatMap((r) => r.result.packages ?? [])),
};

/** The directory a distribution's metadata lives in (site-packages), whatever its form. */
function metadataRoot(path: string): string {
  const m = /^(.*?)\/?[^/]+\.(?:dist-info|egg-info)(?:\/[^/]+)?$/.exec(path);
  return m ? m[1]! : path;
}

/**
 * One package per distribution: a site-packages directory can hold both a *.dist-info and
 * a *.egg-info for the same name and version (Debian's python3-cryptography ships both);
 * they describe one installed package, so the dist-info (what pip reads) is kept.
 */
export function dedupeDistributions(packages: Package[]): Package[] {
  const byKey = new Map<string, Package>();
  const out: Package[] = [];
  const rank = (p: Package): number => (p.location.path.includes('.dist-info/') ? 0 : 1);
  for (const p of packages) {
    const key = `${p.name}\0${p.version}\0${metadataRoot(p.location.path)}`;
    const kept = byKey.get(key);
    if (!kept) {
      byKey.set(key, p);
      out.push(p);
      continue;
    }
    const [winner, loser] = rank(p) < rank(kept) || (rank(p) === rank(kept) && p.location.path < kept.location.path) ? [p, kept] : [kept, p];
    if (!winner.licenses?.length && loser.licenses?.length) winner.licenses = loser.licenses;
    if (winner !== kept) {
      out[out.indexOf(kept)] = winner;
      byKey.set(key, winner);
    }
  }
  return out;
}

export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Core-metadata headers (RFC 822 style), up to the first blank line (the body). */
function parseMetadataHeaders(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && last) continue;
    const i = line.indexOf(':');
    if (i <= 0) continue;
    last = line.slice(0, i).toLowerCase();
    const list = out.get(last) ?? [];
    list.push(line.slice(i + 1).trim());
    out.set(last, list);
  }
  return out;
}

/** License-Expression (PEP 639), else a short License field, else OSI classifiers. */
function pythonLicenses(h: Map<string, string[]>): string[] | undefined {
  const expr = h.get('license-expression')?.[0];
  if (expr) return [expr];
  const lic = h.get('license')?.[0];
  if (lic && lic !== 'UNKNOWN' && lic.length <= 80) return [lic];
  const cls = (h.get('classifier') ?? []).filter((c) => c.startsWith('License ::')).map((c) => c.split(' :: ').pop()!);
  return cls.length ? cls : undefined;
}
