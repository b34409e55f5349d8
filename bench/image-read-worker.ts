/** One measured read of an image (a fresh process, so its peak RSS is its own). */
import { openImage, walkImage } from '../src/image/index.js';

const ref = process.argv[2]!;
const t0 = process.hrtime.bigint();
const image = await openImage(ref, { insecure: true });
const walk = await walkImage(image);
await image.close();
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const rssMB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ seconds, rssMB, entries: walk.files.size }));
