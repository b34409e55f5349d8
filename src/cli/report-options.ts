/**
 * The report flags, declared once for every command (Trivy's meanings):
 *   -f, --format <name>   the output format; `table` is the one for people
 *   -o, --output <file>   write the report to this file (atomically, once complete) instead of stdout
 *   -s, --severity <list> comma-separated severities to report: exactly those levels
 *   --exit-code <code>    exit code when findings remain; 0 by default
 * Commands that report Findings use addReportOptions + writeReport, which renders through
 * src/report/ (getFormatter); commands with other documents use the single options.
 */
import { Option, type Command } from 'commander';
import type { Finding } from '../findings/finding.js';
import { SEVERITIES } from '../findings/finding.js';
import { formatNames, gate, getFormatter, parseExitCode, parseSeverityList, writeReportText, type ReportContext } from '../report/index.js';
import { UserError } from '../util/errors.js';

export interface ReportCliOptions {
  format: string;
  output?: string;
  severity?: string;
  exitCode?: number;
}

export interface ReportOptionsConfig {
  /** Formats the command offers (default: every Finding formatter, table first). */
  formats?: readonly string[];
  /** Offer --severity (default true). */
  severity?: boolean;
  /** Offer --exit-code; a string says when it applies (default true: "when findings remain"). */
  exitCode?: boolean | string;
  /** What --output writes, for its description (default "report"). */
  document?: string;
}

/** Words that name a format: `--output json` is the old spelling of `--format json`. */
const FORMAT_WORDS = new Set(['table', 'json', 'sarif', 'junit', 'csv', 'text', 'txt', 'yaml', 'cyclonedx', 'cyclonedx-json', 'spdx', 'spdx-json', 'template']);

export function formatOption(formats: readonly string[] = formatNames(), description = 'output format'): Option {
  return new Option('-f, --format <format>', description).choices([...formats]).default(formats.includes('table') ? 'table' : formats[0]);
}

export function outputOption(document = 'report'): Option {
  return new Option('-o, --output <file>', `write the ${document} to this file (atomically, once complete) instead of stdout`).argParser((v: string) => {
    if (FORMAT_WORDS.has(v)) throw new UserError(`--output takes a file name; for the ${v} format use --format ${v} (for a file named "${v}", give ./${v})`, 'usage');
    if (v === '') throw new UserError('--output needs a file name', 'usage');
    return v;
  });
}

export function severityOption(): Option {
  return new Option('-s, --severity <levels>', `comma-separated list of severities to report, exactly those levels (${SEVERITIES.join(',')}; default: all)`).argParser((v: string) => {
    parseSeverityList(v); // validate while parsing: a typo is a usage error before any work
    return v;
  });
}

export function exitCodeOption(when = 'when findings remain'): Option {
  return new Option('--exit-code <code>', `exit code ${when}`).default(0).argParser((v: string) => parseExitCode(v));
}

/** Adds --format, --output, --severity and --exit-code as configured. */
export function addReportOptions(cmd: Command, cfg: ReportOptionsConfig = {}): Command {
  cmd.addOption(formatOption(cfg.formats)).addOption(outputOption(cfg.document));
  if (cfg.severity !== false) cmd.addOption(severityOption());
  if (cfg.exitCode !== false) cmd.addOption(exitCodeOption(typeof cfg.exitCode === 'string' ? cfg.exitCode : undefined));
  return cmd;
}

/** Writes already-rendered text where --output says (stdout by default). */
export async function writeOutput(text: string, o: { output?: string }): Promise<void> {
  await writeReportText(text, o.output);
}

/**
 * Filters by --severity, renders the findings in --format through src/report/, writes the
 * report to stdout or --output, and returns the exit code the gate picked (set it as
 * process.exitCode unless something worse happened).
 */
export async function writeReport(findings: readonly Finding[], ctx: ReportContext, o: ReportCliOptions): Promise<{ shown: Finding[]; code: number }> {
  const formatter = getFormatter(o.format);
  const { shown, code } = gate(findings, o.severity, o.exitCode);
  await writeReportText(formatter.format(shown, ctx), o.output);
  return { shown, code };
}
