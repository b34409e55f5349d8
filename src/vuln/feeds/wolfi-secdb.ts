/**
 * Wolfi and Chainguard security.json (packages.wolfi.dev/os/security.json,
 * packages.cgr.dev/chainguard/security.json): Alpine's secdb layout (per origin package,
 * fixed version → ids) for a rolling distribution, so no "distroversion"; the repository's
 * URL prefix tells which distribution. Fixed version "0" means never affected.
 */
import { UserError } from '../../util/errors.js';
import type { Advisory } from '../model.js';
import { secfixesAdvisories } from './alpine-secdb.js';

const ECOSYSTEM_BY_HOST: Record<string, string> = { 'packages.wolfi.dev': 'Wolfi', 'packages.cgr.dev': 'Chainguard' };

export function isWolfiSecdb(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && !('distroversion' in doc) && 'packages' in doc && 'urlprefix' in doc && 'apkurl' in doc;
}

export function wolfiSecdbAdvisories(doc: unknown, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  const d = doc as { urlprefix?: unknown; reponame?: unknown; packages?: unknown };
  let host = '';
  try {
    host = new URL(String(d.urlprefix)).host;
  } catch {
    // reported below with the value
  }
  const ecosystem = ECOSYSTEM_BY_HOST[host];
  if (!ecosystem) throw new UserError(`${where}: security.json of an unknown apk repository "${String(d.urlprefix)}" (known: ${Object.keys(ECOSYSTEM_BY_HOST).join(', ')})`, 'bad-feed');
  if (!Array.isArray(d.packages)) throw new UserError(`${where}: security.json "packages" is not a list`, 'bad-feed');
  const source = `${ecosystem.toLowerCase()}-secdb:${String(d.reponame ?? '')}`;
  return { source, advisories: secfixesAdvisories(d.packages, { source, ecosystem, feedDate }) };
}
