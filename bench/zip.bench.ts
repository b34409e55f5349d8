/**
 * Why two zip readers: the Java analyzer's job (a jar already in memory, read for its few
 * metadata entries and nested jars) done by fflate (what java.ts uses) and by yauzl (what
 * vuln/feeds/osv.ts uses for osv.dev's all.zip on disk), on the inventory test image's real
 * jars, the fat jar with its nested jars among them. Prints the time per pass of each and
 * the ratio yauzl / fflate; yauzl pays an asynchronous round trip per central-directory
 * entry (every class file), fflate walks the directory synchronously.
 * Usage: npm run bench:zip [-- --runs N]   (after bash .ci/setup built the inventory image)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import yauzl from 'yauzl';
import { cacheHas, cachedPath } from '../test/helpers/components.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;

const wanted = (name: string): boolean =>
  name === 'META-INF/MANIFEST.MF' || /^META-INF\/maven\/.*\/pom\.(properties|xml)$/.test(name) || /\.jar$/.test(name);

function viaFflate(bytes: Uint8Array): number {
  const files = unzipSync(bytes, { filter: (f) => wanted(f.name) });
  let n = 0;
  for (const [name, data] of Object.entries(files)) n += 1 + (name.endsWith('.jar') ? viaFflate(data) : 0);
  return n;
}

async function viaYauzl(bytes: Buffer): Promise<number> {
  const zip = await yauzl.fromBufferPromise(bytes, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true });
  let n = 0;
  for await (const entry of zip.eachEntry()) {
    const name = (entry.fileName as unknown as Buffer).toString('utf8');
    if (!wanted(name)) continue;
    const chunks: Buffer[] = [];
    for await (const c of await zip.openReadStreamPromise(entry)) chunks.push(c as Buffer);
    n += 1 + (name.endsWith('.jar') ? await viaYauzl(Buffer.concat(chunks)) : 0);
  }
  return n;
}

const dirs = [['inventory', 'root', 'opt', 'java'], ['inventory', 'root', 'opt', 'fat']];
if (!dirs.every((d) => cacheHas(...d))) {
  console.error('bench:zip needs the inventory test image (bash .ci/setup)');
  process.exit(2);
}
const jars = dirs.flatMap((d) => readdirSync(cachedPath(...d)).filter((f) => f.endsWith('.jar')).map((f) => readFileSync(join(cachedPath(...d), f))));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f: number[] = [];
const y: number[] = [];
let counts: [number, number] = [0, 0];
for (let i = 0; i <= RUNS; i++) {
  let t = performance.now();
  const a = jars.reduce((s, j) => s + viaFflate(j), 0);
  const tf = performance.now() - t;
  t = performance.now();
  let b = 0;
  for (const j of jars) b += await viaYauzl(j);
  const ty = performance.now() - t;
  // The first pass warms both up.
  if (i > 0) {
    f.push(tf);
    y.push(ty);
  }
  counts = [a, b];
}
if (counts[0] !== counts[1]) throw new Error(`the readers disagree: fflate ${counts[0]} entries, yauzl ${counts[1]}`);
const mb = jars.reduce((s, j) => s + j.length, 0) / 1024 / 1024;
console.log(`${jars.length} jars (${mb.toFixed(1)} MiB), ${counts[0]} entries read, median of ${RUNS} runs`);
console.log(`fflate ${median(f).toFixed(1)} ms   yauzl ${median(y).toFixed(1)} ms   ratio yauzl/fflate ${(median(y) / median(f)).toFixed(2)}`);
