/**
 * `node --import tsx bench/central/push-cpu.ts [N]`: the CPU an image worker spends preparing one
 * push (src/central/images/push-work.ts preparePush, then the structured clone of what it
 * posts to the main thread), in this one thread, so other processes' load barely moves it
 * (bench:central's wall and CPU figures do move with it). Three bodies of bench:central's
 * 500-package scan: whole (an old client), by address with the list known (findings whole, as
 * session 7's client sent them; findings by address too, as `image scan --server` sends
 * them now: their texts known from the whole pushes), by address with a list never seen (the worker parses the body and answers `need`; the 409 and the whole
 * push that follows are not in this row). And the findings' split (store/image-findings.ts)
 * afresh against remembered. And the main thread's CPU to read the worker's reply (whole, and a new list).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { addressedImageReport } from '../../src/central/client/ingest-types.js';
import { preparePush } from '../../src/central/images/push-work.js';
import { encodeVulnerabilities, splitVulnerability, type StoredFinding } from '../../src/central/store/image-findings.js';
import { withFingerprint } from '../../src/findings/fingerprint.js';
import { cachedPath, cacheHas } from '../../test/helpers/components.js';
import { buildImageFixture, ingestReport } from './fixtures.js';

const N = Number(process.argv[2] ?? 300);
/** bench:central's full size: the pushed tags are its deployed images'. */
const DEPLOYMENTS = 15_000;
const root = join(import.meta.dirname, '..', '..');

const cpuMs = (fn: () => void): number => {
  const c = process.cpuUsage();
  fn();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
};

if (!cacheHas('oci', 'index.json')) {
  console.log('push-cpu skipped: test images not built (bash .ci/setup.d/40-test-images.sh)');
} else {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-push-cpu-'));
  try {
    const fx = await buildImageFixture(cachedPath('oci'), join(root, '..', 'shared', 'vulndata', 'pypa', 'vulns'), work);
    const whole = Array.from({ length: N }, (_, k) => Buffer.from(JSON.stringify(ingestReport(fx, DEPLOYMENTS, 'push-cpu-whole', k))));
    const listOnly = Array.from({ length: N }, (_, k) => {
      const r = ingestReport(fx, DEPLOYMENTS, 'push-cpu-list', k);
      return Buffer.from(JSON.stringify({ ...addressedImageReport(r), findings: r.findings, vulnerabilities: undefined }));
    });
    const known = Array.from({ length: N }, (_, k) => Buffer.from(JSON.stringify(addressedImageReport(ingestReport(fx, DEPLOYMENTS, 'push-cpu-known', k)))));
    const unknownList = (k: number) => {
      const r = ingestReport(fx, DEPLOYMENTS, 'push-cpu-unknown', k);
      return Buffer.from(JSON.stringify({ ...r, sbom: { ...r.sbom, components: `${k.toString(36).padStart(8, '0')}${'A'.repeat(24)}` } }));
    };
    const unknown = Array.from({ length: N }, (_, k) => unknownList(k));
    const run = (bodies: Buffer[]) => cpuMs(() => { for (const b of bodies) serialize(preparePush(new Uint8Array(b))); }) / bodies.length;
    // The main thread's share of the hand-over: reading the worker's reply (its structured clone).
    const replies = (bodies: Buffer[]) => bodies.map((b) => serialize(preparePush(new Uint8Array(b))));
    const read = (serialized: Buffer[]) => cpuMs(() => { for (const r of serialized) deserialize(r); }) / serialized.length;
    // Warm-up (and the worker learns the list from a whole push, as after a first push).
    run(whole.slice(0, 30));
    run(known.slice(0, 30));
    const rows: Record<string, number[]> = { whole: [], listOnly: [], known: [], unknown: [], readWhole: [], readNew: [] };
    const wholeReplies = replies(whole);
    const newReplies = replies(Array.from({ length: N }, (_, k) => Buffer.from(JSON.stringify(ingestReport(fx, DEPLOYMENTS, 'push-cpu-new', k, true)))));
    for (let r = 0; r < 3; r++) {
      rows.whole!.push(run(whole));
      rows.listOnly!.push(run(listOnly));
      rows.known!.push(run(known));
      rows.unknown!.push(run(unknown));
      rows.readWhole!.push(read(wholeReplies));
      rows.readNew!.push(read(newReplies));
    }
    const canonical = fx.findings.map((f) => withFingerprint({ ...f, resource: { ...f.resource, image: { ...(f.resource as { image?: object }).image, digest: 'sha256:x' } } }) as StoredFinding);
    encodeVulnerabilities(canonical);
    const split = { fresh: [] as number[], remembered: [] as number[] };
    for (let r = 0; r < 3; r++) {
      split.fresh.push(cpuMs(() => { for (let i = 0; i < N; i++) for (const f of canonical) splitVulnerability(f); }) / N);
      split.remembered.push(cpuMs(() => { for (let i = 0; i < N; i++) encodeVulnerabilities(canonical); }) / N);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!.toFixed(2);
    console.log(`push-cpu: ${N} pushes a row, 3 rounds, median CPU ms a push in one thread (body ${(whole[0]!.length / 1024).toFixed(0)} KB whole, ${(listOnly[0]!.length / 1024).toFixed(0)} KB list by address, ${(known[0]!.length / 1024).toFixed(0)} KB list and findings by address)`);
    console.log(`  prepare whole body (old client)         ${med(rows.whole!)} ms   rounds ${rows.whole!.map((x) => x.toFixed(2)).join(' / ')}`);
    console.log(`  prepare list by address, findings whole ${med(rows.listOnly!)} ms   rounds ${rows.listOnly!.map((x) => x.toFixed(2)).join(' / ')}`);
    console.log(`  prepare list and findings by address    ${med(rows.known!)} ms   rounds ${rows.known!.map((x) => x.toFixed(2)).join(' / ')}`);
    console.log(`  by address, list unknown (to need)      ${med(rows.unknown!)} ms   rounds ${rows.unknown!.map((x) => x.toFixed(2)).join(' / ')}`);
    console.log(`  main thread: read the reply, whole     ${med(rows.readWhole!)} ms   rounds ${rows.readWhole!.map((x) => x.toFixed(2)).join(' / ')} (${(wholeReplies[0]!.length / 1024).toFixed(0)} KB)`);
    console.log(`  main thread: read the reply, list new  ${med(rows.readNew!)} ms   rounds ${rows.readNew!.map((x) => x.toFixed(2)).join(' / ')} (${(newReplies[0]!.length / 1024).toFixed(0)} KB)`);
    console.log(`  ${canonical.length} findings: split afresh ${med(split.fresh)} ms, encodeVulnerabilities remembered ${med(split.remembered)} ms`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
