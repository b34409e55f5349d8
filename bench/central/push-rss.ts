/**
 * `node --import tsx bench/central/push-rss.ts [N] [--entry main.js] [--env K=V]…`: Central's RSS
 * under image pushes alone, without bench:central's 15,000 seeded deployments (minutes of set-up):
 * an empty Central (compiled, as bench:central runs it, or the entry given), N whole pushes as an
 * old client sends them, then N pushes each with a component list never seen (409, then whole),
 * then N by address with the list in Central. After each row: VmRSS, VmHWM and the process's
 * anonymous memory by kind of mapping (/proc/PID/smaps: V8's 256 KB pages, glibc's arenas,
 * the brk heap), so what grows is named. `--env K=V` sets Central's environment (MALLOC_ARENA_MAX…)
 * for before/after pairs.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addressedImageReport } from '../../src/central/client/ingest-types.js';
import { cachedPath, cacheHas } from '../../test/helpers/components.js';
import { compiledCli } from '../compiled-cli.js';
import { buildImageFixture, ingestReport } from './fixtures.js';

const args = process.argv.slice(2);
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? 600);
const flag = (name: string) => args.flatMap((a, i) => (a === name && args[i + 1] !== undefined ? [args[i + 1]!] : []));
const entry = flag('--entry')[0] ?? compiledCli();
/** --node FLAG: a flag for Central's node (--trace-gc, --max-semi-space-size=…). */
const nodeFlags = flag('--node');
/** --log FILE: Central's stdout and stderr there (with `--node --trace-gc`, each isolate's heap over time). */
const logTo = flag('--log')[0];
const extraEnv = Object.fromEntries(flag('--env').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const root = join(import.meta.dirname, '..', '..');

/** RSS of a process's mappings by kind, in MB (see the file comment). */
function memoryOf(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  const kinds = new Map<string, number>();
  let kind = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const size = (parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1024;
      const name = m[3]!;
      kind = name === '[heap]' ? 'brk' : name.startsWith('/') ? 'files' : name ? 'other' : size === 256 ? 'v8-256k' : size >= 32768 && size <= 65536 ? 'arena' : 'anon';
      continue;
    }
    const r = /^Rss:\s+(\d+)/.exec(line);
    if (r) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(r[1]));
  }
  const parts = [...kinds].filter(([, v]) => v > 1024).map(([k, v]) => `${k} ${(v / 1024).toFixed(0)}`).join(', ');
  return `RSS ${(kb('VmRSS') / 1024).toFixed(0)} MB (peak ${(kb('VmHWM') / 1024).toFixed(0)}; ${parts}), threads ${kb('Threads')}`;
}

function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

if (!cacheHas('oci', 'index.json')) {
  console.log('push-rss skipped: test images not built (bash .ci/setup.d/40-test-images.sh)');
} else {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-push-rss-'));
  const fx = await buildImageFixture(cachedPath('oci'), join(root, '..', 'shared', 'vulndata', 'pypa', 'vulns'), work);
  const token = randomBytes(32).toString('hex');
  const port = await freePort();
  const logFd = logTo ? openSync(logTo, 'w') : 'ignore';
  const central = spawn(process.execPath, [...nodeFlags, entry, 'server', '--insecure-http', '--listen', `127.0.0.1:${port}`, '--data-dir', join(work, 'data'), '--no-local-sources'], {
    env: { ...process.env, ...extraEnv, GATEHOUSE_ADMIN_TOKEN: token, GATEHOUSE_DB: join(work, 'no-vuln.db') }, stdio: ['ignore', logFd, logFd],
  });
  if (typeof logFd === 'number') closeSync(logFd);
  const url = `http://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  try {
    for (;;) {
      if (central.exitCode !== null) throw new Error('Central exited at start');
      try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = central.pid!;
    console.log(`push-rss: ${N} pushes a row, Central ${entry}${Object.keys(extraEnv).length ? ` with ${JSON.stringify(extraEnv)}` : ''}`);
    console.log(`  started:                    ${memoryOf(pid)}`);
    const post = async (body: string) => {
      const r = await fetch(`${url}/api/v1/ingest/images`, { method: 'POST', headers, body });
      return { status: r.status, text: await r.text() };
    };
    const row = async (label: string, make: (k: number) => { addressed?: string; whole: string }) => {
      let next = 0;
      const cpu0 = cpuSecondsOf(pid);
      await Promise.all(Array.from({ length: 4 }, async () => {
        while (next < N) {
          const p = make(next++);
          let r = p.addressed ? await post(p.addressed) : undefined;
          if (!r || r.status === 409) r = await post(p.whole);
          if (r.status !== 200) throw new Error(`${label}: ${r.status} ${r.text.slice(0, 200)}`);
        }
      }));
      await new Promise((r) => setTimeout(r, 1000));
      console.log(`  after ${label.padEnd(21)} ${memoryOf(pid)}; ${((cpuSecondsOf(pid) - cpu0) / N * 1000).toFixed(1)} ms CPU a push`);
    };
    await row('whole bodies:', (k) => ({ whole: JSON.stringify(ingestReport(fx, 15_000, 'rss-whole', k)) }));
    await row('every list new:', (k) => {
      const r = ingestReport(fx, 15_000, 'rss-new', k, true);
      return { addressed: JSON.stringify(addressedImageReport(r)), whole: JSON.stringify(r) };
    });
    await row('by address, known:', (k) => {
      const r = ingestReport(fx, 15_000, 'rss-known', k);
      return { addressed: JSON.stringify(addressedImageReport(r)), whole: JSON.stringify(r) };
    });
  } finally {
    central.kill('SIGTERM');
    await new Promise((r) => central.once('exit', r));
    rmSync(work, { recursive: true, force: true });
  }
}
