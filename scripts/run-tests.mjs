#!/usr/bin/env node
// Collects every *.test.ts under test/ and src/ and hands them to node's test runner
// (Node 20's --test does not expand globs or pick up .ts files by itself).
// Usage: node scripts/run-tests.mjs [--fast] [path-filter...]
//   --fast  only tests that need no external component (files under test/unit/ or src/)
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const fast = args.includes('--fast');
const filters = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

let files = [...walk(join(root, 'test'), []), ...walk(join(root, 'src'), [])].sort();
if (fast) files = files.filter((f) => f.startsWith('src/') || f.startsWith('test/unit/'));
if (filters.length) files = files.filter((f) => filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.GATEHOUSE_TEST_CONCURRENCY ?? '3';
const res = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', cwd: root, env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1' } },
);
process.exit(res.status ?? 1);
