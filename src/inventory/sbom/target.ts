/** What an SBOM describes: the scanned image or directory, and its inventory. */
import type { Finding } from '../../findings/finding.js';
import type { Inventory } from '../inventory.js';

export interface SbomTarget {
  kind: 'image' | 'directory';
  /** The reference or path the user gave. */
  name: string;
  /** Image manifest digest, when known. */
  digest?: string;
}

export interface SbomInput {
  target: SbomTarget;
  inventory: Inventory;
  toolVersion: string;
  /** Vulnerability findings to embed (CycloneDX `vulnerabilities`), matched to packages by purl and file. */
  vulnerabilities?: Finding[];
  /** Fixed clock for reproducible output (tests); default now. */
  now?: Date;
}

export type SbomWriter = (input: SbomInput) => string;
