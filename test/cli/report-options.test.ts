/** The shared report plumbing: the gate's exact severity lists, exit codes, atomic files, the one table renderer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Finding, Severity } from '../../src/findings/finding.js';
import { gate, getFormatter, parseExitCode, parseSeverityList, renderGrid, writeFileAtomic } from '../../src/report/index.js';
import { addReportOptions, writeReport } from '../../src/cli/report-options.js';

const finding = (id: string, severity: Severity): Finding => ({ id, kind: 'misconfiguration', severity, title: id, resource: { file: { path: `${id}.yaml`, line: 1 } } });
const ALL = [finding('a', 'LOW'), finding('b', 'MEDIUM'), finding('c', 'HIGH'), finding('d', 'CRITICAL')];

test('--severity keeps exactly the listed levels; --exit-code is 0 unless given', () => {
  assert.deepEqual(gate(ALL, 'HIGH', undefined).shown.map((f) => f.id), ['c']);
  assert.deepEqual(gate(ALL, 'critical, low', undefined).shown.map((f) => f.id), ['a', 'd']);
  assert.deepEqual(gate(ALL, undefined, undefined).shown.length, 4);
  assert.equal(gate(ALL, undefined, undefined).code, 0);
  assert.equal(gate(ALL, 'HIGH', '5').code, 5);
  assert.equal(gate(ALL, 'UNKNOWN', '5').code, 0, 'nothing left: exit 0 whatever --exit-code says');
  assert.deepEqual(parseSeverityList('HIGH,HIGH,CRITICAL'), ['HIGH', 'CRITICAL']);
  assert.equal(parseSeverityList(''), undefined);
  assert.throws(() => parseSeverityList('HIGH,BAD'), /invalid --severity: unknown severity "BAD"/);
  assert.equal(parseExitCode(undefined), 0);
  assert.throws(() => parseExitCode('256'), /invalid --exit-code "256"/);
  assert.throws(() => parseExitCode('-1'), /invalid --exit-code/);
});

test('every formatter fills a missing fingerprint; an engine-set one is kept', () => {
  const kept = { ...finding('k', 'HIGH'), fingerprint: 'f'.repeat(32) };
  const json = JSON.parse(getFormatter('json').format([ALL[0]!, kept], { command: 't' }));
  assert.match(json.findings[0].fingerprint, /^[0-9a-f]{32}$/);
  assert.equal(json.findings[1].fingerprint, 'f'.repeat(32));
  const sarif = JSON.parse(getFormatter('sarif').format([ALL[0]!, kept], { command: 't' }));
  assert.deepEqual(sarif.runs[0].results.map((r: any) => r.partialFingerprints['gatehouse/v1']), [json.findings[0].fingerprint, 'f'.repeat(32)]);
});

test('writeFileAtomic replaces the file whole and leaves nothing behind on failure', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-report-'));
  try {
    const file = join(dir, 'r.json');
    writeFileSync(file, 'old');
    await writeFileAtomic(file, 'new');
    assert.equal(readFileSync(file, 'utf8'), 'new');
    assert.deepEqual(readdirSync(dir), ['r.json']);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'r.json'), 'x'), /^UserError: cannot write .*missing\/r\.json: /);
    if (process.getuid?.() !== 0) {
      chmodSync(dir, 0o500);
      await assert.rejects(writeFileAtomic(file, 'x'), /cannot write/);
      chmodSync(dir, 0o700);
      assert.equal(readFileSync(file, 'utf8'), 'new');
    }
    // A directory in the way: the rename fails, the temporary file is removed.
    const asDir = join(dir, 'sub');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(asDir, 'x'), { recursive: true });
    await assert.rejects(writeFileAtomic(asDir, 'x'), /cannot write/);
    assert.deepEqual(readdirSync(dir).sort(), ['r.json', 'sub']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('addReportOptions + writeReport: one declaration, report to a file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-report-'));
  try {
    let result: { code: number } | undefined;
    const cmd = addReportOptions(new Command('x').exitOverride()).action(async (o) => {
      result = await writeReport(ALL, { command: 'x' }, o);
    });
    await cmd.parseAsync(['-f', 'junit', '-o', join(dir, 'r.xml'), '-s', 'HIGH,CRITICAL', '--exit-code', '3'], { from: 'user' });
    assert.equal(result?.code, 3);
    const xml = readFileSync(join(dir, 'r.xml'), 'utf8');
    assert.match(xml, /tests="2" failures="2"/);
    const quiet = () => new Command('y').exitOverride().configureOutput({ writeErr: () => {} });
    assert.throws(() => addReportOptions(quiet()).parse(['--format', 'text'], { from: 'user' }), /Allowed choices are table, json, sarif, junit/);
    assert.throws(() => addReportOptions(quiet()).parse(['--exit-code', 'one'], { from: 'user' }), /invalid --exit-code "one"/);
    await assert.rejects(addReportOptions(new Command('w').exitOverride()).action(() => {}).parseAsync(['-o', 'sarif'], { from: 'user' }), /--output takes a file name; for the sarif format use --format sarif/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('renderGrid pads every column but the last, caps widths, decorates body cells only', () => {
  assert.equal(renderGrid(['A', 'BB'], [['xxx', 'y'], ['z', '']]), 'A    BB\nxxx  y\nz');
  assert.equal(renderGrid(['A', 'B'], [['x'.repeat(10), 'y']], { maxWidth: 4 }), 'A     B\nxxxxxxxxxx  y');
  assert.equal(renderGrid(['S', 'T'], [['HI', 't']], { decorate: (p, c, _r, col) => (col === 0 ? `<${p}>` : p) }), 'S   T\n<HI>  t');
});
