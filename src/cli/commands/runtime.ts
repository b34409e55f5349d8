/**
 * `gatehouse runtime …`: Falco-compatible rules — check rule files, replay recorded events,
 * and with --policy evaluate every alert against runtime policies (the verdict rides on
 * the alert as its `gatehouse` key).
 */
import { Command, Option } from 'commander';
import { UserError } from '../../util/errors.js';
import { AlertJudge } from '../../runtime/alerts/verdict.js';
import { describeDiagnostic, Engine, fieldRegistry, loadRuleFiles, parsePriority, RuleSet, type RuleDiagnostic } from '../../runtime/rules/index.js';
import { readEventFile, type ReplayFormat } from '../../runtime/replay/index.js';
import {
  AlertReport, alertAnnotator, alertFormats, alertSinks, checkExitCode, collect, defaultAlertFormat, loadRuntimePolicies, requireRules, streamedFormat,
} from '../runtime-policy.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { ReplayAlertCollector, pushEvents } from '../central-push.js';
import { addNatsOptions, busPublisherFrom, publishEvents, type NatsCliOptions } from './bus-push.js';

interface ReplayOptions {
  rules: string[];
  inputFormat: string;
  format?: string;
  output?: string;
  webhook?: string;
  policy: string[];
  minPriority?: string;
  ruleMatching: 'first' | 'all';
  tags: string[];
  disableTags: string[];
  disableRules: string[];
  exitCode: string;
}

interface FileReport {
  file: string;
  rules: number;
  macros: number;
  lists: number;
  errors: RuleDiagnostic[];
  warnings: RuleDiagnostic[];
}

function exitCodeOption(what: string): Option {
  return new Option('--exit-code <n>', `exit code when ${what}`).default('0').argParser((v) => String(checkExitCode(v)));
}

