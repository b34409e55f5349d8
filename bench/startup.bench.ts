/**
 * bench:startup — how long a command takes before it does any work, from the built CLI
 * (`npm ci` builds it through `prepare`; `npm run build` does too). Floor: `node -e 0`,
 * measured in the same run. Goal: `gatehouse --version` ≤ 300 ms.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}bin/gatehouse.mjs`;
const RUNS = Number(process.env.RUNS ?? 15);
const GOAL_MS = 300;

if (!existsSync(`${root}dist/cli/main.js`)) {
  console.error('bench:startup measures the built CLI: run `npm run build` first (npm ci does it through prepare)');
  process.exit(2);
}

function time(args: string[], env: NodeJS.ProcessEnv = {}): { p50: number; p90: number } {
  const ms: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { env: { ...process.env, GATEHOUSE_FROM_SOURCE: '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    const t = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    if (i >= 2) ms.push(t); // two warm-up runs fill the page cache
  }
  ms.sort((a, b) => a - b);
  return { p50: ms[Math.floor(ms.length / 2)]!, p90: ms[Math.floor(ms.length * 0.9)]! };
}

const floor = time(['-e', '0']);
const rows: [string, { p50: number; p90: number }, number | undefined][] = [
  ['node -e 0 (floor)', floor, undefined],
  ['gatehouse --version', time([bin, '--version']), GOAL_MS],
  ['gatehouse image --help', time([bin, 'image', '--help']), undefined],
  ['gatehouse --help (every group)', time([bin, '--help']), undefined],
  ['gatehouse --version from source (tsx)', time([bin, '--version'], { GATEHOUSE_FROM_SOURCE: '1' }), undefined],
];
console.log(`bench:startup — ${RUNS} runs each, wall time`);
for (const [name, t, goal] of rows) {
  const verdict = goal === undefined ? '' : t.p50 <= goal ? `  goal ≤ ${goal} ms: PASS` : `  goal ≤ ${goal} ms: MISS`;
  console.log(`${name.padEnd(40)} p50 ${t.p50.toFixed(0).padStart(5)} ms  p90 ${t.p90.toFixed(0).padStart(5)} ms  ${(t.p50 / floor.p50).toFixed(1)}× floor${verdict}`);
}
