/**
 * The CPU-bound part of re-matching and evaluating one stored image, as pure functions of
 * what the store holds: parse the SBOM, match its packages, fingerprint and order the
 * findings, evaluate the image's build-stage policies. No store access, so it runs the same
 * in the main thread and in an image worker (image-pool.ts), which is how re-match and
 * ingest use the machine's second core.
 */
import type { Finding } from '../../findings/finding.js';
import { withFingerprint } from '../../findings/fingerprint.js';
import { findViolations, type PolicySet } from '../../policy/evaluate.js';
import { canonicalFindings, findingsText, type StoredFinding } from '../store/image-findings.js';
import { summarize } from '../store/images.js';
import type { FleetMatcher } from './fleet-matcher.js';
import { packagesFromCycloneDx } from './sbom-packages.js';
import { storedImageFacts, type StoredImageRow } from './stored-facts.js';

export interface RematchInput {
  row: StoredImageRow;
  sbomText: string;
  /** The stored vulnerabilities document, if any. */
  storedVulnerabilities: string | undefined;
  /** The image's other findings (secrets, hygiene…), kept as they are. */
  others: StoredFinding[];
  now: string;
}

export type RematchComputed =
  | { unreadable: true }
  | { unreadable?: false; changed: boolean; vulnerabilities: number; text: string; summary: string; violations: Finding[] };

export function computeRematch(input: RematchInput, matcher: FleetMatcher, policies: PolicySet): RematchComputed {
  let bom: unknown;
  try {
    bom = JSON.parse(input.sbomText);
  } catch {
    return { unreadable: true };
  }
  const digest = input.row.digest;
  const { os, packages } = packagesFromCycloneDx(bom);
  const vulns = canonicalFindings(matcher.match(packages, os).map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } })) as StoredFinding[]);
  const text = findingsText(vulns);
  // Only a change is written: after a daily DB update most images' findings are the same.
  const changed = input.storedVulnerabilities === undefined ? vulns.length > 0 : !sameFindings(input.storedVulnerabilities, text);
  const all: Finding[] = [...input.others, ...vulns];
  const violations = findViolations({ kind: 'image', value: storedImageFacts(input.row, packages, all, new Date(input.now)) }, policies, 'build');
  return { changed, vulnerabilities: vulns.length, text, summary: JSON.stringify(summarize(all)), violations };
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

/**
 * Whether the stored findings say what fresh ones say. The advisories' `modified` time is
 * left out: feeds without per-record times (the Debian tracker) stamp every record with the
 * import time, and rewriting every finding of every image for a timestamp alone would cost
 * a daily update as much as the first match. (In JSON text a quote inside a string is
 * escaped, so the pattern only finds the key itself.)
 */
function sameFindings(stored: string, fresh: string): boolean {
  return stored === fresh || stored.replace(MODIFIED, '') === fresh.replace(MODIFIED, '');
}
const MODIFIED = /,?"modified":"[^"]*"/g;
