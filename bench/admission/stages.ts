/**
 * Where `admission serve`'s time per request goes, stage by stage, in process (no HTTP):
 * the bench's pod review, its 50 policies and two signed images in the local registry
 * (verdicts cached after the first check), each stage run in a loop and timed in CPU time
 * (process.cpuUsage), so other load on the machine does not inflate it much. The stages
 * are the ones AdmissionServer.answer runs; the rest of the server's CPU per request
 * (bench:admission prints it) is fastify, HTTP and TLS.
 * With --expose-gc (and a young generation large enough that 500 iterations fit in it,
 * --min-semi-space-size=64 --max-semi-space-size=64) it also prints each stage's bytes
 * allocated per iteration: garbage is what makes scavenges, and scavenges make the tail.
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/admission/stages.ts [ITERATIONS]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapStatistics } from 'node:v8';
import { join } from 'node:path';
import { containerImagesOf } from '../../src/admission/image-trust-images.js';
import { ImageTrustGate } from '../../src/admission/image-trust.js';
import { AdmissionMetrics } from '../../src/admission/metrics.js';
import { loadAdmissionPolicies } from '../../src/admission/policies.js';
import { reviewAdmission, type ReviewerOptions } from '../../src/admission/decide.js';
import { parseAdmissionReview } from '../../src/admission/review.js';
import { compilePolicySet } from '../../src/policy/evaluate.js';
import { subjects } from '../../src/subjects/index.js';
import { parseTrustPolicy } from '../../src/trust/policy.js';
import { generateKeyPair, parsePrivateKey } from '../../src/trust/keys.js';
import { signImage } from '../../src/trust/sign.js';
import { RegistryStore } from '../../src/trust/registry-write.js';
import { registryReference } from '../../src/trust/image-target.js';
import { testRegistry } from '../../test/helpers/components.js';
import { pushTestImage, registryUp, uniqueRepo } from '../../test/trust/fixtures.js';
import { gatehousePack } from './policies.js';
import { podReview } from './load.js';

const N = Number(process.argv[2] ?? 20_000);

const gc = (globalThis as { gc?: () => void }).gc;
let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });
const ALLOC_ITERATIONS = 500;

/** Bytes allocated per call: heap growth over a loop no collection ran in (else unknown). */
async function allocated(fn: (i: number) => unknown): Promise<string> {
  if (!gc) return '';
  gc();
  await sleep(30); // the observer reports that gc() later
  const gcsBefore = gcs;
  const before = getHeapStatistics().used_heap_size;
  for (let i = 0; i < ALLOC_ITERATIONS; i++) await fn(i);
  const grown = getHeapStatistics().used_heap_size - before;
  await sleep(30);
  return gcs === gcsBefore ? `${(grown / ALLOC_ITERATIONS / 1024).toFixed(1).padStart(6)} KB allocated` : '  (a GC ran: run with a larger --min-semi-space-size)';
}

async function cpuMicros(what: string, fn: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(2000, N); i++) await fn(i); // warm the JIT
  const before = process.cpuUsage();
  for (let i = 0; i < N; i++) await fn(i);
  const d = process.cpuUsage(before);
  const us = (d.user + d.system) / N;
  console.log(`${what.padEnd(48)} ${us.toFixed(1).padStart(6)} µs CPU ${await allocated(fn)}`);
  return us;
}

async function main(): Promise<void> {
  if (!registryUp()) throw new Error(`no registry at ${testRegistry}`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-admission-stages-'));
  try {
    const pair = await generateKeyPair('bench');
    const key = await parsePrivateKey(pair.privatePem, 'bench', async () => 'bench');
    const store = new RegistryStore(testRegistry);
    const signed = async (label: string) => {
      const img = await pushTestImage(uniqueRepo(label));
      await signImage(store, { ref: registryReference(img.ref), digest: img.digest }, key);
      return img.ref;
    };
    const images = { app: await signed('admission-stages-app'), sidecar: await signed('admission-stages-sidecar') };
    await store.close();
    const trustDoc = { keys: { release: { pem: pair.publicPem } }, rules: [{ name: 'bench', match: [`${testRegistry}/trust-test/**`], action: 'require', keys: ['release'] }], default: 'exempt' };
    const gate = new ImageTrustGate({ policy: await parseTrustPolicy(trustDoc, 'bench trust policy', dir) });
    writeFileSync(join(dir, 'pack.yaml'), gatehousePack());
    const loaded = await loadAdmissionPolicies([join(dir, 'pack.yaml')], subjects());
    const opts: ReviewerOptions = { set: compilePolicySet(loaded.policies, subjects(), { exceptions: loaded.exceptions }) };
    const bodies = Array.from({ length: 256 }, (_, i) => Buffer.from(podReview(images, i).body));
    const reviews = bodies.map((b) => parseAdmissionReview(b));
    const far = () => Date.now() + 60_000;
    const first = await gate.check(containerImagesOf(reviews[0]!.request.object!), { deadline: far() });
    if (first.verdicts.some((v) => v.outcome !== 'verified')) throw new Error(`images not verified: ${JSON.stringify(first.verdicts)}`);
    const metrics = new AdmissionMetrics();
    const extras = { denials: [] as string[], warnings: [] as string[] };
    const response = reviewAdmission(reviews[0]!, opts, extras).response;
    if (!response.response.allowed) throw new Error(`the bench pod was denied: ${response.response.status?.message}`);

    console.log(`admission stages, ${N} iterations each (the bench's pod review, ${bodies[0]!.length} bytes; 50 policies; 2 cached image verdicts)`);
    let sum = 0;
    sum += await cpuMicros('parseAdmissionReview (bytes → review)', (i) => parseAdmissionReview(bodies[i & 255]!));
    sum += await cpuMicros('containerImagesOf', (i) => containerImagesOf(reviews[i & 255]!.request.object!));
    sum += await cpuMicros('ImageTrustGate.check (2 cached verdicts)', (i) => gate.check(containerImagesOf(reviews[i & 255]!.request.object!), { deadline: far() }));
    sum += await cpuMicros('reviewAdmission (both subjects, 50 policies)', (i) => reviewAdmission(reviews[i & 255]!, opts, extras));
    sum += await cpuMicros('JSON.stringify(response)', () => JSON.stringify(response));
    sum += await cpuMicros('metrics (a review counted, its latency)', () => {
      metrics.answered('validate', 'CREATE', 'allow', 0.0004);
    });
    // Only an answer that waits on the registry pays this now (AdmissionServer.answer).
    await cpuMicros('(budget timer: setTimeout, race, clearTimeout)', async () => {
      let timer: NodeJS.Timeout | undefined;
      const budget = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
      await Promise.race([Promise.resolve(1), budget]);
      clearTimeout(timer);
    });
    console.log(`${'sum of the stages'.padEnd(48)} ${sum.toFixed(1).padStart(6)} µs CPU`);
    await gate.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`admission stages: ${(e as Error).message}`);
  process.exitCode = 2;
});
