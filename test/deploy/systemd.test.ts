/**
 * The systemd units (deploy/systemd) through systemd's own tools: `systemd-analyze verify`
 * finds nothing to say about them (unknown directives and bad values are warnings there, so
 * the test also requires silence), and `systemd-analyze security --offline` keeps their
 * exposure at most the figures in docs/notes/deploy.md. ExecStart's binary is pointed at the
 * repository's `bin/gatehouse.mjs`, which verify checks is executable; the commands and flags
 * they run are checked against `gatehouse … --help`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from '../helpers/cli.js';
import { hasCommand, missing } from '../helpers/components.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const units = join(root, 'deploy/systemd');
const bin = join(root, 'bin/gatehouse.mjs');
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-systemd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Exposure ceilings (0 safest, 10 worst): the sensor is root with four capabilities. */
const UNITS = { 'gatehouse-sensor.service': { threshold: 4.0 }, 'gatehouse-engine-proxy.service': { threshold: 1.5 } };

/** The unit with ExecStart pointing at this checkout's CLI. */
function localCopy(name: string, edit: (text: string) => string = (t) => t): string {
  const text = readFileSync(join(units, name), 'utf8');
  assert.match(text, /^ExecStart=\/usr\/bin\/gatehouse /m);
  const file = join(dir, name);
  writeFileSync(file, edit(text.replaceAll('/usr/bin/gatehouse ', `${bin} `)));
  return file;
}

describe('systemd units', { skip: missing(hasCommand('systemd-analyze'), 'systemd-analyze not installed (Debian: systemd)') }, () => {
  for (const [name, { threshold }] of Object.entries(UNITS)) {
    test(`${name}: systemd-analyze verify is silent`, () => {
      const r = spawnSync('systemd-analyze', ['verify', localCopy(name)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warnings');
    });

    test(`${name}: exposure at most ${threshold} (systemd-analyze security --offline)`, () => {
      const r = spawnSync('systemd-analyze', ['security', '--offline=yes', `--threshold=${Math.round(threshold * 10)}`, '--no-pager', localCopy(name)], { encoding: 'utf8' });
      const level = Number(/Overall exposure level for [^:]+: ([\d.]+)/.exec(r.stdout)?.[1]);
      assert.ok(Number.isFinite(level), r.stdout + r.stderr);
      assert.ok(level <= threshold, `exposure ${level} > ${threshold}`);
      assert.equal(r.status, 0, r.stderr);
    });

    test(`${name}: ExecStart runs a real gatehouse command with flags it has`, async () => {
      const line = /^ExecStart=\/usr\/bin\/gatehouse (.*)$/m.exec(readFileSync(join(units, name), 'utf8'))![1]!;
      const words = line.split(/\s+/);
      const sub = words.slice(0, words.findIndex((w) => w.startsWith('-')));
      const help = await runCli([...sub, '--help']);
      assert.equal(help.code, 0, help.stderr);
      for (const flag of words.filter((w) => w.startsWith('--'))) assert.match(help.stdout, new RegExp(`(^|[\\s,])${flag}[\\s=<]`, 'm'), `${sub.join(' ')} has ${flag}`);
    });
  }

  test('a misspelt directive is caught (the check can fail)', () => {
    const r = spawnSync('systemd-analyze', ['verify', localCopy('gatehouse-engine-proxy.service', (t) => t.replace('ProtectSystem=strict', 'ProtectSystm=strict'))], { encoding: 'utf8' });
    assert.match(r.stderr, /Unknown key 'ProtectSystm'/);
  });

  test('the env file example sets every variable the units read', () => {
    const env = readFileSync(join(units, 'gatehouse.env.example'), 'utf8');
    const defined = new Set([...env.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
    for (const name of Object.keys(UNITS)) {
      const text = readFileSync(join(units, name), 'utf8');
      assert.match(text, /^EnvironmentFile=\/etc\/gatehouse\/gatehouse\.env$/m);
      const used = [...text.matchAll(/\$\{?([A-Z_]+)\}?/g)].map((m) => m[1]!).filter((v) => !['STATE_DIRECTORY', 'LOGS_DIRECTORY', 'RUNTIME_DIRECTORY', 'MAINPID'].includes(v));
      for (const v of used) assert.ok(defined.has(v), `${name} reads ${v}, which gatehouse.env.example does not set`);
    }
  });
});
