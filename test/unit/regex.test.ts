/** compileRegex: its string fast path gives RE2's answers (differential over generated patterns and inputs). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RE2JS } from 're2js';
import { compileRegex } from '../../src/util/regex.js';

function rng(seed: number) {
  return () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

test('literal, anchored and alternation patterns match exactly as RE2 (find and full match)', () => {
  const rand = rng(15);
  const atoms = ['a', 'b', '.', '\\.', '\\\\', '\\', '/', 'etc', '-', '\\-', '$', '\\$', '^', '|', '(', ')', '*', '+', '?', '\\d', ':'];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  let compared = 0;
  for (let i = 0; i < 3000; i++) {
    const pattern = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => pick(atoms)).join('');
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch {
      assert.throws(() => compileRegex(pattern, { full: false }), /invalid regex/, `RE2 refuses ${pattern}, so must we`);
      continue;
    }
    for (const full of [true, false]) {
      const ours = compileRegex(pattern, { full });
      for (let j = 0; j < 12; j++) {
        const input = Array.from({ length: Math.floor(rand() * 6) }, () => pick(['a', 'b', '.', '/', 'etc', '-', '$', '1', 'x', ':', '\\'])).join('');
        assert.equal(ours(input), full ? re.matches(input) : re.matcher(input).find(), `${full ? 'full' : 'find'} /${pattern}/ on "${input}"`);
        compared++;
      }
    }
  }
  assert.ok(compared > 30_000);
});
