/**
 * `npm run bench:admission` (issue 18): the admission webhook under 500 pod creates per
 * second, with 50 policies and cached signature verdicts, beside what it is measured
 * against in the same run:
 *   - floor: a no-op Node HTTPS webhook (bench/admission/noop-webhook.ts), the cost of TLS,
 *     HTTP and JSON alone;
 *   - gatehouse: `gatehouse admission serve --policy <50 policies> --trust-policy <keys>`,
 *     POST /validate; both pod images are signed in the local registry, so after warm-up
 *     their verdicts come from the cache;
 *   - peer: OPA (v1.22.4, built from the Go module proxy on first use, cached under
 *     ~/.cache/gatehouse-test/bin) serving AdmissionReview itself (`POST /`, the default
 *     decision data.system.main) with the same 50 policies in Rego (bench/admission/policies.ts).
 *     It checks no signatures: it is compared on policy evaluation only.
 * Every webhook runs as its own process with TLS on 127.0.0.1; one keep-alive client sends
 * the load open-loop. Each answer is checked (HTTP 200, the request's uid, allowed), and
 * before the load each policy-enforcing webhook must deny a privileged pod and a pod from a
 * blocked registry (and Gatehouse an unsigned image), so a webhook that allows everything
 * cannot pass. Then the cold-cache cost of a verification against the local registry.
 * Knobs: GATEHOUSE_BENCH_ADMISSION_RPS (500), _SECONDS (20), _WARMUP (5), _TARGETS (floor,
 * gatehouse,opa: which webhooks run), _PROFILE (a directory: CPU profiles of both Node
 * webhooks, GC trace and event-loop delay of `admission serve`), _NODE_FLAGS (for both Node
 * webhooks, e.g. --perf-basic-prof; their pids are printed), _SEMI_SPACE (MB of young
 * generation for `admission serve`; V8's default when unset).
 * Needs the local registry (.ci/setup.d/30-registry.sh) and Go for the OPA peer.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { issueServerCert, makeLocalCa } from '../src/central/tls/issue.js';
import { ImageTrustGate } from '../src/admission/image-trust.js';
import { containerImagesOf } from '../src/admission/image-trust-images.js';
import { parseTrustPolicy } from '../src/trust/policy.js';
import { generateKeyPair, parsePrivateKey } from '../src/trust/keys.js';
import { signImage } from '../src/trust/sign.js';
import { RegistryStore } from '../src/trust/registry-write.js';
import { registryReference } from '../src/trust/image-target.js';
import { cachedPath, testRegistry } from '../test/helpers/components.js';
import { pushTestImage, registryUp, uniqueRepo } from '../test/trust/fixtures.js';
import { BLOCKED_REGISTRIES, gatehousePack, regoPolicy } from './admission/policies.js';
import { percentile, podReview, post, runLoad, type LoadResult } from './admission/load.js';
import { procCpuSeconds } from './proc-stats.js';

const RATE = Number(process.env.GATEHOUSE_BENCH_ADMISSION_RPS ?? 500);
const SECONDS = Number(process.env.GATEHOUSE_BENCH_ADMISSION_SECONDS ?? 20);
const WARMUP = Number(process.env.GATEHOUSE_BENCH_ADMISSION_WARMUP ?? 5);
/** A directory: `admission serve` runs with --cpu-prof and --trace-gc, its profile and log are kept there. */
const PROFILE_DIR = process.env.GATEHOUSE_BENCH_ADMISSION_PROFILE;
/** Which webhooks run (a profile of Gatehouse alone needs neither the floor nor OPA). */
/** Node flags for both Node webhooks, e.g. `--perf-basic-prof` for `perf record -p` (the bench prints their pids). */
const NODE_FLAGS = (process.env.GATEHOUSE_BENCH_ADMISSION_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** Young-generation semi-space of `admission serve`, MB (`--min-semi-space-size` and `--max-semi-space-size`: V8 grows it only when much survives, so a max alone changes nothing here; 0: V8 default). */
const SEMI_SPACE_MB = Number(process.env.GATEHOUSE_BENCH_ADMISSION_SEMI_SPACE ?? 0);
const TARGETS = (process.env.GATEHOUSE_BENCH_ADMISSION_TARGETS ?? 'floor,gatehouse,opa').split(',').map((t) => t.trim());
const OPA_VERSION = 'v1.22.4';
const COLD_IMAGES = 20;
const root = fileURLToPath(new URL('..', import.meta.url));

interface Target {
  /** floor, gatehouse or opa (GATEHOUSE_BENCH_ADMISSION_TARGETS). */
  key: string;
  name: string;
  path: string;
  /** Starts the webhook; resolves to its port and process. */
  start(): Promise<{ port: number; proc: ChildProcess }>;
  /** Pods it must refuse before the load counts. */
  mustDeny: { what: string; override: (pod: Record<string, any>) => void }[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(pool: Pool, path: string, proc: ChildProcess, what: string, log: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}): ${tail(log)}`);
    try {
      const res = await pool.request({ method: 'GET', path });
      await res.body.dump();
      if (res.statusCode === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`${what} did not become ready in 60 s: ${tail(log)}`);
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}

/** OPA from the Go module proxy, built once into the test cache. */
function opaBinary(): string {
  const bin = cachedPath('bin', `opa-${OPA_VERSION}`);
  if (existsSync(bin)) return bin;
  const tmp = mkdtempSync(join(tmpdir(), 'gatehouse-opa-'));
  console.log(`building OPA ${OPA_VERSION} from the Go module proxy (once; several minutes)…`);
  const r = spawnSync('go', ['install', '-trimpath', `github.com/open-policy-agent/opa@${OPA_VERSION}`], { env: { ...process.env, CGO_ENABLED: '0', GOBIN: tmp }, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`go install opa@${OPA_VERSION} failed (is Go on PATH?)`);
  mkdirSync(cachedPath('bin'), { recursive: true });
  renameSync(join(tmp, 'opa'), bin);
  rmSync(tmp, { recursive: true, force: true });
  return bin;
}

function stats(r: LoadResult) {
  return { p50: percentile(r.latenciesMs, 50), p99: percentile(r.latenciesMs, 99), max: percentile(r.latenciesMs, 100) };
}

async function main(): Promise<void> {
  if (!registryUp()) throw new Error(`no registry at ${testRegistry} (bash .ci/setup.d/30-registry.sh)`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-admission-'));
  const children: ChildProcess[] = [];
  try {
    // TLS for every webhook: one CA the client trusts, one certificate for 127.0.0.1.
    const now = new Date();
    const ca = await makeLocalCa(now, 'bench admission');
    const cert = await issueServerCert(ca, { dns: ['localhost'], ips: ['127.0.0.1'] }, now);
    const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), pack: join(dir, 'pack.yaml'), rego: join(dir, 'bench.rego'), trust: join(dir, 'trust.yaml') };
    writeFileSync(files.cert, cert.certPem);
    writeFileSync(files.key, cert.keyPem, { mode: 0o600 });
    writeFileSync(files.pack, gatehousePack());
    writeFileSync(files.rego, regoPolicy());

    // Two signed images (app and sidecar) and one unsigned, in the local registry.
    const pair = await generateKeyPair('bench');
    const key = await parsePrivateKey(pair.privatePem, 'bench', async () => 'bench');
    const store = new RegistryStore(testRegistry);
    const push = async (label: string, sign: boolean) => {
      const img = await pushTestImage(uniqueRepo(label));
      if (sign) await signImage(store, { ref: registryReference(img.ref), digest: img.digest }, key);
      return img;
    };
    const [app, sidecar, unsigned] = [await push('admission-bench-app', true), await push('admission-bench-sidecar', true), await push('admission-bench-unsigned', false)];
    const trustDoc = { keys: { release: { pem: pair.publicPem } }, rules: [{ name: 'bench', match: [`${testRegistry}/trust-test/**`], action: 'require', keys: ['release'] }], default: 'exempt' };
    writeFileSync(files.trust, JSON.stringify(trustDoc));
    const images = { app: app.ref, sidecar: sidecar.ref };

    const policyDenials: Target['mustDeny'] = [
      { what: 'a privileged container', override: (p) => (p.spec.containers[0].securityContext.privileged = true) },
      { what: 'an image from a blocked registry', override: (p) => (p.spec.containers[1].image = `${BLOCKED_REGISTRIES[30]}/team/app:1`) },
    ];
    const spawnLogged = (what: string, cmd: string, args: string[]) => {
      const log = join(dir, `${what}.log`);
      const fd = openSync(log, 'a');
      const proc = spawn(cmd, args, { cwd: root, stdio: ['ignore', fd, fd], env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } });
      children.push(proc);
      return { proc, log };
    };
    const targets: Target[] = [
      {
        key: 'floor',
        name: 'floor (no-op Node HTTPS)',
        path: '/',
        mustDeny: [],
        start: async () => {
          const profile = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', join(PROFILE_DIR, 'floor')] : [];
          const proc = spawn(process.execPath, [...profile, ...NODE_FLAGS, '--import', 'tsx', join(root, 'bench/admission/noop-webhook.ts'), files.cert, files.key], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
          children.push(proc);
          const port = await new Promise<number>((resolve, reject) => {
            proc.stdout!.on('data', (d: Buffer) => {
              const m = /listening (\d+)/.exec(d.toString());
              if (m) resolve(Number(m[1]));
            });
            proc.once('exit', (code) => reject(new Error(`no-op webhook exited (${code})`)));
          });
          return { port, proc };
        },
      },
      {
        key: 'gatehouse',
        name: 'gatehouse admission serve',
        path: '/validate',
        mustDeny: [...policyDenials, { what: 'an unsigned image', override: (p) => (p.spec.containers[0].image = unsigned.ref) }],
        start: async () => {
          const port = await freePort();
          const profile = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR, '--trace-gc', '--import', 'tsx', '--import', join(root, 'bench/admission/loop-delay.ts')] : [];
          const { proc, log } = spawnLogged('gatehouse', process.execPath, [
            ...profile, ...NODE_FLAGS, ...(SEMI_SPACE_MB > 0 ? [`--min-semi-space-size=${SEMI_SPACE_MB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`] : []), join(root, 'bin/gatehouse.mjs'), 'admission', 'serve', '--listen', `127.0.0.1:${port}`, '--policy', files.pack, '--trust-policy', files.trust, '--tls-cert', files.cert, '--tls-key', files.key,
          ]);
          await waitHealthy(clientFor(port), '/healthz', proc, 'gatehouse admission serve', log);
          return { port, proc };
        },
      },
      {
        key: 'opa',
        name: `OPA ${OPA_VERSION} (same 50 policies in Rego)`,
        path: '/',
        mustDeny: policyDenials,
        start: async () => {
          const bin = opaBinary();
          const port = await freePort();
          const { proc, log } = spawnLogged('opa', bin, ['run', '--server', '--addr', `127.0.0.1:${port}`, '--tls-cert-file', files.cert, '--tls-private-key-file', files.key, '--log-level', 'error', files.rego]);
          await waitHealthy(clientFor(port), '/health', proc, 'opa', log);
          return { port, proc };
        },
      },
    ];

    const pools = new Map<number, Pool>();
    function clientFor(port: number): Pool {
      let pool = pools.get(port);
      // Keep-alive of 60 s whatever the server hints: a webhook waits 10 s between its
      // rounds, and undici's default (4 s without a hint, as OPA gives none) made some
      // webhooks start every round with 16 TLS handshakes and not others.
      if (!pool) pools.set(port, (pool = new Pool(`https://127.0.0.1:${port}`, { connections: 16, keepAliveTimeout: 60_000, connect: { ca: ca.certPem, servername: 'localhost' } })));
      return pool;
    }

    const loadBefore = loadavg()[0]!;
    const rounds = Math.max(1, Math.round(SECONDS / 5));
    console.log(`bench:admission: ${RATE} pod creates/s for ${SECONDS} s (after ${WARMUP} s warm-up), 50 policies, 2 signed images per pod, one client, ${rounds} rounds per webhook`);
    // All three run side by side (an idle webhook costs nothing) and are measured in
    // rounds, in rotating order, so a burst of load from elsewhere on the machine falls on
    // all of them alike rather than on whichever ran then.
    const running: { t: Target; pool: Pool; proc: ChildProcess }[] = [];
    let n = 0;
    for (const t of targets) {
      if (!TARGETS.includes(t.key)) continue;
      try {
        const { port, proc } = await t.start();
        running.push({ t, pool: clientFor(port), proc });
      } catch (e) {
        console.log(`${t.name.padEnd(44)} not run: ${(e as Error).message}`);
      }
    }
    const reviews = () => podReview(images, n++);
    if (NODE_FLAGS.length) console.log(`pids: ${running.map(({ t, proc }) => `${t.key} ${proc.pid}`).join(', ')}`);
    if (running.length === 0) throw new Error(`no webhook to measure (GATEHOUSE_BENCH_ADMISSION_TARGETS=${TARGETS.join(',')})`);
    for (const { t, pool } of running) {
      for (const d of t.mustDeny) {
        const a = await post(pool, t.path, podReview(images, n++, d.override).body);
        if (a.status !== 200 || a.allowed !== false) throw new Error(`${t.name} did not deny ${d.what}: HTTP ${a.status} allowed=${String(a.allowed)} ${a.message ?? ''}`);
      }
      await runLoad(pool, t.path, reviews, RATE, WARMUP);
    }
    // Per-round p99s show whether a bad tail is the webhook's or a burst from elsewhere.
    const roundP99 = new Map<string, number[]>(running.map(({ t }) => [t.name, []]));
    const merged = new Map<string, LoadResult>(running.map(({ t }) => [t.name, { sent: 0, errors: 0, latenciesMs: [], achievedRps: 0 }]));
    // CPU time of each webhook process (all threads) during its own rounds: its cost per
    // request, which the machine's other load does not inflate as it does wall-clock latency.
    const cpuSeconds = new Map<string, number>(running.map(({ t }) => [t.name, 0]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < running.length; k++) {
        const { t, pool, proc } = running[(round + k) % running.length]!;
        const cpuBefore = procCpuSeconds(proc.pid!);
        const r = await runLoad(pool, t.path, reviews, RATE, SECONDS / rounds);
        cpuSeconds.set(t.name, cpuSeconds.get(t.name)! + procCpuSeconds(proc.pid!) - cpuBefore);
        const m = merged.get(t.name)!;
        m.sent += r.sent;
        m.errors += r.errors;
        m.firstError ??= r.firstError;
        m.latenciesMs.push(...r.latenciesMs);
        m.achievedRps += r.achievedRps / rounds;
        roundP99.get(t.name)!.push(percentile(r.latenciesMs, 99));
      }
    }
    for (const { proc } of running) proc.kill('SIGTERM');
    const results = [...merged].map(([name, r]) => ({ name, r }));
    for (const { name, r } of results) {
      const s = stats(r);
      console.log(`${name.padEnd(44)} p50 ${s.p50.toFixed(2)} ms  p99 ${s.p99.toFixed(2)} ms  max ${s.max.toFixed(1)} ms  ${r.achievedRps.toFixed(0)} req/s  errors ${r.errors}/${r.sent}${r.firstError ? ` (first: ${r.firstError})` : ''}`);
      console.log(`${''.padEnd(44)} p99 by round: ${roundP99.get(name)!.map((x) => x.toFixed(1)).join(' ')} ms; median round ${percentile(roundP99.get(name)!, 50).toFixed(2)} ms; CPU ${((cpuSeconds.get(name)! / r.sent) * 1e6).toFixed(0)} µs/request`);
    }
    console.log(`load average (1 min) before/after: ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);

    const floor = results.find((x) => x.name.startsWith('floor'));
    const gate = results.find((x) => x.name.startsWith('gatehouse'));
    const opa = results.find((x) => x.name.startsWith('OPA'));
    if (gate && floor) {
      const g = stats(gate.r);
      const f = stats(floor.r);
      console.log(`\ngoals: p99 ≤ 5 ms: ${g.p99 <= 5 ? 'met' : 'MISSED'} (${g.p99.toFixed(2)} ms); ≤ 2× the floor's p99: ${g.p99 <= 2 * f.p99 ? 'met' : 'MISSED'} (${(g.p99 / f.p99).toFixed(2)}×); zero errors: ${gate.r.errors === 0 ? 'met' : 'MISSED'} (${gate.r.errors})`);
      if (opa) {
        const o = stats(opa.r);
        console.log(`gatehouse / OPA: p50 ${(g.p50 / o.p50).toFixed(2)}×, p99 ${(g.p99 / o.p99).toFixed(2)}× (OPA checks no signatures)`);
      }
    }
    console.log("anchors: Kyverno's published scaling test (17 PSS policies, one replica, 100 virtual users) averages 42.67 ms; Red Hat ACS's admission controller times out at 20 s by default and then fails open.");

    // Cold cache: each image verified once against the local registry (tag → digest, .sig
    // manifest, payload blob, referrers), then again from the cache.
    if (TARGETS.includes('gatehouse')) await coldCache();
    await store.close();
    async function coldCache(): Promise<void> {
      const cold: number[] = [];
      const warm: number[] = [];
      const gateLib = new ImageTrustGate({ policy: await parseTrustPolicy(trustDoc, 'bench trust policy', dir) });
      for (let i = 0; i < COLD_IMAGES; i++) {
        const img = await push('admission-bench-cold', true);
        const pod = JSON.parse(podReview({ app: img.ref, sidecar: img.ref }, i).body).request.object as Record<string, unknown>;
        const found = containerImagesOf(pod).slice(0, 1);
        for (const into of [cold, warm]) {
          const t0 = performance.now();
          const { verdicts } = await gateLib.check(found, { deadline: Date.now() + 10_000 });
          into.push(performance.now() - t0);
          if (verdicts[0]?.outcome !== 'verified') throw new Error(`cold-cache image not verified: ${verdicts[0]?.reason}`);
        }
      }
      await gateLib.close();
      console.log(`image trust, in process, ${COLD_IMAGES} images: cold (registry) p50 ${percentile(cold, 50).toFixed(2)} ms, max ${percentile(cold, 100).toFixed(2)} ms; cached p50 ${percentile(warm, 50).toFixed(3)} ms, max ${percentile(warm, 100).toFixed(3)} ms; stats ${JSON.stringify(gateLib.stats().verdicts)}`);
    }
    await Promise.all([...pools.values()].map((p) => p.close()));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    if (PROFILE_DIR) {
      // The profile is written when the process exits; the log holds the GC trace.
      await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : undefined)));
      if (existsSync(join(dir, 'gatehouse.log'))) writeFileSync(join(PROFILE_DIR, 'gatehouse.log'), readFileSync(join(dir, 'gatehouse.log')));
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:admission: ${(e as Error).message}`);
  process.exitCode = 2;
});
