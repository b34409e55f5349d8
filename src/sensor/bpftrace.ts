/**
 * Runs bpftrace with the Gatehouse probe script; its output is the child's stdout. Checks the
 * preconditions first (root, bpftrace installed, tracefs mounted — mounting it when it is
 * not) so a missing piece is one clear error, not a bpftrace stack of messages.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Writes the probe with its generated open filter to a private temporary file. */
function renderProbe(template: string, bounds: OpenBounds | undefined, udp: boolean): { path: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-probe-'));
  const path = join(dir, 'gatehouse.bt');
  const text = readFileSync(template, 'utf8');
  writeFileSync(path, probeWithOpenFilter(udp ? text : probeWithoutUdp(text), bounds), { mode: 0o600 });
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
  /** The last stderr lines, for an error message when bpftrace fails. */
  stderrTail(): string;
  exited: Promise<number | null>;
}

export function startBpftrace(opts: BpftraceOptions = {}): BpftraceRun {
  const bin = checkPrerequisites(opts);
  const probe = renderProbe(opts.script ?? DEFAULT_PROBE, opts.openBounds, opts.udp === true);
  const child = spawn(bin, ['-B', 'line', '-f', 'json', probe.path], {
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
    stderrTail: () => tail.filter((l) => l.trim()).join(' | '),
    exited,
  };
}
