/**
 * Java archives (*.jar, *.war, *.ear, …): Maven coordinates from every
 * META-INF/maven/<g>/<a>/pom.properties, else the MANIFEST.MF or the file name; licences
 * from the pom.xml beside it or the manifest (java-licenses.ts); nested
 * archives (fat/uber jars, WEB-INF/lib, BOOT-INF/lib) are opened recursively.
 *
 * Zip bombs are bounded: only the small metadata files and nested archives are ever
 * inflated, entries declaring more than the caps or an absurd compression ratio are
 * skipped with a warning, every inflate writes into a buffer of the declared size (fflate
 * does not grow it), and a total budget and nesting depth cap the whole archive.
 */
// Two zip readers, one job each (npm run bench:zip): fflate here, for archives already in
// memory (a synchronous directory walk, 7-8x faster than yauzl on the test image's jars,
// which pays an async round trip per entry); yauzl in vuln/feeds/osv.ts, for osv.dev's
// all.zip on disk, read entry by entry through its central directory without loading the
// file (fflate's unzipSync needs the whole archive in memory).
import { unzipSync } from 'fflate';
import type { Analyzer, FileFindings } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { readLimited } from '../streams.js';
import { bundleLicenses, pomLicenses } from './java-licenses.js';

const ARCHIVE = /\.(jar|war|ear|par|sar|kar|jpi|hpi|nar)$/i;
const MAX_ARCHIVE = 256 * 1024 * 1024;
const MAX_META = 1024 * 1024;
const MAX_NESTED = 128 * 1024 * 1024;
const MAX_TOTAL = 512 * 1024 * 1024;
const MAX_RATIO = 200;
const MAX_DEPTH = 4;

interface Budget {
  left: number;
  notes: string[];
}

export const javaAnalyzer: Analyzer = {
  name: 'java',
  wants: (path, entry) => ARCHIVE.test(path) && entry.size >= 22,
  async visit({ path, content }): Promise<FileFindings> {
    const bytes = await readLimited(content, MAX_ARCHIVE);
    const budget: Budget = { left: MAX_TOTAL, notes: [] };
    const packages = scanArchive(bytes, path, baseName(path), 0, budget);
    return { packages, warning: budget.notes.length ? budget.notes.join('; ') : undefined };
  },
};

function scanArchive(bytes: Uint8Array, path: string, archivePath: string, depth: number, budget: Budget): Package[] {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        const meta = isMeta(f.name);
        const nested = !meta && depth < MAX_DEPTH && ARCHIVE.test(f.name);
        if (!meta && !nested) return false;
        const cap = meta ? MAX_META : MAX_NESTED;
        const bomb = f.originalSize > cap || (f.compression !== 0 && f.originalSize > MAX_RATIO * Math.max(f.size, 1024));
        if (bomb || f.originalSize > budget.left) {
          budget.notes.push(`${archivePath}!/${f.name}: skipped, declares ${f.originalSize} bytes from ${f.size} (zip bomb caps)`);
          return false;
        }
        budget.left -= f.originalSize;
        return true;
      },
    });
  } catch (e) {
    if (depth === 0) throw new Error(`not a readable zip archive: ${(e as Error).message}`);
    budget.notes.push(`${archivePath}: unreadable nested archive (${(e as Error).message})`);
    return [];
  }
  const out: Package[] = [];
  const poms = Object.keys(files).filter((n) => n.endsWith('/pom.properties'));
  // The manifest describes this archive, so its Bundle-License fits only an archive of one artefact.
  const manifestLicenses = poms.length === 1 ? bundleLicenses(manifestOf(files)['Bundle-License']) : [];
  for (const name of poms) {
    const props = parseProperties(Buffer.from(files[name]!).toString('utf8'));
    if (props.groupId && props.artifactId && props.version) {
      const pomXml = files[name.replace(/pom\.properties$/, 'pom.xml')];
      const fromPom = pomXml ? pomLicenses(pomXml) : [];
      const licenses = fromPom.length ? fromPom : manifestLicenses;
      out.push(mavenPackage(props.groupId, props.artifactId, props.version, path, archivePath, name, licenses));
    }
  }
  if (out.length === 0) {
    const fallback = fromManifestOrName(files['META-INF/MANIFEST.MF'], archivePath, path);
    if (fallback) out.push(fallback);
  }
  for (const [name, data] of Object.entries(files)) {
    if (ARCHIVE.test(name)) out.push(...scanArchive(data, path, `${archivePath}!/${name}`, depth + 1, budget));
  }
  return out;
}

function isMeta(name: string): boolean {
  return name === 'META-INF/MANIFEST.MF' || (name.startsWith('META-INF/maven/') && (name.endsWith('/pom.properties') || name.endsWith('/pom.xml')));
}

function mavenPackage(group: string, artifact: string, version: string, path: string, archivePath: string, foundIn?: string, licenses: string[] = []): Package {
  return {
    ecosystem: 'Maven',
    name: `${group}:${artifact}`,
    version,
    purl: makePurl('maven', group, artifact, version),
    licenses: licenses.length ? licenses : undefined,
    location: { path },
    analyzer: 'java',
    metadata: { archive: archivePath, ...(foundIn ? { pomProperties: foundIn } : {}) },
  };
}

/** Java .properties: key=value or key: value, # and ! comments. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:]\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

/** No pom.properties: Maven-ish coordinates from the manifest, else from "name-1.2.3.jar". */
function fromManifestOrName(manifest: Uint8Array | undefined, archivePath: string, path: string): Package | undefined {
  const mf = manifest ? parseManifest(Buffer.from(manifest).toString('utf8')) : {};
  const licenses = bundleLicenses(mf['Bundle-License']);
  const fileName = baseName(archivePath.split('!/').pop()!).replace(ARCHIVE, '');
  const fromName = /^(.+?)-(\d[\w.+-]*)$/.exec(fileName);
  const version = mf['Implementation-Version'] ?? mf['Bundle-Version'] ?? mf['Specification-Version'] ?? fromName?.[2];
  const artifact = fromName?.[1] ?? mf['Implementation-Title'] ?? fileName;
  if (!version) return undefined;
  const group = mf['Implementation-Vendor-Id'] ?? mf['Bundle-SymbolicName']?.split(';')[0]?.replace(new RegExp(`\\.${artifact}$`), '') ?? artifact;
  return mavenPackage(group, artifact, version, path, archivePath, undefined, licenses);
}

function manifestOf(files: Record<string, Uint8Array>): Record<string, string> {
  const mf = files['META-INF/MANIFEST.MF'];
  return mf ? parseManifest(Buffer.from(mf).toString('utf8')) : {};
}

/** MANIFEST.MF main section; continuation lines start with one space. */
function parseManifest(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (line.startsWith(' ') && last) {
      out[last] += line.slice(1);
      continue;
    }
    const i = line.indexOf(': ');
    if (i > 0) {
      last = line.slice(0, i);
      out[last] = line.slice(i + 2);
    }
  }
  return out;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
