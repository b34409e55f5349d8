/**
 * engine-proxy overhead, measured against the engine directly in the same run:
 *   - added latency (p50/p99) of GET /containers/json and POST /containers/create;
 *   - throughput of a streamed copy out of a container through the proxy vs direct: the
 *     real `docker cp CONTAINER:FILE -`, and a bare HTTP client on GET .../archive.
 * Goals (issue 8): ≤ 1 ms added p99 on small requests, ≥ 90% of direct stream throughput.
 * Needs podman's API (GATEHOUSE_PODMAN_SOCKET) and the test image from
 * .ci/setup.d/70-engine-proxy.sh. GATEHOUSE_BENCH_PROXY_MB sets the copy size (default 1024).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const podman = process.env.GATEHOUSE_PODMAN_SOCKET ?? '/run/podman/podman.sock';
const IMAGE = 'localhost/gatehouse-ep-busybox:1';
const COPY_MB = Number(process.env.GATEHOUSE_BENCH_PROXY_MB ?? 1024);
// 2,000 samples a side: a p99 then rests on 20 samples, not 4 (400 swung by ±1 ms run to run).
const SMALL_N = Number(process.env.GATEHOUSE_BENCH_PROXY_N ?? 2000);
const CREATE_N = Number(process.env.GATEHOUSE_BENCH_PROXY_CREATE_N ?? 60);

const agents = new Map<string, http.Agent>();
function call(sock: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  let agent = agents.get(sock);
  if (!agent) agents.set(sock, (agent = new http.Agent({ keepAlive: true, maxSockets: 1 })));
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, agent, method, path, headers: body ? { 'Content-Type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function latency(label: string, sockets: { direct: string; proxy: string }, op: (sock: string) => Promise<void>, n: number) {
  const t: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
  for (let i = 0; i < 10; i++) for (const k of ['direct', 'proxy'] as const) await op(sockets[k]);
  for (let i = 0; i < n; i++) {
    // Alternate so both sides see the same engine load.
    for (const k of (i % 2 ? ['direct', 'proxy'] : ['proxy', 'direct']) as ('direct' | 'proxy')[]) {
      const t0 = process.hrtime.bigint();
      await op(sockets[k]);
      t[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  const d50 = pct(t.direct, 50), d99 = pct(t.direct, 99), p50 = pct(t.proxy, 50), p99 = pct(t.proxy, 99);
  console.log(
    `${label.padEnd(24)} direct p50 ${d50.toFixed(2)} ms p99 ${d99.toFixed(2)} ms | proxy p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms | added p50 ${(p50 - d50).toFixed(2)} ms p99 ${(p99 - d99).toFixed(2)} ms (goal ≤ 1 ms: ${p99 - d99 <= 1 ? 'met' : 'MISSED'})`,
  );
}

async function streamCopy(sock: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let bytes = 0;
    const req = http.request({ socketPath: sock, method: 'GET', path: `/v1.41/containers/${id}/archive?path=/tmp/big` }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`archive answered ${res.statusCode}`));
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        resolve(bytes / s / (1 << 20));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** MiB/s of `docker cp CONTAINER:/tmp/big -` (a tar on stdout, discarded). */
function dockerCp(sock: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const cp = spawn('docker', ['cp', `${id}:/tmp/big`, '-'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DOCKER_HOST: `unix://${sock}` } });
    let err = '';
    cp.stderr.on('data', (d: Buffer) => (err += d.toString()));
    cp.on('error', reject);
    cp.on('close', (code) => {
      if (code !== 0) return reject(new Error(`docker cp exited ${code}: ${err}`));
      resolve(COPY_MB / (Number(process.hrtime.bigint() - t0) / 1e9));
    });
  });
}

function fileSize(id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: podman, method: 'HEAD', path: `/v1.41/containers/${id}/archive?path=/tmp/big` }, (res) => {
      const stat = res.headers['x-docker-container-path-stat'];
      res.resume();
      resolve(stat ? Number(JSON.parse(Buffer.from(String(stat), 'base64').toString()).size) : 0);
    });
    req.on('error', reject);
    req.end();
  });
}

