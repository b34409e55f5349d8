/**
 * One flag vocabulary (Trivy's) across every command: walks the real commander program —
 * every command and subcommand, whatever registers it — and fails on a flag that breaks it:
 *   --format is the output format (`table` for people, never text/txt), and the only flag
 *     that names one; -f is its short form only
 *   --output / -o is a file, never a format
 *   --severity is a comma list of exact levels (not "at or above"); -s is its short form only
 *   --exit-code defaults to 0
 * A new command is checked without editing this file: each command is one subtest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

interface FlagView {
  flags: string;
  long?: string;
  short?: string;
  description: string;
  defaultValue?: unknown;
  choices?: readonly string[];
}

const view = (o: Option): FlagView => ({
  flags: o.flags,
  long: o.long,
  short: o.short,
  description: o.description,
  defaultValue: o.defaultValue,
  choices: o.argChoices,
});

/** The argument name in the flags, e.g. "format" for `--output <format>`. */
const argName = (f: FlagView): string | undefined => /[<[]([^>\]]+)[>\]]/.exec(f.flags)?.[1];
const OUTPUT_FORMAT_WORDS = ['table', 'json', 'sarif', 'junit', 'text', 'txt', 'csv'];
const isInputFlag = (f: FlagView) => /^--(input|in|from)-/.test(f.long ?? '');

/** Every way a flag breaks the vocabulary (empty when it keeps it). */
export function vocabularyProblems(f: FlagView): string[] {
  const problems: string[] = [];
  const arg = argName(f) ?? '';
  const desc = f.description;
  if (f.long === '--output' || f.short === '-o') {
    if (f.long !== '--output') problems.push(`${f.flags}: -o is the short form of --output only`);
    if (/format/i.test(arg) || /\bformat\b/i.test(desc)) problems.push(`${f.flags}: --output is a file, but its argument or description says format ("${desc}")`);
    if (f.choices?.some((c) => OUTPUT_FORMAT_WORDS.includes(c))) problems.push(`${f.flags}: --output offers format choices (${f.choices.join(', ')}); that is --format`);
  }
  const namesFormat =
    !isInputFlag(f) &&
    (/^format$/i.test(arg) || /\boutput format\b/i.test(desc) || (f.choices ?? []).filter((c) => OUTPUT_FORMAT_WORDS.includes(c)).length >= 2);
  if (namesFormat && f.long !== '--format' && f.long !== '--output') problems.push(`${f.flags}: an output format flag must be --format`);
  if (f.long === '--format') {
    const bad = (f.choices ?? []).filter((c) => c === 'text' || c === 'txt');
    if (bad.length) problems.push(`${f.flags}: format choice ${bad.join(', ')}: the human format is called "table"`);
    if (f.defaultValue === 'text' || f.defaultValue === 'txt') problems.push(`${f.flags}: default ${String(f.defaultValue)}: the human format is called "table"`);
    if (f.short && f.short !== '-f') problems.push(`${f.flags}: the short form of --format is -f`);
  } else if (f.short === '-f') problems.push(`${f.flags}: -f is the short form of --format only`);
  if (f.long === '--exit-code' && !(f.defaultValue === 0 || f.defaultValue === '0')) {
    problems.push(`${f.flags}: --exit-code defaults to ${JSON.stringify(f.defaultValue)}, not 0`);
  }
  if (f.long === '--severity') {
    if (!/\b(comma|list)\b/i.test(desc)) problems.push(`${f.flags}: --severity is a comma list of levels, but its description does not say so ("${desc}")`);
    if (/\b(at or above|and above|at least|or higher)\b/i.test(desc)) problems.push(`${f.flags}: --severity means exactly the listed levels, not a threshold ("${desc}")`);
    if (f.short && f.short !== '-s') problems.push(`${f.flags}: the short form of --severity is -s`);
  } else if (f.short === '-s') problems.push(`${f.flags}: -s is the short form of --severity only`);
  return problems;
}

function walk(cmd: Command, path: string[] = []): Array<{ path: string; cmd: Command }> {
  const here = path.length ? [{ path: path.join(' '), cmd }] : [];
  return [...here, ...cmd.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

const commands = walk(await buildProgram());

test('the walk sees the whole program', () => {
  const names = new Set(commands.map((c) => c.path));
  for (const known of ['k8s check', 'rbac analyze', 'rbac who-can', 'dockerfile check', 'netpol analyze', 'image scan', 'image sbom', 'image verify', 'registry audit', 'fs scan']) {
    assert.ok(names.has(known), `${known} is registered (saw: ${[...names].join(', ')})`);
  }
});

test('the rules catch each kind of break (so a passing walk means something)', () => {
  const bad: Array<[FlagView, RegExp]> = [
    [{ flags: '-o, --output <format>', long: '--output', short: '-o', description: 'output format: table, json' }, /--output is a file/],
    [{ flags: '--output <dest>', long: '--output', description: 'where to write', choices: ['txt', 'json'] }, /offers format choices/],
    [{ flags: '--out-format <fmt>', long: '--out-format', description: 'output format' }, /must be --format/],
    [{ flags: '--format <format>', long: '--format', description: 'output format', choices: ['text', 'json'], defaultValue: 'text' }, /called "table"/],
    [{ flags: '--exit-code <n>', long: '--exit-code', description: 'exit code when findings remain', defaultValue: '1' }, /not 0/],
    [{ flags: '--severity <level>', long: '--severity', description: 'report findings at or above this severity' }, /comma list/],
    [{ flags: '--severity <levels>', long: '--severity', description: 'comma list, or one level and above' }, /not a threshold/],
    [{ flags: '-o, --out <file>', long: '--out', short: '-o', description: 'a file' }, /-o is the short form of --output only/],
  ];
  for (const [flag, expected] of bad) assert.match(vocabularyProblems(flag).join('\n'), expected, flag.flags);
  const good: FlagView[] = [
    { flags: '-f, --format <format>', long: '--format', short: '-f', description: 'output format', choices: ['table', 'json', 'sarif'], defaultValue: 'table' },
    { flags: '-o, --output <file>', long: '--output', short: '-o', description: 'write the report to this file instead of stdout' },
    { flags: '-s, --severity <levels>', long: '--severity', short: '-s', description: 'comma-separated list of severities to report, exactly those levels' },
    { flags: '--exit-code <code>', long: '--exit-code', description: 'exit code when findings remain', defaultValue: 0 },
    { flags: '--input-format <format>', long: '--input-format', description: 'events format', choices: ['auto', 'gatehouse', 'sysdig'] },
  ];
  for (const flag of good) assert.deepEqual(vocabularyProblems(flag), [], flag.flags);
});

for (const { path, cmd } of commands) {
  test(`gatehouse ${path}: flags keep the vocabulary`, () => {
    const problems = cmd.options.flatMap((o) => vocabularyProblems(view(o)));
    assert.deepEqual(problems, [], `gatehouse ${path}:\n  ${problems.join('\n  ')}`);
  });
}
