/**
 * `gatehouse simulate` on the command line: hidden from the top-level help, and bad values
 * are one-line usage errors (exit 2) before anything starts. The simulator itself runs in
 * `npm run bench:scale` (real Centrals, nats-server and PostgreSQL).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';

test('gatehouse simulate is hidden; its usage errors are one line, exit 2', async () => {
  const help = await runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /\bserver\b/, 'the help lists commands');
  assert.doesNotMatch(help.stdout, /\bsimulate\b/, 'simulate is not listed');
  const own = await runCli(['simulate', '--help']);
  assert.match(own.stdout, /--events-per-sec/);
  const base = ['simulate', '--nats', 'nats://127.0.0.1:4222', '--database', 'postgres://u@127.0.0.1/db'];
  const cases: [string[], RegExp][] = [
    [[...base, '--nodes', '0'], /--nodes must be a whole number from 1 to 100000, got '0'/],
    [[...base, '--events-per-sec', 'lots'], /--events-per-sec must be a whole number/],
    [[...base, '--flow-share', '1.5'], /--flow-share must be between 0 and 1/],
    [['simulate', '--nats', 'nats://127.0.0.1:4222', '--database', 'sqlite:/tmp/x.db'], /--database must be a postgres:\/\/… URL/],
    [['simulate', '--nats', 'http://x', '--database', 'postgres://u@h/db'], /--nats must be a nats:\/\/HOST:PORT URL/],
  ];
  for (const [args, want] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, want);
  }
});
