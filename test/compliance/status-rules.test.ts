/** The per-control status rules (src/compliance/report.ts), one case each, over hand-made results. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckResult } from '../../src/findings/check-result.js';
import { evaluateControls, type CheckCatalog } from '../../src/compliance/index.js';

const r = (id: string, status: CheckResult['status']): CheckResult => ({ id, title: id, status, severity: 'LOW', evidence: [`${id} ${status}`] });
const catalog: CheckCatalog = new Map(['a', 'b', 'c'].map((id) => [id, { id, title: `check ${id}`, source: 'cluster-check' as const, origin: 'test' }]));
const control = (id: string, assessment: 'automated' | 'manual', checks: string[]) => ({ id, title: id, section: 's', assessment, checks });

test('fail > manual > pass > not-applicable, with the reason', () => {
  const results = [r('a', 'pass'), r('a', 'fail'), r('b', 'pass'), r('c', 'unknown')];
  const out = evaluateControls(
    {
      controls: [
        control('fail-even-if-manual', 'manual', ['a']),
        control('manual-with-evidence', 'manual', ['b']),
        control('unknown-is-manual', 'automated', ['b', 'c']),
        control('pass-some-not-evaluated', 'automated', ['b', 'x-never-ran']),
        control('not-applicable', 'automated', ['x-never-ran']),
        control('no-checks', 'automated', []),
      ],
    },
    results,
    catalog,
  );
  const by = Object.fromEntries(out.map((c) => [c.id, c]));
  assert.equal(by['fail-even-if-manual']!.status, 'fail');
  assert.equal(by['fail-even-if-manual']!.reason, '1 failed result(s) of a');
  assert.deepEqual(by['fail-even-if-manual']!.results.map((x) => x.status), ['fail', 'pass']);
  assert.equal(by['manual-with-evidence']!.status, 'manual');
  assert.equal(by['manual-with-evidence']!.reason, 'assessed manually; automated evidence: 1 passed result(s) of b');
  assert.equal(by['unknown-is-manual']!.status, 'manual');
  assert.match(by['unknown-is-manual']!.reason, /could not be determined automatically: c unknown/);
  assert.equal(by['pass-some-not-evaluated']!.status, 'pass');
  assert.equal(by['pass-some-not-evaluated']!.reason, '1 passed result(s) of b; not evaluated on these inputs: x-never-ran');
  assert.equal(by['not-applicable']!.status, 'not-applicable');
  assert.equal(by['no-checks']!.status, 'not-applicable');
  assert.equal(by['no-checks']!.reason, 'no automated check maps to this control');
  // A result that is itself manual or not-applicable does not count as evaluated.
  const na = evaluateControls({ controls: [control('only-na', 'automated', ['a'])] }, [r('a', 'not-applicable')], catalog);
  assert.equal(na[0]!.status, 'not-applicable');
  const man = evaluateControls({ controls: [control('only-manual', 'automated', ['a'])] }, [r('a', 'manual')], catalog);
  assert.equal(man[0]!.status, 'manual');
});

test('passes are sampled per check, failures all kept, counts complete; findings only in `findings`', () => {
  const fail = { ...r('a', 'fail'), finding: { id: 'a', kind: 'misconfiguration' as const, severity: 'LOW' as const, title: 'a', resource: {} } };
  const results = [r('a', 'pass'), r('a', 'pass'), r('a', 'pass'), fail, r('b', 'pass')];
  const [c] = evaluateControls({ controls: [control('x', 'automated', ['a', 'b'])] }, results, catalog, { passSamples: 2 });
  assert.equal(c!.checks.find((k) => k.id === 'a')!.pass, 3);
  assert.deepEqual(c!.results.map((x) => `${x.id} ${x.status}`), ['a fail', 'a pass', 'a pass', 'b pass']);
  assert.ok(c!.results.every((x) => !('finding' in x)));
  assert.deepEqual(c!.findings.map((f) => f.id), ['a']);
});