export function registerRuntimeCommands(program: Command): Command {
  const runtime = program.command('runtime').description('runtime detection with Falco-compatible rules');
  const rules = runtime.command('rules').description('Falco rule files');

  rules
    .command('check')
    .description('load rule files (as `falco -V`): counts of rules, macros and lists, errors and warnings')
    .argument('<files...>', 'rules files, loaded in order (later files may append/override)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addOption(exitCodeOption('a rules file has errors'))
    .action((files: string[], o: { format: string; exitCode: string }) => {
      const loaded = loadRuleFiles(files, { throwOnError: false });
      const reports: FileReport[] = files.map((f) => ({
        file: f,
        ...(loaded.perFile.get(f) ?? { rules: 0, macros: 0, lists: 0 }),
        errors: loaded.errors.filter((d) => d.file === f),
        warnings: loaded.warnings.filter((d) => d.file === f),
      }));
      const set = loaded.errors.length ? undefined : new RuleSet(loaded, { includeDisabled: true });
      const unsupplied = set?.unsuppliedFields() ?? [];
      if (o.format === 'json') {
        const strip = ({ file, rules: r, macros, lists, errors, warnings }: FileReport) => ({ file, rules: r, macros, lists, errors, warnings });
        const body = reports.length === 1 ? { ...strip(reports[0]!), unsupplied_fields: unsupplied } : { files: reports.map(strip), unsupplied_fields: unsupplied };
        process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      } else {
        for (const r of reports) {
          process.stdout.write(`${r.file}: ${r.rules} rules, ${r.macros} macros, ${r.lists} lists, ${r.errors.length} errors, ${r.warnings.length} warnings\n`);
          for (const e of r.errors) process.stdout.write(`  error: ${describeDiagnostic(e)}\n`);
          for (const w of r.warnings) process.stdout.write(`  warning: ${describeDiagnostic(w)}\n`);
        }
        for (const u of unsupplied) process.stdout.write(`  note: field ${u.field} is not filled by any Gatehouse source yet (${u.reason})\n`);
      }
      if (loaded.errors.length) process.exitCode = Number(o.exitCode);
    });

  rules
    .command('expand')
    .description("print a rule's condition with macros and lists expanded (fully bracketed, sysdig-compatible when its operators are)")
    .argument('<files...>', 'rules files')
    .requiredOption('--rule <name>', 'rule name')
    .action((files: string[], o: { rule: string }) => {
      const set = new RuleSet(loadRuleFiles(files), { includeDisabled: true });
      const text = set.expandedCondition(o.rule);
      if (text === undefined) throw new UserError(`no rule named '${o.rule}'`);
      process.stdout.write(`${text}\n`);
    });

  rules
    .command('fields')
    .description('the fields conditions and outputs may use')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .action((o: { format: string }) => {
      const defs = fieldRegistry.all().map((d) => ({
        name: d.prefix ? `${d.name}.*` : d.arg ? `${d.name}[${d.arg === 'optional' ? '…]?' : '…]'}` : d.name,
        type: d.type,
        desc: d.desc,
        ...(d.unsupplied ? { unsupplied: d.unsupplied } : {}),
      }));
      if (o.format === 'json') process.stdout.write(`${JSON.stringify(defs, null, 2)}\n`);
      else for (const d of defs) process.stdout.write(`${d.name.padEnd(36)} ${d.type.padEnd(7)} ${d.desc}${d.unsupplied ? ` (not supplied yet: ${d.unsupplied})` : ''}\n`);
    });

  const replay = runtime
    .command('replay')
    .description('replay recorded events through rules: JSON lines in the Gatehouse model, `sysdig -j` output, or a .scap capture (via sysdig); with --policy, every alert carries its policy verdict')
    .argument('<file>', "events file ('-' for stdin)")
    .option('-r, --rules <file>', 'Falco rules file (as falco -r); repeatable, loaded in order: -r A -r B', collect, [])
    .addOption(new Option('--input-format <format>', 'events format').choices(['auto', 'gatehouse', 'sysdig']).default('auto'))
    .option('--policy <pack>', 'runtime policy pack: file, directory or built-in name (runtime); repeatable', collect, [])
    .addOption(new Option('--format <format>', "falco: Falco's text alert lines, json: Falco's JSON alert lines (both streamed; default falco on a terminal, json otherwise); table, sarif, junit: a report of the alerts and policy violations").choices(alertFormats()))
    .option('--output <file>', "write alerts (json: appended as lines) or the report to this file instead of stdout ('-')")
    .option('--webhook <url>', 'POST every alert as JSON to this http(s) URL (as Falco http_output); with it, alerts go to stdout or a file only when --output is given')
    .option('--min-priority <priority>', 'only rules at least this severe (Falco priority names)')
    .addOption(new Option('--rule-matching <mode>', "Falco's rule_matching: first matching rule per event, or all").choices(['first', 'all']).default('first'))
    .option('-t, --tags <tag>', 'only rules with this tag (as falco -t); repeatable', collect, [])
    .option('-T, --disable-tags <tag>', 'drop rules with this tag (as falco -T); repeatable', collect, [])
    .option('-D, --disable-rules <substring>', 'drop rules whose name contains this (as falco -D); repeatable', collect, [])
    .addOption(exitCodeOption('a rule alerted'));
  addNatsOptions(addCentralOptions(replay), 'the alerts', 'unknown', false).action(async (file: string, o: ReplayOptions & CentralCliOptions & NatsCliOptions) => {
      const bus = await busPublisherFrom(o, 'runtime replay sends its alerts', 'gatehouse-runtime-replay');
      const central = bus ? undefined : centralClientFrom(o);
      const forCentral = central || bus ? new ReplayAlertCollector() : undefined;
      const min = o.minPriority === undefined ? undefined : parsePriority(o.minPriority);
      if (o.minPriority !== undefined && !min) throw new UserError(`unknown priority '${o.minPriority}'`);
      const rules = requireRules(o.rules);
      const format = defaultAlertFormat(o);
      const sinks = alertSinks({ ...o, format });
      const report = streamedFormat(format) ? undefined : new AlertReport('runtime replay', format, o.output);
      // Policies are loaded and compiled before any event is read: a bad pack is exit 2 here.
      const policies = await loadRuntimePolicies(o.policy);
      const set = new RuleSet(loadRuleFiles(rules), {
        ruleMatching: o.ruleMatching,
        ...(min ? { minPriority: min } : {}),
        ...(o.tags.length ? { runTags: o.tags } : {}),
        ...(o.disableTags.length ? { disableTags: o.disableTags } : {}),
        ...(o.disableRules.length ? { disableRules: o.disableRules } : {}),
      });
      const judge = policies ? new AlertJudge(policies) : undefined;
      const annotate = alertAnnotator(judge, report);
      const engine = new Engine(set, forCentral ? [...sinks, forCentral] : sinks, annotate ? { annotate } : {});
      for await (const ev of readEventFile(file, o.inputFormat as ReplayFormat)) engine.push(ev);
      await engine.close();
      const s = engine.stats;
      const failed = sinks.reduce((n, k) => n + k.failed, 0);
      const verdicts = judge ? `; policy verdicts: ${judge.counts.deny} deny, ${judge.counts.warn} warn, ${judge.counts.allow} allow` : '';
      const summary = `${s.events} events, ${s.alerts} alerts${verdicts}`;
      report?.write([summary]);
      process.stderr.write(`gatehouse: ${summary}${failed ? `, ${failed} alerts not delivered` : ''}\n`);
      if (failed) throw new UserError(`${failed} alerts could not be delivered to ${o.webhook ?? o.output}`);
      if (s.alerts > 0) process.exitCode = Number(o.exitCode);
      // Stable ids: replaying the same trace again stores nothing twice.
      if (central && forCentral) await pushEvents(central, { kind: 'runtime-replay' }, forCentral.events);
      if (bus && forCentral) await publishEvents(bus, o.nats!, { kind: 'runtime-replay' }, forCentral.events);
    });

  return runtime;
}
