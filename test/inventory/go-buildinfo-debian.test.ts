/**
 * Go binaries as Debian ships them (built with cgo, linked by the external linker, so
 * `.go.buildinfo` lies ~100 KB into the data segment, after `.data`): podman, runc,
 * skopeo, umoci, docker-registry and podman's rootlessport (installed by
 * .ci/setup.d/10-packages.sh), plus any other Go binary `go version` finds in the system
 * directories. For each one the binary analyzer, streaming the real file, must list the
 * main module, the Go version and every dependency as `go version -m` does.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { binaryAnalyzer } from '../../src/inventory/analyzers/binary.js';
import { readGoBuildInfo, type GoBuildInfo } from '../../src/inventory/analyzers/gobinary.js';
import { StreamCursor } from '../../src/inventory/streams.js';
import type { FileEntry } from '../../src/image/files.js';
import type { Package } from '../../src/inventory/index.js';
import { hasCommand, missing } from '../helpers/components.js';
import { key, run, sorted } from './helpers.js';

const goCmd = hasCommand('go') ? 'go' : existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
/** From Debian packages 10-packages.sh installs; each one is built with CGO_ENABLED=1. */
const DEBIAN = ['/usr/bin/podman', '/usr/sbin/runc', '/usr/bin/skopeo', '/usr/bin/umoci', '/usr/bin/docker-registry', '/usr/lib/podman/rootlessport'];
const DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/lib/podman', '/usr/libexec/podman'];
const haveDebian = DEBIAN.every((f) => existsSync(f));

interface GoVersionM {
  goVersion: string;
  cgo: boolean;
  /** The lines after the first, as `go version -m` prints them (tab-separated fields). */
  lines: string[];
  /** Packages: main module, deps (replacements applied), stdlib. */
  want: string[];
  mainModules: number;
}

function goVersionM(file: string): GoVersionM {
  const lines = run(goCmd!, ['version', '-m', file]).split('\n');
  const goVersion = lines[0].slice(lines[0].indexOf(': ') + 2).trim();
  const rest = lines.slice(1).map((l) => l.replace(/^\t/, '')).filter((l) => l !== '');
  const want: string[] = [];
  let cgo = false;
  let mainModules = 0;
  for (const l of rest) {
    const f = l.split('\t');
    if (f[0] === 'mod') mainModules++;
    if (f[0] === 'mod' || f[0] === 'dep') want.push(`${f[1]}@${f[2] ?? ''}`);
    if (f[0] === '=>') want[want.length - 1] = `${f[1]}@${f[2] ?? ''}`;
    if (f[0] === 'build' && f[1] === 'CGO_ENABLED=1') cgo = true;
  }
  const std = /^go(\d+\.\d+(?:\.\d+)?)/.exec(goVersion)?.[1];
  if (std) want.push(`stdlib@${std}`);
  return { goVersion, cgo, lines: rest, want, mainModules };
}

/** Gatehouse's parsed build info, printed back in `go version -m`'s line format. */
function asLines(info: GoBuildInfo): string[] {
  const out: string[] = [];
  if (info.path !== undefined) out.push(`path\t${info.path}`);
  if (info.main) out.push(`mod\t${info.main.path}\t${info.main.version}`);
  for (const d of info.deps) out.push(`dep\t${d.path}\t${d.version}`);
  for (const [k, v] of Object.entries(info.settings)) out.push(`build\t${k}=${v}`);
  return out;
}

/** `go version -m` lines reduced to what asLines can say (replacements applied, no sums). */
function comparable(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const f = l.split('\t');
    if (f[0] === '=>') out[out.length - 1] = `dep\t${f[1]}\t${f[2] ?? ''}`;
    else if (f[0] === 'mod' || f[0] === 'dep') out.push(`${f[0]}\t${f[1]}\t${f[2] ?? ''}`);
    else out.push(l);
  }
  return out;
}

async function analyze(file: string): Promise<{ packages: Package[]; warning?: string }> {
  const st = statSync(file);
  const content = createReadStream(file);
  try {
    const entry: FileEntry = { path: file, type: 'file', size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, layer: -1 };
    assert.ok(binaryAnalyzer.wants(file, entry), `${file}: not taken by the binary analyzer`);
    const r = await binaryAnalyzer.visit({ path: file, entry, content });
    return { packages: r?.packages ?? [], warning: r?.warning };
  } finally {
    content.destroy();
  }
}

/** Every Go binary `go version` reports in the system directories (realpaths, deduplicated). */
function goBinariesOnMachine(): string[] {
  const dirs = DIRS.filter((d) => existsSync(d));
  const r = spawnSync(goCmd!, ['version', ...dirs], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  const found = new Set<string>();
  for (const l of r.stdout.split('\n')) {
    const at = l.indexOf(': go');
    if (at > 0) found.add(realpathSync(l.slice(0, at)));
  }
  return [...found].sort();
}

describe('Go binaries Debian ships (cgo, external linker)', {
  skip: missing(goCmd !== undefined, 'go toolchain (.ci/setup.d)') || missing(haveDebian, `Debian's Go binaries (${DEBIAN.join(', ')}; bash .ci/setup.d/10-packages.sh)`),
}, () => {
  test('the Debian set is found by `go version` and built with cgo', () => {
    const found = goBinariesOnMachine();
    for (const f of DEBIAN) {
      assert.ok(found.includes(realpathSync(f)), `${f} not reported by go version`);
      assert.ok(goVersionM(f).cgo, `${f}: expected a CGO_ENABLED=1 build`);
    }
  });

  for (const file of DEBIAN) {
    test(`${file}: modules and Go version equal \`go version -m\``, async () => {
      const ref = await compare(file);
      // Debian builds these in GOPATH mode: no module lines, but the package path and the
      // build settings (compared above) are there.
      assert.ok(ref.lines.some((l) => l.startsWith('path\t')), `${file}: go version -m printed no path`);
    });
  }

  test('every other Go binary on the machine equals `go version -m`', async () => {
    const debian = new Set(DEBIAN.map((f) => realpathSync(f)));
    for (const file of goBinariesOnMachine().filter((f) => !debian.has(f))) await compare(file);
  });
});

async function compare(file: string): Promise<GoVersionM> {
  const ref = goVersionM(file);
  // The build info itself: path, main module, deps and every build setting.
  const content = createReadStream(file);
  const cur = new StreamCursor(content);
  let info: GoBuildInfo | undefined;
  try {
    info = await readGoBuildInfo(cur);
  } finally {
    cur.close();
    content.destroy();
  }
  assert.ok(info, `${file}: no Go build info found`);
  assert.equal(info.goVersion, ref.goVersion, file);
  assert.deepEqual(sorted(asLines(info)), sorted(comparable(ref.lines)), file);
  // The packages the binary analyzer lists from it.
  const { packages, warning } = await analyze(file);
  assert.equal(warning, undefined, `${file}: ${warning}`);
  const got = packages.filter((p) => p.analyzer === 'gobinary');
  assert.deepEqual(sorted(got.map(key)), sorted(ref.want), file);
  assert.equal(got.filter((p) => p.metadata?.mainModule === true).length, ref.mainModules, `${file}: main module`);
  for (const p of got) {
    assert.equal(p.ecosystem, 'Go');
    assert.equal(p.metadata?.goVersion, ref.goVersion, `${file}: ${p.name}`);
  }
  return ref;
}
