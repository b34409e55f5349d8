/** Alpine packages: lib/apk/db/installed (and usr/lib/apk/db/installed), with origin. */
import type { Analyzer } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { distroQualifier } from '../os-release.js';
import { readText } from '../streams.js';
import { stanzaWarning } from './deb822.js';

const PATHS = new Set(['/lib/apk/db/installed', '/usr/lib/apk/db/installed']);

interface ApkEntry {
  name?: string;
  version?: string;
  arch?: string;
  origin?: string;
  license?: string;
  files: string[];
}

export const apkAnalyzer: Analyzer = {
  name: 'apk',
  wants: (path) => PATHS.has(path),
  async visit({ path, content }) {
    const { entries, errors } = parseApkInstalled(await readText(content, 256 * 1024 * 1024));
    const packages: Package[] = entries.map((e) => ({
      ecosystem: 'Alpine',
      name: e.name!,
      version: e.version!,
      purl: '', // needs the OS: filled in finish
      licenses: e.license ? [e.license] : undefined,
      location: { path },
      source: { name: e.origin ?? e.name!, version: e.version },
      arch: e.arch,
      analyzer: 'apk',
      metadata: { files: e.files },
    }));
    return { packages, warning: stanzaWarning(errors) };
  },
  finish(results, ctx) {
    return results.flatMap((r) =>
      (r.result.packages ?? []).map((p) => ({
        ...p,
        purl: makePurl('apk', 'alpine', p.name, p.version, { arch: p.arch, distro: distroQualifier(ctx.os) }),
      })),
    );
  },
};

/** One-letter keys ("P:busybox"); F: (directory) and R: (file in it) repeat per entry. */
export function parseApkInstalled(text: string): { entries: ApkEntry[]; errors: string[] } {
  const entries: ApkEntry[] = [];
  const errors: string[] = [];
  let cur: ApkEntry = { files: [] };
  let dir = '';
  let bad: string | undefined;
  const flush = () => {
    if (bad) errors.push(bad);
    else if (cur.name || cur.version) {
      if (cur.name && cur.version) entries.push(cur);
      else errors.push(`entry without P:/V: (${cur.name ?? cur.version})`);
    }
    cur = { files: [] };
    dir = '';
    bad = undefined;
  };
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line === '') {
      flush();
      continue;
    }
    if (line[1] !== ':') {
      bad ??= `malformed line ${n + 1}: ${JSON.stringify(line.slice(0, 40))}`;
      continue;
    }
    const v = line.slice(2);
    switch (line[0]) {
      case 'P': cur.name = v; break;
      case 'V': cur.version = v; break;
      case 'A': cur.arch = v; break;
      case 'o': cur.origin = v; break;
      case 'L': cur.license = v; break;
      case 'F': dir = v; break;
      case 'R': cur.files.push(`/${dir ? dir + '/' : ''}${v}`); break;
    }
  }
  flush();
  return { entries, errors };
}
