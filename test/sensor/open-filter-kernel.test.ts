/**
 * The in-kernel open filter against its reference: the real probe (bpftrace, real kernel)
 * runs with bounds that use every kind of atom, a Python process opens ~1,500 generated
 * paths in each access mode (through ctypes, so each path sits at a chosen alignment, some
 * right before an unreadable page), and the opens that reached the sensor must be exactly
 * those `filterEmits` (runtime/rules/path-bounds.ts) says. The opens cannot change
 * anything: paths under a scratch name do not exist, and writes carry O_DIRECTORY.
 */
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Sensor } from '../../src/sensor/sensor.js';
import { filterEmits, type OpenBounds, type PathAtoms } from '../../src/runtime/rules/path-bounds.js';
import { kernelBounds } from '../../src/sensor/open-filter.js';
import { hasCommand, missing } from '../helpers/components.js';
import { rng } from '../helpers/random.js';

const isRoot = process.getuid?.() === 0;
const skip =
  missing(isRoot, 'the sensor needs root') ||
  missing(hasCommand('bpftrace'), 'bpftrace not installed (.ci/setup.d/65-bpftrace.sh)') ||
  missing(hasCommand('python3'), 'python3 not installed');

const R = '/srv/gh-open-filter';
const atoms = (a: Partial<Record<keyof PathAtoms, string[]>>): PathAtoms => ({
  exact: new Set(a.exact), prefix: new Set(a.prefix), dir: new Set(a.dir), base: new Set(a.base),
  suffix: new Set(a.suffix), contains: new Set(a.contains),
});
const BOUNDS: OpenBounds = {
  read: atoms({
    exact: ['/etc/shadow', `${R}/exact-a`, `${R}/é-ü`],
    prefix: [`${R}/pre/`, `${R}/p`, `${R}/longer-prefix-than-sixteen/`],
    dir: [`${R}/dir`, '/'],
    base: ['secret.key'],
    suffix: ['_agent', '.very_long_sfx'],
    contains: ['needle', '/deep_needle_xyz'],
  }),
  write: atoms({ exact: [`${R}/w`], dir: [`${R}/logs`], contains: ['bash_hist'], suffix: ['.log'] }),
  readwrite: 'all',
};

const O_WRONLY = 1;
const O_RDWR = 2;
const O_DIRECTORY = 0o200000;

function paths(): string[] {
  const r = rng(2026);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const word = () => pick(['a', 'b.c', 'secret.key', 'x_agent', 'needle', 'logs', 'dir', 'pre', 'é', 'deep_needle_xyz', 'bash_history', 'k.log']);
  const seeds: string[] = [];
  for (const b of [BOUNDS.read, BOUNDS.write]) {
    if (b === 'all') continue;
    for (const s of Object.values(b) as Set<string>[]) seeds.push(...s);
  }
  const out = new Set<string>(['/', '/etc/shadow', '/etc/hostname', `${R}/`, `${R}//dir/x`, `${R}/./x`, `${R}/../etc/shadow`, 'relative/secret.key', './x']);
  // around the 200-byte limit; distinct first letters keep their 199-byte prefixes apart
  for (const [i, len] of [198, 199, 200, 201, 230].entries()) out.add(`${R}/${'ABCDE'[i]}${'L'.repeat(len - R.length - 2)}`);
  while (out.size < 1500) {
    const s = pick(seeds).replace(/^\/srv\/gh-open-filter/, R);
    const abs = s.startsWith('/') ? s : `${R}/${s}`;
    switch (Math.floor(r() * 10)) {
      case 0: out.add(abs); break;
      case 1: out.add(`${abs}${word()}`); break;
      case 2: out.add(`${abs}/${word()}`); break;
      case 3: out.add(`${R}/${word()}/${s.replace(/^\//, '')}`); break;
      case 4: out.add(`${R}/${word()}${s.replace(/^\//, '')}`); break;
      case 5: out.add(`${abs.slice(0, Math.max(1, Math.floor(r() * abs.length)))}`); break;
      case 6: out.add(`/${word()}`); break;
      case 7: out.add(`${R}/${word()}/${word()}`); break;
      case 8: out.add(`${abs}${word()}`.replace(/\/[^/]*$/, `/${word()}${word()}`)); break;
      default: out.add(`${R}/${'x'.repeat(Math.floor(r() * 40))}${word()}`);
    }
  }
  return [...out];
}

