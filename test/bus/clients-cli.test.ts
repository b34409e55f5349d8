/**
 * `--nats` on runtime replay, engine-proxy and admission serve means what it means on
 * `gatehouse sensor`: the same flags, and the same one-line usage errors (exit 2, no stack
 * trace, nothing started) for --nats with --server, a URL that is not nats://, and
 * --nats-creds / --nats-tls-ca without --nats or with an unreadable file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bus-clients-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const events = join(dir, 'events.jsonl');
const rules = join(dir, 'rules.yaml');
writeFileSync(events, '');
writeFileSync(rules, '- rule: r\n  desc: d\n  condition: evt.type=openat\n  output: o\n  priority: WARNING\n');

const commands: Record<string, string[]> = {
  'runtime replay': ['runtime', 'replay', events, '-r', rules],
  'engine-proxy': ['engine-proxy', '--listen', `unix://${join(dir, 'never.sock')}`, '--upstream', `unix://${join(dir, 'none.sock')}`, '--spool-dir', join(dir, 'spool')],
  'admission serve': ['admission', 'serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--spool-dir', join(dir, 'spool')],
  sensor: ['sensor', '-r', rules],
};

const cases: [string[], RegExp][] = [
  [['--nats', 'nats://127.0.0.1:1', '--server', 'https://central.example:8443'], /either to Central \(--server\) or to the event bus \(--nats\): give one$/],
  [['--nats', 'http://127.0.0.1:4222'], /^gatehouse: --nats: "http:\/\/127\.0\.0\.1:4222" is not a nats:\/\/HOST:PORT URL$/],
  [['--nats-creds', join(dir, 'creds')], /^gatehouse: --nats-creds and --nats-tls-ca go with --nats$/],
  [['--nats', 'nats://127.0.0.1:1', '--nats-creds', join(dir, 'missing.creds')], /^gatehouse: --nats-creds .*missing\.creds: cannot read it \(ENOENT\)$/],
];

test('the same one-line usage errors as gatehouse sensor, exit 2, before anything starts', { timeout: 600_000 }, async () => {
  for (const [name, base] of Object.entries(commands)) {
    for (const [args, re] of cases) {
      const r = await runCli([...base, ...args], { env: { GATEHOUSE_SERVER: undefined, GATEHOUSE_TOKEN: undefined }, timeoutMs: 60_000 });
      const what = `${name} ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
      assert.match(lines[0]!, re, what);
    }
  }
});

test('--help of each command lists --nats, --nats-creds and --nats-tls-ca', async () => {
  for (const base of [['runtime', 'replay'], ['engine-proxy'], ['admission', 'serve']]) {
    const r = await runCli([...base, '--help']);
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--nats <url>', '--nats-creds <file>', '--nats-tls-ca <file>']) assert.ok(r.stdout.includes(flag), `${base.join(' ')} --help: ${flag}`);
  }
});
