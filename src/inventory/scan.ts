/** Inventory of a directory in one call (images go through the image walker; see image.ts). */
import { assembleInventory, inventoryVisitors, type Inventory, type InventoryOptions } from './inventory.js';
import { resolveInDirectory, walkDirectory, type DirectoryWalkOptions } from './sources/directory.js';

export async function inventoryDirectory(dir: string, opts: InventoryOptions & DirectoryWalkOptions = {}): Promise<Inventory & { files: number }> {
  const o = { ...opts, source: 'directory' as const };
  const walked = await walkDirectory(dir, inventoryVisitors(o), opts);
  const inv = assembleInventory(walked.results, { ...o, realPath: (p) => resolveInDirectory(walked.root, p) });
  for (const e of walked.errors) inv.warnings.push({ analyzer: 'walk', path: e.path, message: e.message });
  return { ...inv, files: walked.files };
}
