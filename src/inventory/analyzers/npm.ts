/**
 * Node packages installed: every node_modules/<name>/package.json and
 * node_modules/@scope/<name>/package.json, at any depth (nested copies each count).
 */
import type { Analyzer, FileFindings } from '../analyzer.js';
import type { Package } from '../package.js';
import { makePurl } from '../purl.js';
import { readText } from '../streams.js';

const INSTALLED = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\/package\.json$/;

export const npmAnalyzer: Analyzer = {
  name: 'npm',
  wants: (path) => INSTALLED.test(path),
  async visit({ path, content }): Promise<FileFindings | undefined> {
    const text = await readText(content, 4 * 1024 * 1024);
    let json: any;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`invalid JSON: ${(e as Error).message}`);
    }
    if (!json || typeof json.name !== 'string' || typeof json.version !== 'string') return undefined;
    return { packages: [npmPackage(json.name, json.version, path, licenseOf(json))] };
  },
};

export function npmPackage(name: string, version: string, path: string, licenses?: string[]): Package {
  const scoped = name.startsWith('@') ? name.split('/') : undefined;
  return {
    ecosystem: 'npm',
    name,
    version,
    purl: makePurl('npm', scoped?.[0], scoped ? scoped[1] : name, version),
    licenses,
    location: { path },
    analyzer: 'npm',
  };
}

/** "license": "MIT" | { type } | legacy "licenses": [{ type }]. */
function licenseOf(json: any): string[] | undefined {
  const l = json.license ?? json.licenses;
  const list = (Array.isArray(l) ? l : [l])
    .map((x: any) => (typeof x === 'string' ? x : typeof x?.type === 'string' ? x.type : undefined))
    .filter((x: string | undefined): x is string => !!x);
  return list.length ? list : undefined;
}
