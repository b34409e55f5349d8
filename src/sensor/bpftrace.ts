/**
 * Runs bpftrace with the Gatehouse probe script; its output is the child's stdout. Checks the
 * preconditions first (root, bpftrace installed, tracefs mounted — mounting it when it is
 * not) so a missing piece is one clear error, not a bpftrace stack of messages.
 *
 * Output: `-f text -B full` by default. bpftrace 0.17's JSON output escapes every printf
 * byte by byte through an ostringstream and flushes after each record (one write(2) per
 * record and part); as text, with stdio filling its buffer before a write, it costs a
 * fraction of that per record (docs/notes/runtime-hotpath.md, session 6). Text output is
 * framed by a per-run random terminator (see output-reader.ts); the probe's per-CPU
 * heartbeats flush the buffer, so a record waits at most one heartbeat period in it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { OpenBounds } from '../runtime/rules/path-bounds.js';
import { UserError } from '../util/errors.js';
import { probeWithOpenFilter } from './open-filter.js';

export const DEFAULT_PROBE = fileURLToPath(new URL('./probes/gatehouse.bt', import.meta.url));
export const TRACEFS = '/sys/kernel/tracing';

export interface BpftraceOptions {
  bpftrace?: string;
  script?: string;
  tracefs?: string;
  /** Opens that may leave the kernel (default: DEFAULT_OPEN_BOUNDS); see open-filter.ts. */
  openBounds?: OpenBounds;
  /** Attach the UDP first-packet programs (network flows); without it they are left out of the probe. */
  udp?: boolean;
  /** bpftrace's output format (default text; json is what sessions before 6 used). */
  format?: 'text' | 'json';
  /** stdio buffering of bpftrace's output (default full for text, line for json). */
  buffering?: 'full' | 'line';
  /** How often (per second) each CPU reports its clock while records flow (default: heartbeatHz()). */
  heartbeatHz?: number;
}

/**
 * Heartbeats per CPU per second: 100 (a record waits at most ~10 ms for the other CPUs) on
 * small machines, fewer on large ones so that all CPUs together send at most ~1600 per
 * second while records flow (none while the probe emits nothing).
 */
export function heartbeatHz(cpus = availableParallelism()): number {
  return Math.max(10, Math.min(100, Math.floor(1600 / Math.max(1, cpus))));
}

const EOR_MARKER = '@EOR@';
const HEARTBEAT_HZ_MARKER = '@HEARTBEAT_HZ@';

/** Fills the probe's placeholders: the record terminator (text output) and the heartbeat rate. */
export function probeWithOutput(text: string, recordEnd: string, hz: number): string {
  if (!Number.isInteger(hz) || hz < 1 || hz > 1000) throw new UserError(`heartbeat rate must be an integer from 1 to 1000 per second, got ${hz}`, 'bad-heartbeat');
  // the terminator goes inside bpftrace string literals: \x escapes keep it printable there
  const lit = [...recordEnd].map((c) => (c < ' ' ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('');
  return text.split(EOR_MARKER).join(lit).split(HEARTBEAT_HZ_MARKER).join(String(hz));
}

/** A terminator nobody outside the sensor can predict: \x1e and 16 random hex digits. */
export function newRecordEnd(): string {
  return `\x1e${randomBytes(8).toString('hex')}`;
}

export const UDP_BEGIN_MARKER = '/*@udp-begin*/';
export const UDP_END_MARKER = '/*@udp-end*/';

/** The probe without its UDP first-packet part (between the markers), when flows are off. */
export function probeWithoutUdp(text: string): string {
  const a = text.indexOf(UDP_BEGIN_MARKER);
  const b = text.indexOf(UDP_END_MARKER);
  if (a < 0 || b < a) return text;
  return text.slice(0, a) + text.slice(b + UDP_END_MARKER.length);
}

/**
 * Writes the probe with its generated open filter to a private temporary file (root's,
 * mode 0600: the record terminator in it is what keeps traced processes from forging records).
 */
function renderProbe(template: string, bounds: OpenBounds | undefined, udp: boolean, recordEnd: string, hz: number): { path: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-probe-'));
  const path = join(dir, 'gatehouse.bt');
  const text = readFileSync(template, 'utf8');
  writeFileSync(path, probeWithOutput(probeWithOpenFilter(udp ? text : probeWithoutUdp(text), bounds), recordEnd, hz), { mode: 0o600 });
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Throws a UserError naming what is missing to run the probe. */
export function checkPrerequisites(opts: BpftraceOptions = {}): string {
  const bin = opts.bpftrace ?? 'bpftrace';
  const tracefs = opts.tracefs ?? TRACEFS;
  if (process.getuid && process.getuid() !== 0) throw new UserError('gatehouse sensor needs root (it loads eBPF programs)', 'not-root');
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', bin], { encoding: 'utf8' });
  if (found.status !== 0 || !found.stdout.trim()) {
    throw new UserError(`bpftrace not found (${bin}): install it (Debian: apt-get install bpftrace)`, 'bpftrace-missing');
  }
  if (!existsSync(`${tracefs}/events`)) {
    const m = spawnSync('mount', ['-t', 'tracefs', 'nodev', tracefs], { encoding: 'utf8' });
    if (m.status !== 0 || !existsSync(`${tracefs}/events`)) {
      const why = (m.stderr || m.error?.message || '').trim().split('\n')[0];
      throw new UserError(`tracefs is not available at ${tracefs} (mount -t tracefs nodev ${tracefs} failed${why ? `: ${why}` : ''})`, 'tracefs-missing');
    }
  }
  const script = opts.script ?? DEFAULT_PROBE;
  if (!existsSync(script)) throw new UserError(`probe script not found: ${script}`, 'probe-missing');
  return found.stdout.trim();
}

export interface BpftraceRun {
  child: ChildProcess;
  /** What ends each text record before its \n ('' with JSON output): see output-reader.ts. */
  recordEnd: string;
  /** The last stderr lines, for an error message when bpftrace fails. */
  stderrTail(): string;
  exited: Promise<number | null>;
}

export function startBpftrace(opts: BpftraceOptions = {}): BpftraceRun {
  const bin = checkPrerequisites(opts);
  const format = opts.format ?? 'text';
  const buffering = opts.buffering ?? (format === 'text' ? 'full' : 'line');
  const recordEnd = format === 'text' ? newRecordEnd() : '';
  const probe = renderProbe(opts.script ?? DEFAULT_PROBE, opts.openBounds, opts.udp === true, recordEnd, opts.heartbeatHz ?? heartbeatHz());
  const child = spawn(bin, ['-B', buffering, '-f', format, probe.path], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // 1024 pages (4 MiB) of perf ring per CPU absorb bursts while the reader catches up
    env: { BPFTRACE_PERF_RB_PAGES: '1024', ...process.env, BPFTRACE_STRLEN: '200' },
  });
  const tail: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => {
    // bpftrace warns about RLIMIT_MEMLOCK even when loading works; keep only real errors
    if (/RLIMIT_MEMLOCK/.test(l)) return;
    tail.push(l);
    if (tail.length > 20) tail.shift();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    probe.dispose();
    resolve(code);
  }));
  child.on('error', () => undefined);
  return {
    child,
    recordEnd,
    stderrTail: () => tail.filter((l) => l.trim()).join(' | '),
    exited,
  };
}
