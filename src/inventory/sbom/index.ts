/** SBOM / inventory output formats, one line each. */
import { writeCycloneDx } from './cyclonedx.js';
import { writeInventoryJson } from './json.js';
import { writeSpdx } from './spdx.js';
import { writeTable } from './table.js';
import type { SbomWriter } from './target.js';

export type { SbomInput, SbomTarget, SbomWriter } from './target.js';

export const sbomFormats: Readonly<Record<string, SbomWriter>> = {
  cyclonedx: writeCycloneDx,
  spdx: writeSpdx,
  json: writeInventoryJson,
  table: writeTable,
};
