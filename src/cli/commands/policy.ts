/**
 * `gatehouse policy …`: the one policy model's tooling, as Kyverno and OPA users expect:
 * fields, check, test, eval, show. Everything is decided in src/policy/; this file parses
 * flags and prints.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { getFormatter } from '../../report/index.js';
import { compilePolicySet, evaluate } from '../../policy/evaluate.js';
import { fieldRows } from '../../policy/fields-doc.js';
import { BUILTIN_PACKS, builtinPackPath } from '../../policy/builtin.js';
import { describeDiagnostic, loadPacks, readPackText, readPacks, resolvePackInput } from '../../policy/pack.js';
import { runPolicyTests, subjectFromFile } from '../../policy/testing.js';
import { STAGES, type Stage } from '../../policy/types.js';
import { expandYamlPaths } from '../../util/positioned-yaml.js';
import { UserError } from '../../util/errors.js';
import { subjects } from '../../subjects/index.js';
import { EXIT_ERROR } from '../fail.js';
import { convertLegacyPolicy } from '../../engine-proxy/legacy-policy.js';
import { writeFileAtomic } from '../../report/write.js';
import { renderGrid } from '../../report/grid.js';
import { loadImageSubject } from '../image-subject.js';
import { addImageOptions, openOptions, type ImageCliOptions } from '../image-options.js';

const renderTable = (headers: string[], rows: string[][]) => `${renderGrid(headers, rows)}\n`;

const collect = (v: string, prev: string[]) => [...prev, v];
const formatOption = (choices: string[]) => new Option('--format <format>', 'output format').choices(choices).default('table');

type EvalOptions = ImageCliOptions & { subject: string; policy: string[]; stage?: Stage; format: string; exitCode: string; db?: string; trustPolicy?: string };

/** Subjects that can be named by a reference instead of a file: an image is scanned as `image scan` does. */
const refLoaders: Record<string, (ref: string, o: EvalOptions) => Promise<unknown>> = {
  image: (ref, o) => loadImageSubject(ref, { db: o.db, trustPolicy: o.trustPolicy, open: openOptions(o) }),
};

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('the one policy model: fields, pack checks, tests, evaluation');

  policy
    .command('fields')
    .description('the fields criteria may use, per subject')
    .option('--subject <kind>', `only this subject (${subjects().kinds().join(', ')})`)
    .addOption(formatOption(['table', 'json']))
    .action((o: { subject?: string; format: string }) => {
      const reg = subjects();
      if (o.subject && !reg.get(o.subject)) throw new UserError(`unknown subject "${o.subject}" (expected ${reg.kinds().join(', ')})`, 'usage');
      const rows = fieldRows(reg, o.subject);
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(renderTable(['SUBJECT', 'FIELD', 'TYPE', 'TARGET', 'DESCRIPTION'], rows.map((r) => [r.subject, r.name, r.type, r.target, r.description])));
    });

  policy
    .command('check')
    .description('check policy packs: unknown fields (with a did-you-mean), type errors, duplicate ids, each with file:line; exit 2 on an error')
    .argument('<packs...>', 'pack files, directories or built-in names (build, deploy, engine, runtime)')
    .addOption(formatOption(['table', 'json']))
    .action(async (packs: string[], o: { format: string }) => {
      const loaded = await readPacks(packs.map(resolvePackInput), subjects());
      if (o.format === 'json') {
        process.stdout.write(`${JSON.stringify({ policies: loaded.policies.length, exceptions: loaded.exceptions.length, diagnostics: loaded.diagnostics }, null, 2)}\n`);
      } else {
        for (const d of loaded.diagnostics) process.stderr.write(`gatehouse: error: ${describeDiagnostic(d)}\n`);
        if (!loaded.diagnostics.length) process.stdout.write(`${loaded.policies.length} policies, ${loaded.exceptions.length} exceptions: no problems\n`);
      }
      if (loaded.diagnostics.length) process.exitCode = EXIT_ERROR;
    });

  policy
    .command('test')
    .description('run policy test cases (kind: PolicyTest): a subject, the policies and the expected verdict; exit 1 with a diff when a case fails')
    .argument('<paths...>', 'test files or directories')
    .addOption(formatOption(['table', 'json']))
    .action(async (paths: string[], o: { format: string }) => {
      const results = await runPolicyTests(paths, subjects());
      if (results.length === 0) throw new UserError(`no PolicyTest cases found in ${paths.join(', ')}`, 'bad-input');
      const failed = results.filter((r) => !r.passed);
      if (o.format === 'json') process.stdout.write(`${JSON.stringify({ passed: results.length - failed.length, failed: failed.length, results }, null, 2)}\n`);
      else {
        process.stdout.write(renderTable(['RESULT', 'TEST', 'CASE', 'LOCATION'], results.map((r) => [r.passed ? 'PASS' : 'FAIL', r.test, r.name, `${r.file}:${r.line}`])));
        for (const r of failed) {
          process.stdout.write(`\nFAIL ${r.test} / ${r.name} (${r.file}:${r.line})\n`);
          if (r.error) process.stdout.write(`  error: ${r.error}\n`);
          for (const d of r.diff) process.stdout.write(`  ${d}\n`);
        }
        process.stdout.write(`\n${results.length - failed.length} passed, ${failed.length} failed\n`);
      }
      if (failed.length) process.exitCode = 1;
    });

  const evalCmd = policy
    .command('eval')
    .description('evaluate one subject (a file, or an image reference for --subject image) and print the verdict')
    .requiredOption('--subject <kind>', `subject kind (${subjects().kinds().join(', ')})`)
    .argument('<input>', 'subject file (YAML/JSON), or an image reference for --subject image')
    .option('--policy <pack>', 'pack file, directory or built-in name (repeatable; default: every built-in pack)', collect, [])
    .addOption(new Option('--stage <stage>', 'stage asking (default: the subject\'s)').choices([...STAGES]))
    .addOption(formatOption(['table', 'json', 'sarif']))
    .option('--exit-code <n>', 'exit code when the decision is deny', '0')
    .option('--db <path>', 'vulnerability database, for an image reference (default: the one `db update` writes)')
    .option('--trust-policy <file>', 'trust policy: fills the signature fields of an image reference');
  addImageOptions(evalCmd).action(async (input: string, o: EvalOptions) => {
      const reg = subjects();
      const adapter = reg.require(o.subject);
      const exitCode = Number(o.exitCode);
      if (!/^\d+$/.test(o.exitCode) || exitCode > 255) throw new UserError(`--exit-code must be 0-255, got "${o.exitCode}"`, 'usage');
      const packs = o.policy.length ? o.policy : [...BUILTIN_PACKS];
      const loaded = await loadPacks(packs.map(resolvePackInput), reg);
      const set = compilePolicySet(loaded.policies, reg, { exceptions: loaded.exceptions });
      const refLoader = refLoaders[adapter.kind];
      const isFile = existsSync(input) && statSync(input).isFile();
      if (!isFile && !refLoader) throw new UserError(`cannot read ${input}: no such file`, 'bad-path');
      const value = isFile ? await subjectFromFile(reg, adapter.kind, input) : await refLoader!(input, o);
      const verdict = evaluate({ kind: adapter.kind, value }, set, { stage: o.stage });
      const summary = `decision: ${verdict.decision}${verdict.enforcement.length ? ` (${verdict.enforcement.join(', ')})` : ''}`;
      const formatter = getFormatter(o.format);
      process.stdout.write(formatter.format(verdict.violations, {
        command: `policy eval --subject ${adapter.kind}`,
        notes: [summary, `${set.policiesFor(adapter.kind).length} ${adapter.kind} policies evaluated`],
        extra: { decision: verdict.decision, enforcement: verdict.enforcement, excepted: verdict.excepted.map((x) => ({ id: x.finding.id, fingerprint: x.finding.fingerprint, exception: x.exception })) },
      }));
      if (verdict.decision === 'deny' && exitCode) process.exitCode = exitCode;
    });

  policy
    .command('convert')
    .description('convert an engine-proxy rule file of the old format (kind: EngineProxyPolicy) into a PolicyPack')
    .argument('<file>', 'old engine-proxy policy (YAML)')
    .option('-o, --output <file>', 'write the pack to this file (default: stdout)')
    .action(async (file: string, o: { output?: string }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        throw new UserError(`cannot read ${file}: ${(e as Error).message}`, 'bad-path');
      }
      const converted = convertLegacyPolicy(text, file);
      // The result must load: a field the old engine silently ignored is an error now.
      const { diagnostics } = readPackText(converted.packYaml, file, subjects());
      if (diagnostics.length) {
        for (const d of diagnostics) process.stderr.write(`gatehouse: error: ${describeDiagnostic({ ...d, line: converted.sourceLineOf(d.line) })}\n`);
        process.exitCode = EXIT_ERROR;
        return;
      }
      if (o.output) await writeFileAtomic(o.output, converted.packYaml);
      else process.stdout.write(converted.packYaml);
      process.stderr.write(`gatehouse: converted ${converted.rules} rule(s) of ${file} into a PolicyPack${o.output ? ` (${o.output})` : ''}\n`);
    });

  policy
    .command('show')
    .description('print a built-in pack')
    .argument('<name>', `built-in pack (${BUILTIN_PACKS.join(', ')})`)
    .action(async (name: string) => {
      const path = builtinPackPath(name);
      if (!path) throw new UserError(`unknown built-in pack "${name}" (expected ${BUILTIN_PACKS.join(', ')})`, 'usage');
      const files = await expandYamlPaths(path);
      process.stdout.write(files.map((f) => readFileSync(f, 'utf8')).join('---\n'));
    });
}