// Opens each (path, flags) with the path copied to a chosen offset: offsets 0-7 from an
// 8-byte boundary, and every 50th path ending right before a PROT_NONE page.
const OPENER = String.raw`
import ctypes, json, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.open.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
page = mmap.PAGESIZE
area = mmap.mmap(-1, 2 * page)
base = ctypes.addressof(ctypes.c_char.from_buffer(area))
libc.mprotect(ctypes.c_void_p(base + page), page, 0)
buf = ctypes.create_string_buffer(4096)
buf_at = ctypes.addressof(buf)
jobs = json.loads(sys.stdin.readline())
print(os.getpid(), flush=True)
sys.stdin.readline()
for i, (path, flags) in enumerate(jobs):
    b = path.encode() + b'\0'
    if i % 50 == 0 and len(b) <= page:
        addr = base + page - len(b)
        ctypes.memmove(addr, b, len(b))
    else:
        addr = ((buf_at + 7) & ~7) + (i % 8)
        ctypes.memmove(addr, b, len(b))
    fd = libc.open(ctypes.c_void_p(addr), flags, 0)
    if fd >= 0:
        os.close(fd)
print('done', flush=True)
`;

describe('in-kernel open filter = its reference model', { skip, timeout: 600_000 }, () => {
  const list = paths();
  const jobs: Array<[string, number]> = [];
  for (const p of list) for (const f of [0, O_WRONLY | O_DIRECTORY, O_RDWR | O_DIRECTORY, 3 | O_DIRECTORY]) jobs.push([p, f]);
  const seen = new Set<string>();
  let sensor: Sensor | undefined;
  let openerPid = -1;

  before(async () => {
    sensor = await Sensor.start({ openBounds: BOUNDS });
    const s = sensor;
    const opener = spawn('python3', ['-c', OPENER], { stdio: ['pipe', 'pipe', 'inherit'] });
    opener.stdin.write(`${JSON.stringify(jobs)}\n`);
    let out = '';
    const lines = new Promise<void>((resolve) => {
      opener.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (openerPid < 0 && out.includes('\n')) {
          openerPid = Number(out.split('\n')[0]);
          opener.stdin.write('go\n');
        }
        if (out.includes('done')) resolve();
      });
    });
    const consume = (async () => {
      for await (const ev of s.events()) {
        if (ev['proc.pid'] !== openerPid || !String(ev['evt.type']).startsWith('open')) continue;
        seen.add(`${ev['evt.rawarg.flags']}\t${ev['fd.nameraw']}`);
      }
    })();
    await lines;
    await new Promise((r) => setTimeout(r, 1500));
    await s.stop();
    await consume;
  });

  after(async () => {
    await sensor?.stop();
  });

  it('lets through exactly the opens the model emits, in every access mode and alignment', () => {
    const model = kernelBounds(BOUNDS);
    const wrong: string[] = [];
    let emitted = 0;
    for (const [path, flags] of jobs) {
      const want = filterEmits(model, path, flags);
      // the sensor keeps 199 bytes of a string (bpftrace's limit)
      const got = seen.has(`${flags}\t${Buffer.from(path).subarray(0, 199).toString()}`);
      if (want) emitted++;
      if (want !== got) wrong.push(`${want ? 'missing' : 'extra'}: ${JSON.stringify(path)} flags=${flags.toString(8)}`);
    }
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} of ${jobs.length} opens disagree`);
    // both outcomes are well represented
    assert.ok(emitted > jobs.length * 0.3 && emitted < jobs.length * 0.9, `${emitted} of ${jobs.length} emitted`);
  });
});
