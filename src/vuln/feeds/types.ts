/** What every feed importer reports, and the sink it writes to. */
import type { Advisory } from '../model.js';

export interface ImportStats {
  added: number;
  updated: number;
  unchanged: number;
  /** Records that could not be read; the rest of the import went on. */
  invalid: number;
  problems: string[];
  sources: Set<string>;
}

export function emptyStats(): ImportStats {
  return { added: 0, updated: 0, unchanged: 0, invalid: 0, problems: [], sources: new Set() };
}

/** Receives normalized advisories (the DB's upsert, batched in a transaction by the caller). */
export type AdvisorySink = (adv: Advisory) => void;

export interface ImportOptions {
  /** Timestamp used as `modified` for feeds that have none per record (secdb, tracker). */
  feedDate?: string;
  onProgress?: (done: number) => void;
}
