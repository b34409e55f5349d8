/**
 * Bodies of Central's ingest routes (`POST /api/v1/ingest/...`). The CLI and the sensor
 * send these; Central's routes validate them with JSON schemas built beside the routes.
 */
import type { Finding } from '../../findings/finding.js';
import { textAddress } from '../content-address.js';

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

/** The push with its SBOM's component list named by address, or undefined when it has no list to name. */
export function addressedImageReport(report: ImageReport): ImageReport | undefined {
  const components = report.sbom?.components;
  if (!Array.isArray(components)) return undefined;
  return { ...report, sbom: { ...report.sbom, components: sbomComponentsAddress(components) } };
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
