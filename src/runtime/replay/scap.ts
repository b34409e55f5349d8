/**
 * Replays a .scap capture through Debian's sysdig: `sysdig -r FILE -j -p "*%f1 %f2 …"`
 * prints every event (the leading `*`) with every field Gatehouse's registry and sysdig
 * both know, which fromSysdig() maps to the event model.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { UserError } from '../../util/errors.js';
import type { RuntimeEvent } from '../event.js';
import { fieldRegistry } from '../rules/fields.js';
import { fromSysdig } from './sysdig.js';

/** Syscall argument names the stable rules read through evt.arg.NAME. */
const ARG_NAMES = ['name', 'flags', 'path', 'oldpath', 'newpath', 'target', 'linkpath', 'uid', 'request', 'mode', 'domain', 'cmd', 'filename', 'fd', 'res', 'type', 'dirfd', 'pid', 'addr', 'tuple'];
/** Fields sysdig 0.29 cannot print (filter-only, or it aborts on some events); derived here instead. */
const SYSDIG_BROKEN = new Set(['fd.ip', 'fd.port', 'fd.net', 'evt.rawarg', 'evt.arg', 'container.mount.dest', 'proc.aname', 'proc.apid', 'proc.env', 'k8s.pod.label', 'container.label', 'evt.buffer']);
const ANCESTORS = 6;

let cachedFields: string[] | undefined;

function sysdigAvailable(): boolean {
  return spawnSync('sysdig', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The -p field list: registry ∩ `sysdig -l`, plus ancestors and common arguments. */
export function sysdigFieldList(): string[] {
  if (cachedFields) return cachedFields;
  const res = spawnSync('sysdig', ['-l'], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (res.status !== 0) throw new UserError('sysdig -l failed: cannot list sysdig fields', 'sysdig');
  const known = new Set(res.stdout.match(/^[a-z0-9_]+(?:\.[a-z0-9_]+)+/gm) ?? []);
  const fields = fieldRegistry
    .all()
    .filter((d) => !d.prefix && d.type !== 'ipnet' && d.arg !== 'required' && known.has(d.name) && !SYSDIG_BROKEN.has(d.name))
    .map((d) => d.name);
  for (let i = 1; i <= ANCESTORS; i++) fields.push(`proc.aname[${i}]`, `proc.apid[${i}]`);
  for (const a of ARG_NAMES) fields.push(`evt.arg.${a}`);
  cachedFields = fields;
  return fields;
}

export async function* readScap(path: string, filter?: string): AsyncGenerator<RuntimeEvent> {
  if (!existsSync(path)) throw new UserError(`capture file not found: ${path}`, 'not-found');
  if (!sysdigAvailable()) throw new UserError('replaying a .scap capture needs sysdig (Debian package "sysdig")', 'missing-tool');
  const format = `*${sysdigFieldList().map((f) => `%${f}`).join(' ')}`;
  const args = ['-r', path, '-j', '-p', format, ...(filter ? [filter] : [])];
  const child = spawn('sysdig', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString('utf8');
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
  const rl = createInterface({ input: child.stdout, crlfDelay: Infinity });
  for await (const line of rl) {
    if (!line.startsWith('{')) continue;
    yield fromSysdig(JSON.parse(line) as Record<string, unknown>);
  }
  const code = await exited;
  if (code !== 0) throw new UserError(`sysdig failed on ${path}: ${stderr.trim().split('\n')[0] ?? `exit ${code}`}`, 'sysdig');
}
