/** Package inventory: the library API the CLI and the vulnerability matcher use. */
export type { Ecosystem, OsInfo, Package, PackageLocation } from './package.js';
export type { Analyzer, FileFindings, InventoryWarning, SourceKind } from './analyzer.js';
export { analyzers } from './analyzers/index.js';
export { assembleInventory, inventoryVisitors, selectAnalyzers, type Inventory, type InventoryOptions } from './inventory.js';
export { inventoryDirectory } from './scan.js';
export { inventoryImage } from './image.js';
export { walkDirectory, type DirectoryWalkResult, type DirectoryWalkOptions } from './sources/directory.js';
export { sbomFormats, type SbomInput, type SbomTarget, type SbomWriter } from './sbom/index.js';
