/**
 * npm run bench:image — reads the Debian test image end to end (every layer decompressed,
 * digests verified, squashed into the file tree) through the registry and through oci:,
 * and prints each as a ratio to the floor measured in the same run: `gzip -dc` of the same
 * layer blobs to /dev/null. Peak RSS comes from a fresh process per measurement.
 * Goal: ≤ 1.3× the floor, RSS ≤ 200 MB.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OCI_DIR, REGISTRY_IMAGES } from '../test/fixtures/test-images.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const worker = fileURLToPath(new URL('./image-read-worker.ts', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function layerBlobs(): string[] {
  const index = JSON.parse(readFileSync(join(OCI_DIR, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'debian');
  if (!entry) throw new Error('debian test image missing: run bash .ci/setup');
  const blob = (d: string) => join(OCI_DIR, 'blobs', 'sha256', d.slice(7));
  const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8')) as { layers: { digest: string }[] };
  return manifest.layers.map((l) => blob(l.digest));
}

function floorSeconds(blobs: string[]): number {
  const t0 = process.hrtime.bigint();
  const res = spawnSync('sh', ['-c', `for f in ${blobs.map((b) => `'${b}'`).join(' ')}; do gzip -dc "$f" >/dev/null; done`]);
  if (res.status !== 0) throw new Error('gzip -dc failed');
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function readImage(ref: string): { seconds: number; rssMB: number; entries: number } {
  const res = spawnSync(process.execPath, ['--import', 'tsx', worker, ref], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`reading ${ref} failed: ${res.stderr}`);
  return JSON.parse(res.stdout.trim().split('\n').pop()!) as { seconds: number; rssMB: number; entries: number };
}

const blobs = layerBlobs();
const floors: number[] = [];
const results: Record<string, { seconds: number[]; rss: number[]; entries: number }> = {};
const targets = { registry: REGISTRY_IMAGES.debian, oci: `oci:${OCI_DIR}:debian` };
for (let i = 0; i < RUNS; i++) {
  floors.push(floorSeconds(blobs));
  for (const [name, ref] of Object.entries(targets)) {
    const r = readImage(ref);
    results[name] ??= { seconds: [], rss: [], entries: r.entries };
    results[name].seconds.push(r.seconds);
    results[name].rss.push(r.rssMB);
  }
}
const floor = median(floors);
console.log(`floor (gzip -dc of ${blobs.length} layer blob(s) to /dev/null): ${floor.toFixed(3)} s (median of ${RUNS})`);
for (const [name, r] of Object.entries(results)) {
  const s = median(r.seconds);
  const rss = Math.max(...r.rss);
  const ratio = s / floor;
  console.log(
    `${name.padEnd(9)} ${s.toFixed(3)} s  ratio ${ratio.toFixed(2)}x (goal ≤ 1.30x ${ratio <= 1.3 ? 'met' : 'NOT met'})  peak RSS ${rss.toFixed(0)} MB (goal ≤ 200 ${rss <= 200 ? 'met' : 'NOT met'})  ${r.entries} entries`,
  );
}
