/**
 * Python distributions: *.dist-info/METADATA, *.egg-info/PKG-INFO and single-file
 * *.egg-info, with names normalized as PEP 503 does (what PyPI and OSV key on).
 */
import type { Analyzer } from '../analyzer.js';
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
};

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
