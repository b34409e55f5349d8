/**
 * Distribution and release of the scanned root, from etc/os-release (or usr/lib/os-release)
 * and the older per-distribution files, as a FileVisitor like the analyzers.
 */
import type { FileVisitor, VisitResult } from '../image/files.js';
import type { OsInfo } from './package.js';
import { readText } from './streams.js';

const FILES = new Set([
  '/etc/os-release',
  '/usr/lib/os-release',
  '/etc/alpine-release',
  '/etc/debian_version',
  '/etc/redhat-release',
]);

export type OsFact = { file: string; fields: Record<string, string> } | { file: string; text: string };

export const osReleaseVisitor: FileVisitor<OsFact> = {
  name: 'os-release',
  wants: (path) => FILES.has(path),
  async visit({ path, content }) {
    const text = await readText(content, 64 * 1024);
    if (path.endsWith('os-release')) return { file: path, fields: parseOsRelease(text) };
    return { file: path, text: text.trim() };
  },
};

/** KEY=value lines, values optionally quoted with shell-style escapes. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2].trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) {
      v = v.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    }
    out[m[1]] = v;
  }
  return out;
}

/** Combines what was found, preferring etc/os-release, then the per-distro files. */
export function detectOs(results: VisitResult<OsFact>[]): OsInfo | undefined {
  const by = new Map(results.map((r) => [r.result.file, r.result]));
  const rel = by.get('/etc/os-release') ?? by.get('/usr/lib/os-release');
  if (rel && 'fields' in rel && rel.fields.ID) {
    const f = rel.fields;
    const info: OsInfo = { id: f.ID.toLowerCase(), versionId: f.VERSION_ID, codename: f.VERSION_CODENAME, prettyName: f.PRETTY_NAME };
    // Debian's os-release has only the major version; debian_version has the point release.
    return info;
  }
  const alpine = by.get('/etc/alpine-release');
  if (alpine && 'text' in alpine) return { id: 'alpine', versionId: alpine.text.split('\n')[0] };
  const deb = by.get('/etc/debian_version');
  if (deb && 'text' in deb) return { id: 'debian', versionId: deb.text.split('\n')[0] };
  const rh = by.get('/etc/redhat-release');
  if (rh && 'text' in rh) {
    const m = /^(.*?) release ([\d.]+)/.exec(rh.text);
    const name = (m?.[1] ?? '').toLowerCase();
    const id = name.includes('centos') ? 'centos' : name.includes('fedora') ? 'fedora' : name.includes('rocky') ? 'rocky' : name.includes('alma') ? 'almalinux' : 'rhel';
    return { id, versionId: m?.[2], prettyName: rh.text.split('\n')[0] };
  }
  return undefined;
}

/** purl `distro` qualifier, e.g. debian-12, alpine-3.19.1. */
export function distroQualifier(os: OsInfo | undefined): string | undefined {
  if (!os) return undefined;
  return os.versionId ? `${os.id}-${os.versionId}` : os.id;
}
