/** `gatehouse sensor --respond`: its options are checked before the probe starts, one line each. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const rules = new URL('../../../shared/reference/falco/rules/falco_rules.yaml', import.meta.url).pathname;

test('sensor --respond needs runtime policies, a numeric cooldown, and its options need --respond', async () => {
  const cases: [string[], RegExp][] = [
    [['--respond'], /--respond carries out runtime policies: give --policy PACK too/],
    [['--kill-switch', '/tmp/gatehouse-no-such-switch'], /apply with --respond only/],
    [['--respond-dry-run'], /apply with --respond only/],
    [['--policy', 'runtime', '--respond', '--respond-cooldown', 'soon'], /--respond-cooldown must be a number of seconds, got 'soon'/],
  ];
  for (const [extra, message] of cases) {
    const r = await runCli(['sensor', '--rules', rules, '--duration', '1', ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  }
});
