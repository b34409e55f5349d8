/** Inventory of an opened image, through the image walker (only files that survive count). */
import { walkImage, type FileVisitor, type ImageWalk, type OpenedImage, type ProgressReporter, type WalkLimits } from '../image/index.js';
import { assembleInventory, inventoryVisitors, type Inventory, type InventoryOptions } from './inventory.js';

export async function inventoryImage(
  image: OpenedImage,
  opts: InventoryOptions & {
    progress?: ProgressReporter;
    limits?: Partial<WalkLimits>;
    /** Other engines' visitors riding along the same walk (hygiene, secrets). */
    extraVisitors?: FileVisitor[];
    /** Receives the walk, for engines that look at the squashed filesystem too. */
    onWalk?: (walk: ImageWalk) => void;
  } = {},
): Promise<Inventory> {
  const o = { ...opts, source: 'image' as const };
  const walk = await walkImage(image, { visitors: [...inventoryVisitors(o), ...(opts.extraVisitors ?? [])], progress: opts.progress, limits: opts.limits });
  opts.onWalk?.(walk);
  const realPath = (path: string): string | undefined => {
    try {
      return walk.files.resolvePath(path);
    } catch {
      return undefined; // a loop or an escape: no answer, the walk already warned
    }
  };
  const inv = assembleInventory(walk.results, { ...o, layerDigests: image.layers.map((l) => l.digest), realPath });
  for (const w of walk.warnings) inv.warnings.push({ analyzer: 'image', path: '', message: w });
  return inv;
}
