/**
 * Bodies of Central's ingest routes (`POST /api/v1/ingest/...`). The CLI and the sensor
 * send these; Central's routes validate them with JSON schemas built beside the routes.
 */
import type { Finding } from '../../findings/finding.js';
import { fingerprintOf } from '../../findings/fingerprint.js';
import { textAddress } from '../content-address.js';
import { splitVulnerability } from '../vulnerability-split.js';

/** `POST /api/v1/ingest/images`: what `image scan`, `image sbom` and `image verify` found about one image. */
export interface ImageReport {
  image: {
    digest: string;
    /** References it was seen under (e.g. registry/repo:tag). */
    refs?: string[];
    os?: { family: string; version?: string };
    /** Image creation time (RFC 3339), from its config. */
    created?: string;
    layers?: { digest: string; size?: number; createdBy?: string }[];
    /** The image config's labels and the manifest's annotations: build provenance (org.opencontainers.image.revision, .source, …). */
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  /**
   * CycloneDX 1.6 JSON of the image's components (stored; re-matched when the DB changes).
   * Its `components` may be the list's address (sbomComponentsAddress) instead of the list:
   * Central then answers 409 `missing-content` (`missing: ['sbom.components']`) when it does
   * not hold that list, and the push is sent again with the list.
   */
  sbom?: Record<string, unknown>;
  /** Vulnerability, secret, hygiene and policy findings of this scan (replace the previous scan's). */
  findings?: Finding[];
  /**
   * Vulnerability findings of this scan named by address (an addressed push only), with the
   * findings above. Central answers 409 `missing-content` (`missing: ['findings']`) when it
   * lacks a text one names, and the push is sent again whole.
   */
  vulnerabilities?: VulnerabilityRef[];
  /** Signature status from `image verify`. */
  signature?: { verified: boolean; signers?: string[]; message?: string; checkedAt?: string };
  /** Vulnerability DB the findings were matched against. */
  db?: { version?: string; updatedAt?: string };
}

/** The address of an SBOM's component list: of its JSON text, as Central computes it over the lists it stores. */
export function sbomComponentsAddress(components: unknown[]): string {
  return textAddress(JSON.stringify(components));
}

/**
 * The content type of a push that may name its SBOM's component list by address. A Central
 * older than the addressed push has no parser for it and answers 415, where given
 * application/json it would have stored the address as the list; the client then sends the
 * push whole. Central reads both types the same way.
 */
export const ADDRESSED_PUSH_TYPE = 'application/vnd.gatehouse.image-push+json';

/**
 * A vulnerability finding by address: its body's (vulnerability-split.ts, the text images
 * share; the body names its advisory's text) and what is the image's own, as in the finding.
 */
export interface VulnerabilityRef {
  finding: string;
  fingerprint?: string;
  /** The finding's `data.modified`, when a string. */
  modified?: string;
}

/**
 * The push with its SBOM's component list and its vulnerability findings named by address,
 * or undefined when it has neither to name. Central stores exactly what the whole push would
 * store: the list and texts it holds at those addresses are what it computed over the same
 * content.
 */
export function addressedImageReport(report: ImageReport): ImageReport | undefined {
  const components = report.sbom?.components;
  const out: ImageReport = { ...report };
  let named = false;
  if (Array.isArray(components)) {
    out.sbom = { ...report.sbom, components: sbomComponentsAddress(components) };
    named = true;
  }
  const refs = report.findings && vulnerabilityRefs(report.image.digest, report.findings);
  if (refs) {
    out.findings = refs.others;
    out.vulnerabilities = refs.vulnerabilities;
    named = true;
  }
  return named ? out : undefined;
}

/**
 * The findings split into refs (vulnerabilities) and the rest, or undefined when there is no
 * vulnerability or the split could change what Central keeps: it keeps the last finding of
 * each fingerprint, sorted by fingerprint, and refs come before the rest, so a vulnerability
 * may share a fingerprint only with other vulnerabilities (the last of which is named).
 */
function vulnerabilityRefs(digest: string, findings: readonly Finding[]): { vulnerabilities: VulnerabilityRef[]; others: Finding[] } | undefined {
  if (!findings.some((f) => f.kind === 'vulnerability')) return undefined;
  // As Central will read them: what JSON keeps (no undefined, no Dates) decides the address.
  const sent = JSON.parse(JSON.stringify(findings)) as Finding[];
  const fingerprint = (f: Finding) => f.fingerprint || fingerprintOf({ ...f, resource: { ...f.resource, image: { ...f.resource.image, digest } } });
  const others: Finding[] = [];
  // Central keeps the last vulnerability of each fingerprint: an earlier one is not named (its text may never have been stored).
  const last = new Map<string, Finding>();
  for (const f of sent) {
    if (f.kind !== 'vulnerability') others.push(f);
    else {
      const fp = fingerprint(f);
      last.delete(fp);
      last.set(fp, f);
    }
  }
  const vulnerable = new Set(last.keys());
  const vulnerabilities = [...last.values()].map((f): VulnerabilityRef => {
    const split = splitVulnerability(f);
    return { finding: split.bodyHash, ...(f.fingerprint ? { fingerprint: f.fingerprint } : {}), ...(split.modified !== undefined ? { modified: split.modified } : {}) };
  });
  if (others.some((f) => vulnerable.has(fingerprint(f)))) return undefined;
  return { vulnerabilities, others };
}

/** `POST /api/v1/ingest/findings`: findings of `k8s check`, `registry audit` and others that are not about one image. */
export interface FindingsReport {
  /** What produced them: 'k8s-check', 'registry-audit', … */
  source: string;
  /** What they are about: a cluster name, a registry/repository, a directory of manifests. */
  target: string;
  findings: Finding[];
}

/**
 * One event of a batch: an alert (sensor, runtime replay), a decision (engine-proxy,
 * admission) or a flow (the sensor's aggregated connections; `data` is an ObservedFlow of
 * src/network/flow.ts).
 */
export interface IngestEvent {
  /** Idempotency key: Central stores an event with a key it has seen once only. */
  id: string;
  type: 'alert' | 'decision' | 'flow';
  /** RFC 3339. */
  time: string;
  finding?: Finding;
  data?: Record<string, unknown>;
}

/** `POST /api/v1/ingest/events`: a batch, stored in one transaction (all or nothing). */
export interface EventBatch {
  source: { kind: 'sensor' | 'runtime-replay' | 'engine-proxy' | 'admission'; cluster?: string; host?: string; node?: string };
  events: IngestEvent[];
}

export interface IngestResult {
  stored: number;
  duplicates: number;
}
