/**
 * The CPU-bound part of re-matching and evaluating one stored image, as pure functions of
 * what the store holds: parse the SBOM, match its packages, fingerprint and order the
 * findings, evaluate the image's build-stage policies. No store access, so it runs the same
 * in the main thread and in an image worker (image-pool.ts), which is how re-match and
 * ingest use the machine's second core.
 */
import type { Finding } from '../../findings/finding.js';
import { fingerprintOf } from '../../findings/fingerprint.js';
import { findViolations, type PolicySet } from '../../policy/evaluate.js';
import { componentFacts } from '../../vuln/image-facts.js';
import { addTexts, emptyTexts, vulnerabilityEntry, type StoredFinding, type VulnerabilityEntry } from '../store/image-findings.js';
import { packagesAddress } from '../store/image-sboms.js';
import { summarize } from '../store/images.js';
import type { SharedTexts } from '../store/shared-texts.js';
import type { FleetMatcher, MatchedSet } from './fleet-matcher.js';
import { packagesFromCycloneDx } from './sbom-packages.js';
import { storedImageFacts, type StoredImageRow } from './stored-facts.js';

export interface RematchInput {
  row: StoredImageRow;
  /** The content address of the image's package list ('' when not computed yet). */
  packagesHash: string;
  /** The SBOM text: only when the computing side answered `needSbom` (or the address is ''). */
  sbomText?: string;
  /** The stored vulnerabilities document, if any. */
  storedVulnerabilities: string | undefined;
  /** The image's other findings (secrets, hygiene…), kept as they are. */
  others: StoredFinding[];
  now: string;
}

export type RematchComputed =
  | { unreadable: true }
  /** The package list is not held here: send the SBOM. */
  | { needSbom: true }
  | {
    unreadable?: false; needSbom?: false; changed: boolean; vulnerabilities: number;
    /** The vulnerabilities document, and (only when changed) the shared texts it refers to. */
    doc: string; texts: SharedTexts;
    summary: string; violations: Finding[];
    /** The package list's address when it was computed here from the SBOM and differs from the input's. */
    packagesHash?: string;
  };

/**
 * Re-matches one image: its package list's matched set (computed once per distinct list,
 * FleetMatcher.matchSet), given the image's digest and fingerprints; compared with what is
 * stored; its policies evaluated.
 */
export function computeRematch(input: RematchInput, matcher: FleetMatcher, policies: PolicySet): RematchComputed {
  let set: MatchedSet | undefined = input.packagesHash ? matcher.cachedSet(input.packagesHash) : undefined;
  let packagesHash: string | undefined;
  if (!set) {
    if (input.sbomText === undefined) return { needSbom: true };
    let bom: unknown;
    try {
      bom = JSON.parse(input.sbomText);
    } catch {
      return { unreadable: true };
    }
    const { os, packages } = packagesFromCycloneDx(bom);
    const hash = packagesAddress({ os, packages });
    set = matcher.cachedSet(hash) ?? matcher.matchSet(hash, packages, os);
    if (hash !== input.packagesHash) packagesHash = hash;
  }
  const digest = input.row.digest;
  // One per fingerprint, the last wins (canonicalFindings), ordered by fingerprint.
  const byFingerprint = new Map<string, { finding: StoredFinding; entry: VulnerabilityEntry; split: MatchedSet['findings'][number]['split'] }>();
  for (const { finding, split } of set.findings) {
    const f = { ...finding, resource: { ...finding.resource, image: { ...finding.resource.image, digest } } };
    const fingerprint = fingerprintOf(f);
    byFingerprint.set(fingerprint, { finding: { ...f, fingerprint }, entry: vulnerabilityEntry(fingerprint, split), split });
  }
  const vulns = [...byFingerprint.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((e) => e[1]);
  const doc = JSON.stringify(vulns.map((v) => v.entry));
  // Only a change is written: after a daily DB update most images' findings are the same.
  // The advisories' modified times are left out of the comparison (image-findings.ts vulnerabilityDocKey).
  const changed = input.storedVulnerabilities === undefined ? vulns.length > 0 : !sameEntries(input.storedVulnerabilities, vulns.map((v) => v.entry));
  const texts = emptyTexts();
  if (changed) for (const v of vulns) addTexts(texts, v.split);
  const all: Finding[] = [...input.others, ...vulns.map((v) => v.finding)];
  set.components ??= componentFacts({ packages: [...set.packages], warnings: [] });
  const violations = findViolations({ kind: 'image', value: storedImageFacts(input.row, set.packages, all, new Date(input.now), set.components) }, policies, 'build');
  return { changed, vulnerabilities: vulns.length, doc, texts, summary: JSON.stringify(summarize(all)), violations, ...(packagesHash ? { packagesHash } : {}) };
}

/** Whether a stored document holds these entries, modified times aside. */
function sameEntries(stored: string, fresh: readonly VulnerabilityEntry[]): boolean {
  const old = JSON.parse(stored) as VulnerabilityEntry[];
  return old.length === fresh.length && old.every((e, i) => e[0] === fresh[i]![0] && e[1] === fresh[i]![1]);
}

export interface EvaluateInput {
  row: StoredImageRow;
  /** The SBOM as stored (JSON text), or undefined when the image has none. */
  sbomText: string | undefined;
  findings: Finding[];
  now: string;
}

/** The build-stage violations of a stored image. */
export function computeImageViolations(input: EvaluateInput, policies: PolicySet): Finding[] {
  const { packages } = packagesFromCycloneDx(input.sbomText === undefined ? null : JSON.parse(input.sbomText));
  return findViolations({ kind: 'image', value: storedImageFacts(input.row, packages, input.findings, new Date(input.now)) }, policies, 'build');
}