async function main() {
  if (!existsSync(podman)) throw new Error(`podman API socket ${podman} not found (bash .ci/setup.d/20-podman.sh)`);
  const dir = mkdtempSync(join(tmpdir(), 'gh-ep-bench-'));
  const sock = join(dir, 'docker.sock');
  const bin = fileURLToPath(new URL('../bin/gatehouse.mjs', import.meta.url));
  const proxy = spawn(process.execPath, [bin, 'engine-proxy', '--listen', `unix://${sock}`, '--upstream', `unix://${podman}`, '--audit', join(dir, 'audit.jsonl')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' },
  });
  let err = '';
  proxy.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const cleanup: string[] = [];
  try {
    for (let i = 0; !/listening on/.test(err); i++) {
      if (i > 600 || proxy.exitCode !== null) throw new Error(`proxy did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sockets = { direct: podman, proxy: sock };
    console.log(`engine-proxy bench: built-in policy, audit log on, upstream podman at ${podman}; load average ${loadavg()[0]!.toFixed(1)} (numbers are noisy on a loaded machine)`);
    await latency('GET /containers/json', sockets, async (s) => {
      const r = await call(s, 'GET', '/v1.41/containers/json');
      if (r.status !== 200) throw new Error(`containers/json: ${r.status} ${r.text}`);
    }, SMALL_N);
    const createBody = JSON.stringify({ Image: IMAGE, User: 'nobody', Cmd: ['true'], HostConfig: { Binds: ['/tmp:/t'], CapAdd: ['CHOWN'] } });
    await latency('POST /containers/create', sockets, async (s) => {
      const r = await call(s, 'POST', '/v1.41/containers/create', createBody);
      if (r.status !== 201) throw new Error(`create: ${r.status} ${r.text}`);
      cleanup.push(JSON.parse(r.text).Id);
    }, CREATE_N);
    for (const id of cleanup.splice(0)) await call(podman, 'DELETE', `/v1.41/containers/${id}?force=1`);

    const c = await call(podman, 'POST', '/v1.41/containers/create', JSON.stringify({
      Image: IMAGE,
      Cmd: ['sh', '-c', `dd if=/dev/zero of=/tmp/big bs=1M count=${COPY_MB} 2>/dev/null; sleep 3600`],
      HostConfig: { Ulimits: [{ Name: 'nproc', Soft: 1024, Hard: 1024 }, { Name: 'nofile', Soft: 1024, Hard: 1024 }] },
    }));
    const id = JSON.parse(c.text).Id as string;
    cleanup.push(id);
    await call(podman, 'POST', `/v1.41/containers/${id}/start`);
    // Wait until dd has written the whole file (the archive endpoint's stat header says).
    for (let i = 0; (await fileSize(id)) < COPY_MB << 20; i++) {
      if (i > 1200) throw new Error('container did not write its test file in time');
      await new Promise((r) => setTimeout(r, 200));
    }
    // What the issue names: the real docker CLI copying the file out (tar to stdout).
    const cliRates: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
    for (let i = 0; i < 3; i++) for (const k of ['direct', 'proxy'] as const) cliRates[k].push(await dockerCp(sockets[k], id));
    const cliRatio = Math.max(...cliRates.proxy) / Math.max(...cliRates.direct);
    console.log(
      `docker cp ${COPY_MB} MiB to stdout direct ${Math.max(...cliRates.direct).toFixed(0)} MiB/s | proxy ${Math.max(...cliRates.proxy).toFixed(0)} MiB/s | ratio ${(cliRatio * 100).toFixed(1)}% of direct (goal ≥ 90%: ${cliRatio >= 0.9 ? 'met' : 'MISSED'})`,
    );
    const rates: Record<'direct' | 'proxy', number[]> = { direct: [], proxy: [] };
    for (let i = 0; i < 3; i++) for (const k of ['direct', 'proxy'] as const) rates[k].push(await streamCopy(sockets[k], id));
    const best = (xs: number[]) => Math.max(...xs);
    const ratio = best(rates.proxy) / best(rates.direct);
    console.log(
      `streamed copy ${COPY_MB} MiB       direct ${best(rates.direct).toFixed(0)} MiB/s | proxy ${best(rates.proxy).toFixed(0)} MiB/s | ratio ${(ratio * 100).toFixed(1)}% of direct (goal ≥ 90%: ${ratio >= 0.9 ? 'met' : 'MISSED'})`,
    );
  } finally {
    for (const id of cleanup) await call(podman, 'DELETE', `/v1.41/containers/${id}?force=1`).catch(() => {});
    proxy.kill('SIGTERM');
    for (const a of agents.values()) a.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
