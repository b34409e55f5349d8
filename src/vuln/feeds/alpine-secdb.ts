/**
 * Alpine secdb (secdb.alpinelinux.org `v3.N/main.json`, or the older YAML): per package,
 * fixed version → ids. Each id becomes an advisory for `Alpine:v3.N` with the package
 * (the apk origin) fixed at that version; fixed version "0" means never affected.
 */
import { UserError } from '../../util/errors.js';
import type { Advisory } from '../model.js';

export function isSecdb(doc: unknown): boolean {
  return typeof doc === 'object' && doc !== null && 'distroversion' in doc && 'packages' in doc;
}

export function secdbAdvisories(doc: unknown, where: string, feedDate: string): { source: string; advisories: Advisory[] } {
  const d = doc as { distroversion?: unknown; reponame?: unknown; packages?: unknown };
  const branch = String(d.distroversion ?? '');
  if (!/^v\d+\.\d+$|^edge$/.test(branch)) throw new UserError(`${where}: secdb "distroversion" is not a branch like v3.19: "${branch}"`, 'bad-feed');
  if (d.packages == null || d.packages === '') d.packages = []; // an empty repository (e.g. v3.3/community)
  if (!Array.isArray(d.packages)) throw new UserError(`${where}: secdb "packages" is not a list`, 'bad-feed');
  const source = `alpine-secdb:${branch}/${String(d.reponame ?? 'main')}`;
  const ecosystem = `Alpine:${branch}`;
  return { source, advisories: secfixesAdvisories(d.packages, { source, ecosystem, feedDate, reference: (id) => (id.startsWith('CVE-') ? `https://security.alpinelinux.org/vuln/${id}` : undefined) }) };
}

/**
 * The secdb layout's walk, shared by Alpine and Wolfi/Chainguard: per origin package,
 * fixed version → ids; each id one advisory, the package fixed at that version ("0":
 * never affected).
 */
export function secfixesAdvisories(
  packages: unknown[], opts: { source: string; ecosystem: string; feedDate: string; reference?: (id: string) => string | undefined },
): Advisory[] {
  const { source, ecosystem, feedDate } = opts;
  const byId = new Map<string, Advisory>();
  for (const p of packages) {
    const pkg = (p as { pkg?: { name?: unknown; secfixes?: unknown } })?.pkg;
    const name = typeof pkg?.name === 'string' ? pkg.name : undefined;
    if (!name || typeof pkg?.secfixes !== 'object' || pkg.secfixes === null) continue;
    for (const [fixed, ids] of Object.entries(pkg.secfixes as Record<string, unknown>)) {
      if (fixed === '0' || !Array.isArray(ids)) continue;
      for (const entry of ids) {
        // Entries look like "CVE-2019-1234" or "CVE-2019-1234 XSA-300" (id, then aliases).
        const [id, ...aliases] = String(entry).trim().split(/\s+/);
        if (!id) continue;
        let adv = byId.get(id);
        if (!adv) {
          adv = { id, source, aliases: [], cvss: [], affected: [], references: [], modified: feedDate };
          const url = opts.reference?.(id);
          if (url) adv.references.push({ type: 'ADVISORY', url });
          byId.set(id, adv);
        }
        for (const a of aliases) if (!adv.aliases.includes(a)) adv.aliases.push(a);
        adv.affected.push({ ecosystem, name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: String(fixed) }] }], versions: [], status: 'fixed' });
      }
    }
  }
  return [...byId.values()];
}
