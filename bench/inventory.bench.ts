/**
 * Inventory cost as a ratio to the image-read floor (walking the same image with no
 * visitors), measured in the same run: the debootstrap Debian image, and a generated image
 * with 2,000 node_modules packages plus the real Go/Java/Python/rpm artefacts.
 * Goal (issue 3): inventory adds at most 20% to reading the image (ratio ≤ 1.20).
 * Usage: npm run bench:inventory [-- --runs N]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openImage, walkImage } from '../src/image/index.js';
import { inventoryImage } from '../src/inventory/index.js';
import { buildNodeImage } from './images.js';
import { cachedPath } from '../test/helpers/components.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(label: string, ref: string): Promise<number> {
  const floor: number[] = [];
  const inv: number[] = [];
  let packages = 0;
  // Interleaved, after one warm-up of each, so both see the same cache and load.
  for (let i = 0; i <= RUNS; i++) {
    const a = await timeIt(async () => {
      const img = await openImage(ref);
      await walkImage(img, {});
      await img.close();
    });
    const b = await timeIt(async () => {
      const img = await openImage(ref);
      packages = (await inventoryImage(img)).packages.length;
      await img.close();
    });
    if (i > 0) {
      floor.push(a);
      inv.push(b);
    }
  }
  const ratio = median(inv) / median(floor);
  console.log(
    `${label.padEnd(34)} floor ${median(floor).toFixed(0).padStart(6)} ms  inventory ${median(inv).toFixed(0).padStart(6)} ms  ratio ${ratio.toFixed(2)}  (${packages} packages, goal ≤ 1.20${ratio <= 1.2 ? '' : ' MISSED'})`,
  );
  return ratio;
}

const work = mkdtempSync(join(tmpdir(), 'gatehouse-bench-inv-'));
try {
  const results: number[] = [];
  const debian = cachedPath('oci');
  if (existsSync(join(debian, 'index.json'))) results.push(await measure('Debian bookworm minbase image', `oci:${debian}:debian`));
  else console.log('Debian test image missing (run .ci/setup.d/40-test-images.sh); skipped');
  results.push(await measure('2,000 node_modules + artefacts', await buildNodeImage(work)));
  console.log(`worst ratio ${Math.max(...results).toFixed(2)} (goal ≤ 1.20)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
