/**
 * The CLI as an install runs it: compiled by `tsc -p tsconfig.build.json`, which is what
 * `npm ci` (the `prepare` script) and the container image (deploy/container) run. From source,
 * tsx compiles every module in every thread at start and keeps the output, which adds CPU and
 * ~100 MB of RSS per worker that no installed Central has.
 *
 * Built once per source tree into a cache outside the checkout: a dist/ inside it would make
 * bin/gatehouse.mjs, and so every test, run compiled code that may be stale.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function filesUnder(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) filesUnder(p, out);
    else out.push(p);
  }
  return out;
}

/** Hash of everything the build reads: sources, their data files and the compiler settings. */
function sourceHash(): string {
  const h = createHash('sha256');
  for (const f of [...filesUnder(join(ROOT, 'src')), join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json'), join(ROOT, 'package-lock.json')]) {
    h.update(relative(ROOT, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/**
 * The path of the compiled CLI's entry (`node <path> server …`), building it first when this
 * source tree has not been built yet (~1–2 min on this machine).
 */
export function compiledCli(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'gatehouse-bench', `cli-${sourceHash()}`);
  const entry = join(cache, 'dist', 'cli', 'main.js');
  if (existsSync(entry)) return entry;
  log(`building the CLI into ${cache} (tsc -p tsconfig.build.json)…`);
  const building = `${cache}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(building, 'dist')], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (tsc.status !== 0) throw new Error(`tsc failed: ${(tsc.stdout + tsc.stderr).trim().split('\n').slice(0, 5).join(' | ')}`);
  // What scripts/copy-assets.mjs copies for `npm run build`: the data files beside the code.
  for (const f of filesUnder(join(ROOT, 'src'))) {
    if (/\.(ts|tsx)$/.test(f)) continue;
    const target = join(building, 'dist', relative(join(ROOT, 'src'), f));
    mkdirSync(dirname(target), { recursive: true });
    cpSync(f, target);
  }
  // Resolved from dist/ as from an install: packages, the policy packs, the console, "type".
  cpSync(join(ROOT, 'package.json'), join(building, 'package.json'));
  for (const name of ['node_modules', 'policies', 'web']) symlinkSync(join(ROOT, name), join(building, name));
  pruneOldBuilds(dirname(cache));
  // Another bench may have built the same tree meanwhile and be running from it: keep its copy.
  if (existsSync(entry)) rmSync(building, { recursive: true, force: true });
  else {
    rmSync(cache, { recursive: true, force: true });
    renameSync(building, cache);
  }
  return entry;
}

/** Builds of other trees untouched for a day (~8 MB each): no bench still runs from them. */
function pruneOldBuilds(dir: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name.startsWith('cli-') && statSync(p).mtimeMs < dayAgo) rmSync(p, { recursive: true, force: true });
  }
}
