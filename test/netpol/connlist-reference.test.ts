/**
 * Differential test against np-guard's own expected outputs: every case under
 * ../shared/reference/netpol-analyzer/tests that has a `<case>_connlist_output.txt`, plus the
 * focus-workload variants (focus-cases.json). Cases we cannot match yet are listed with a
 * reason in connlist-known-gaps.json; the test asserts that exactly those fail, so fixing
 * one (or breaking another) shows up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connlistFromPaths, parseFocusConn } from '../../src/kube/netpol/index.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const ref = join(repoRoot, '..', 'shared', 'reference', 'netpol-analyzer');
const here = fileURLToPath(new URL('.', import.meta.url));
const knownGaps: Record<string, string> = JSON.parse(readFileSync(join(here, 'connlist-known-gaps.json'), 'utf8'));
const focusCases: { expected: string; dir: string; workloads: string[]; peers?: string[]; direction?: 'ingress' | 'egress'; conn?: string }[] =
  JSON.parse(readFileSync(join(here, 'focus-cases.json'), 'utf8'));

interface Case {
  name: string;
  dir: string;
  expectedFile: string;
  focus?: { workloads: string[]; peers?: string[]; direction?: 'ingress' | 'egress'; conn?: ReturnType<typeof parseFocusConn> };
}

function allCases(): Case[] {
  const cases: Case[] = [];
  for (const dir of readdirSync(join(ref, 'tests')).sort()) {
    const expectedFile = join(ref, 'test_outputs', 'connlist', `${dir}_connlist_output.txt`);
    if (existsSync(expectedFile)) cases.push({ name: dir, dir, expectedFile });
  }
  for (const f of focusCases) {
    cases.push({
      name: f.expected,
      dir: f.dir,
      expectedFile: join(ref, 'test_outputs', 'connlist', `${f.expected}_connlist_output.txt`),
      focus: { workloads: f.workloads, peers: f.peers, direction: f.direction, conn: f.conn ? parseFocusConn(f.conn) : undefined },
    });
  }
  return cases;
}

test('connlist txt output equals np-guard for every reference case except the listed gaps', { skip: !existsSync(ref) && process.env.CI !== 'true' ? 'reference data not present' : false }, async () => {
  const cases = allCases();
  assert.ok(cases.length >= 159, `expected the full reference corpus, found ${cases.length} cases`);
  const failing: string[] = [];
  const passing: string[] = [];
  for (const c of cases) {
    let got: string;
    try {
      got = await connlistFromPaths([join(ref, 'tests', c.dir)], 'txt', c.focus ?? {});
    } catch (e) {
      got = `error: ${(e as Error).message}`;
    }
    const want = readFileSync(c.expectedFile, 'utf8');
    if (got.trimEnd() === want.trimEnd()) passing.push(c.name);
    else failing.push(c.name);
  }
  for (const gap of Object.keys(knownGaps)) {
    assert.ok(cases.some((c) => c.name === gap), `known-gap entry ${gap} is not a reference case`);
  }
  const unexpectedFailures = failing.filter((n) => !(n in knownGaps));
  const fixedGaps = passing.filter((n) => n in knownGaps);
  assert.deepEqual(unexpectedFailures, [], 'cases that should match np-guard but do not');
  assert.deepEqual(fixedGaps, [], 'cases now matching np-guard: remove them from connlist-known-gaps.json');
  assert.ok(passing.length >= 100, `only ${passing.length} cases match`);
});

test('connlist json output equals np-guard json for every matched case that has one', { skip: !existsSync(ref) && process.env.CI !== 'true' ? 'reference data not present' : false }, async () => {
  let compared = 0;
  for (const c of allCases()) {
    const jsonFile = c.expectedFile.replace(/\.txt$/, '.json');
    if (c.name in knownGaps || !existsSync(jsonFile)) continue;
    type Row = { src: string; dst: string; conn: string };
    const got: Row[] = JSON.parse(await connlistFromPaths([join(ref, 'tests', c.dir)], 'json', c.focus ?? {}));
    const want: Row[] = JSON.parse(readFileSync(jsonFile, 'utf8'));
    // np-guard sorts by (src, dst) with Go's unstable sort: the order of rows with equal
    // src and dst (one pair on several networks) is arbitrary, so compare those as sets.
    const key = (r: Row) => `${r.src}\t${r.dst}\t${r.conn}`;
    const byPair = (a: Row, b: Row) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
    assert.deepEqual([...got].sort(byPair), [...want].sort(byPair), c.name);
    got.forEach((r, i) => {
      if (i > 0) assert.ok(`${got[i - 1]!.src}\t${got[i - 1]!.dst}` <= `${r.src}\t${r.dst}`, `${c.name}: rows not sorted by src, dst`);
    });
    compared++;
  }
  assert.ok(compared >= 30, `only ${compared} json cases compared`);
});
