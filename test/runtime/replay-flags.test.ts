/**
 * Issue 24 item 10: `runtime replay --rules R TRACE` must read TRACE (flags are repeatable,
 * never variadic: `-r A -r B`, as `falco -r`), and alerts print as Falco prints them —
 * the alert's `output` text lines on a terminal, JSON lines otherwise or with --format json.
 * Inputs: Falco's own rules (../shared/reference/falco/rules) and its reference capture
 * traces/test_ipv6_client.scap (through sysdig), and test/runtime/fixtures/policy-events.jsonl.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';

const REF = process.env.GATEHOUSE_FALCO_REF ?? fileURLToPath(new URL('../../../shared/reference/falco', import.meta.url));
const STABLE = `${REF}/rules/falco_rules.yaml`;
const INCUBATING = `${REF}/rules/falco-incubating_rules.yaml`;
const SANDBOX = `${REF}/rules/falco-sandbox_rules.yaml`;
const TRACE = `${REF}/traces/test_ipv6_client.scap`;
const EVENTS = fileURLToPath(new URL('./fixtures/policy-events.jsonl', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/gatehouse.mjs', import.meta.url));

const rulesOf = (stdout: string) => stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { rule: string }).rule);

describe('runtime replay flags', () => {
  test('--rules R TRACE reads the trace (a Falco capture through sysdig)', { skip: missing(hasCommand('sysdig'), 'sysdig (Debian package) is not installed') }, async () => {
    const r = await runCli(['runtime', 'replay', '--rules', INCUBATING, TRACE]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /gatehouse: 68 events, 2 alerts/);
    assert.deepEqual(rulesOf(r.stdout), ['Unexpected UDP Traffic', 'Unexpected UDP Traffic']);
    // -r A -r B: the second file's rule fires after the first file loaded
    const both = await runCli(['runtime', 'replay', '-r', STABLE, '-r', INCUBATING, TRACE, '--exit-code', '1']);
    assert.equal(both.code, 1, both.stderr);
    assert.ok(rulesOf(both.stdout).includes('Unexpected UDP Traffic'));
  });

  test('-r A -r B loads both files, in order, and the trace after them is read', async () => {
    const one = await runCli(['runtime', 'replay', '-r', STABLE, EVENTS, '--rule-matching', 'all']);
    assert.equal(one.code, 0, one.stderr);
    assert.ok(!rulesOf(one.stdout).includes('Launch Sensitive Mount Container'));
    const two = await runCli(['runtime', 'replay', '-r', STABLE, '-r', SANDBOX, EVENTS, '--rule-matching', 'all']);
    assert.equal(two.code, 0, two.stderr);
    const rules = rulesOf(two.stdout);
    assert.ok(rules.includes('Launch Sensitive Mount Container'), rules.join());
    assert.ok(rules.includes('Read sensitive file untrusted'), rules.join());
    assert.match(two.stderr, /4 events, /);
    const none = await runCli(['runtime', 'replay', EVENTS]);
    assert.equal(none.code, 2);
    assert.equal(none.stderr.trim().split('\n').length, 1);
    assert.match(none.stderr, /--rules/);
  });

  test("--format falco prints the alerts' output lines; not a terminal: JSON lines", async () => {
    const json = await runCli(['runtime', 'replay', '-r', STABLE, EVENTS]);
    const outputs = json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { output: string }).output);
    assert.equal(outputs.length, 3);
    const text = await runCli(['runtime', 'replay', '-r', STABLE, EVENTS, '--format', 'falco']);
    assert.equal(text.code, 0, text.stderr);
    assert.deepEqual(text.stdout.trim().split('\n'), outputs);
    assert.match(outputs[0]!, /^\d\d:\d\d:\d\d\.\d{9}: (Notice|Warning) /);
  });

  test("on a terminal the default is Falco's text lines", { skip: missing(hasCommand('script'), 'script (util-linux) is not installed') }, async () => {
    const json = await runCli(['runtime', 'replay', '-r', STABLE, EVENTS]);
    const outputs = json.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { output: string }).output);
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const cmd = [process.execPath, BIN, 'runtime', 'replay', '-r', STABLE, EVENTS].map(q).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, GATEHOUSE_FROM_SOURCE: '1', NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split(/\r?\n/).filter((l) => /^\d\d:\d\d:\d\d\.\d{9}: /.test(l));
    assert.deepEqual(lines, outputs);
  });
});
