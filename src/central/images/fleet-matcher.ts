/**
 * The vulnerability matcher for a whole re-match run (see the class comment).
 */
import type { Finding } from '../../findings/finding.js';
import type { OsInfo, Package } from '../../inventory/package.js';
import type { VulnDb } from '../../vuln/db.js';
import { matchVulnerabilities, toFinding, type MatchedVulnerability } from '../../vuln/match.js';
import type { ImageComponent } from '../../vuln/image-facts.js';
import { splitVulnerability, type SplitVulnerability } from '../store/image-findings.js';

/**
 * One package list's findings (for no image in particular: no digest, no fingerprint), each
 * split as the store keeps it: computed once per distinct list in a run, then given to every
 * image that has that list.
 */
export interface MatchedSet {
  os: OsInfo | undefined;
  packages: readonly Package[];
  findings: { finding: Finding; split: SplitVulnerability }[];
  /** The packages' component facts for the image policies (the same for every image of the list), made on first use. */
  components?: ImageComponent[];
}

/**
 * The matcher for a whole run. The engine's caches live for one matchPackages call, but a
 * fleet's images share most of their packages: across thousands of images the same
 * package would be looked up, parsed and version-compared again for every image. This
 * keeps, for the run, each DB lookup and each package's matches (keyed by everything
 * matchVulnerabilities reads: ecosystem, name, version, source package and OS release),
 * and gives the same findings as matchPackages(db, packages, os). Bounded: cleared when full.
 */
export class FleetMatcher {
  private readonly lookups = new Map<string, ReturnType<VulnDb['candidates']>>();
  private readonly matches = new Map<string, MatchedVulnerability[]>();
  private readonly sets = new Map<string, MatchedSet>();
  private readonly db: VulnDb;

  constructor(db: VulnDb, private readonly maxEntries = 100_000) {
    const candidates = (ecosystem: string, name: string) => {
      const key = `${ecosystem}\0${name}`;
      let hit = this.lookups.get(key);
      if (!hit) {
        if (this.lookups.size >= this.maxEntries) this.lookups.clear();
        this.lookups.set(key, (hit = db.candidates(ecosystem, name)));
      }
      return hit;
    };
    // matchVulnerabilities takes the VulnDb class: a proxy routes its lookups through the cache.
    this.db = new Proxy(db, { get: (target, prop) => (prop === 'candidates' ? candidates : Reflect.get(target, prop, target)) });
  }

  /** The matched set of a package list seen before in this run (by its content address), if still held. */
  cachedSet(packagesHash: string): MatchedSet | undefined {
    return this.sets.get(packagesHash);
  }

  /**
   * Matches a package list and keeps the result under its content address. A few lists are
   * held (a re-match visits images in order of their list's address, so one list's images
   * come one after another); each is ~0.5 MB.
   */
  matchSet(packagesHash: string, packages: readonly Package[], os: OsInfo | undefined): MatchedSet {
    const set: MatchedSet = { os, packages, findings: this.match(packages, os).map((finding) => ({ finding, split: splitVulnerability(finding) })) };
    if (this.sets.size >= 16) this.sets.delete(this.sets.keys().next().value!);
    this.sets.set(packagesHash, set);
    return set;
  }

  match(packages: readonly Package[], os: OsInfo | undefined): Finding[] {
    const out: Finding[] = [];
    const seen = new Set<string>();
    const release = `${os?.versionId ?? ''}\0${os?.codename ?? ''}`;
    for (const pkg of packages) {
      const key = `${pkg.ecosystem}\0${pkg.name}\0${pkg.version}\0${pkg.source?.name ?? ''}\0${pkg.source?.version ?? ''}\0${release}`;
      let found = this.matches.get(key);
      if (!found) {
        if (this.matches.size >= this.maxEntries) this.matches.clear();
        this.matches.set(key, (found = matchVulnerabilities(this.db, [pkg], os)));
      }
      for (const m of found) {
        // The same de-duplication as matchVulnerabilities over the whole list.
        const dedupe = `${m.advisory.id}\0${pkg.name}\0${pkg.version}\0${pkg.location.path}`;
        if (seen.has(dedupe)) continue;
        seen.add(dedupe);
        out.push(toFinding(m.package === pkg ? m : { ...m, package: pkg }));
      }
    }
    return out;
  }
}
