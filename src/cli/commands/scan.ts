/**
 * `gatehouse fs scan DIR` and `gatehouse image scan REF`: vulnerability, secret and hygiene
 * scans, gated by policies. The scan builds the `image` policy subject (src/cli/image-subject.ts);
 * `--policy P` packs and the gate flags (`--severity`, `--ignore-unfixed`, `--exit-code`,
 * shorthand for an inline policy: src/vuln/gate-policy.ts) are evaluated by the one policy
 * engine, which alone decides: this command only renders the verdict and sets the exit code.
 */
import { Option, type Command } from 'commander';
import { severityRank, type Finding } from '../../findings/finding.js';
import { writeCycloneDx } from '../../inventory/sbom/cyclonedx.js';
import { compilePolicySet, evaluate, type Verdict } from '../../policy/evaluate.js';
import { loadPacks, resolvePackInput } from '../../policy/pack.js';
import type { Policy, PolicyException } from '../../policy/types.js';
import { getFormatter, parseSeverityList, writeReportText } from '../../report/index.js';
import { subjects } from '../../subjects/index.js';
import { UserError } from '../../util/errors.js';
import { VulnDb, defaultDbPath } from '../../vuln/db.js';
import { GATE_CATEGORY, GATE_POLICY_IDS, gatePolicies } from '../../vuln/gate-policy.js';
import type { ScanReport } from '../../vuln/scan.js';
import { loadIgnoreFile, loadOpenVex } from '../../vuln/suppress.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import { addImageOptions, openOptions, progressFor, type ImageCliOptions } from '../image-options.js';
import { SCANNERS, scanDirectorySubject, scanImageSubject, type ImageSubjectOptions, type ImageSubjectScan, type Scanner } from '../image-subject.js';
import { exitCodeOption, formatOption, outputOption, severityOption } from '../report-options.js';
import { renderScanTable, useColor, type PolicySummary } from '../scan-table.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { cycloneDxSbom, pushImageReport } from '../central-push.js';

interface ScanCliOptions {
  db: string;
  format: 'table' | 'json' | 'sarif' | 'cyclonedx';
  output?: string;
  severity?: string;
  exitCode: number;
  ignoreUnfixed?: boolean;
  offline?: boolean;
  dbMaxAge: string;
  ignorefile?: string;
  vex?: string;
  scanners: string;
  maxImageAge: string;
  policy?: string[];
  trustPolicy?: string;
  failOnUncovered?: boolean;
}

function parseScanners(text: string): Scanner[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) if (!(SCANNERS as readonly string[]).includes(s)) throw new UserError(`--scanners: unknown scanner "${s}" (expected ${SCANNERS.join(', ')})`, 'usage');
  return list as Scanner[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function addScanOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--db <path>', 'vulnerability database file').default(defaultDbPath(), '~/.cache/gatehouse/db/vuln.db'))
    .addOption(formatOption(['table', 'json', 'sarif', 'cyclonedx'], 'output format (cyclonedx: the SBOM with its vulnerabilities)'))
    .addOption(outputOption())
    .addOption(severityOption())
    .addOption(exitCodeOption('when the policy decision is deny; with --policy and no --exit-code, 1'))
    .option('--policy <pack>', 'policy pack to gate on: a file, a directory or a built-in pack name such as build (repeatable)', collect)
    .option('--ignore-unfixed', 'report only vulnerabilities that have a fixed version')
    .option('--ignorefile <file>', 'ids to ignore: .trivyignore lines "ID [exp:YYYY-MM-DD]" or YAML (vulnerabilities: [{id, package, purls, expires, reason, owner}])')
    .option('--vex <file>', 'OpenVEX document: not_affected / fixed statements suppress findings')
    .option('--offline', 'never download (scans only read the local database)')
    .option('--db-max-age <days>', 'warn when the database is older than this', '7')
    .option('--fail-on-uncovered', 'fail when the database has no advisories for an ecosystem of the scanned packages (exit 1, or the --exit-code value; --exit-code 0 never fails)')
    .option('--scanners <list>', `what to look for, comma-separated (${SCANNERS.join(', ')}; secret and hygiene apply to images)`, SCANNERS.join(','));
}

interface Prepared {
  policies: Policy[];
  packExceptions: PolicyException[];
  suppressions: { ignore: PolicyException[]; vex: PolicyException[] };
  subject: ImageSubjectOptions;
  /** The exit code for a deny: --exit-code when given, else 1 with --policy (0 without: nothing can deny). */
  denyCode: number;
  /** With --fail-on-uncovered, the exit code when an ecosystem has no advisories: --exit-code when given, else 1. */
  uncoveredCode: number;
}

/** Everything that can be wrong with the flags and packs, checked before any scanning. */
async function prepare(cmd: Command, o: ScanCliOptions): Promise<Prepared> {
  const severities = parseSeverityList(o.severity);
  const maxDbAgeDays = Number(o.dbMaxAge);
  if (!(maxDbAgeDays >= 0)) throw new UserError(`--db-max-age must be a number of days, got "${o.dbMaxAge}"`, 'usage');
  const scanners = parseScanners(o.scanners);
  const loaded = o.policy?.length ? await loadPacks(o.policy.map(resolvePackInput), subjects()) : undefined;
  const explicitExit = cmd.getOptionValueSource('exitCode') === 'cli';
  // The gate flags are a policy too; with --exit-code 0 it could never change the outcome.
  const gate = explicitExit && o.exitCode !== 0 ? gatePolicies({ severities, ignoreUnfixed: o.ignoreUnfixed }) : [];
  return {
    policies: [...(loaded?.policies ?? []), ...gate],
    packExceptions: loaded?.exceptions ?? [],
    suppressions: { ignore: o.ignorefile ? loadIgnoreFile(o.ignorefile) : [], vex: o.vex ? loadOpenVex(o.vex) : [] },
    subject: { scanners, severities, ignoreUnfixed: o.ignoreUnfixed, maxDbAgeDays },
    denyCode: explicitExit ? o.exitCode : loaded ? 1 : 0,
    uncoveredCode: o.failOnUncovered ? (explicitExit ? o.exitCode : 1) : 0,
  };
}

/** The report's policy section: the verdict in short, for json and the table. */
function summarize(verdict: Verdict, policies: Policy[]): PolicySummary {
  return {
    decision: verdict.decision,
    enforcement: verdict.enforcement,
    policies: policies.filter((p) => p.subject === 'image').map((p) => p.id),
    violations: verdict.violations.length,
    excepted: verdict.excepted.map((x) => ({ id: x.finding.id, owner: x.exception.owner, reason: x.exception.reason })),
    expiredExceptions: verdict.expiredExceptions.filter((e) => e.source === 'policy').map((e) => ({ policy: e.policy, owner: e.owner, expires: e.expires })),
  };
}

async function runScan(command: string, target: string, p: Prepared, o: ScanCliOptions, scan: (opts: ImageSubjectOptions) => Promise<ImageSubjectScan>): Promise<ImageSubjectScan> {
  const now = new Date();
  const db = VulnDb.open(o.db, { readonly: true });
  let result: ImageSubjectScan;
  try {
    result = await scan({ ...p.subject, ...p.suppressions, db, now });
  } finally {
    db.close();
  }
  const report: ScanReport & { policy?: PolicySummary } = result.report;
  let violations: Finding[] = [];
  if (p.policies.length) {
    const set = compilePolicySet(p.policies, subjects(), { exceptions: p.packExceptions });
    const verdict = evaluate({ kind: 'image', value: result.facts }, set, { stage: 'build', now, exceptions: [...p.suppressions.ignore, ...p.suppressions.vex] });
    // The gate flags' own violations mirror the findings already shown; pack violations are new.
    violations = verdict.violations.filter((v) => v.data?.category !== GATE_CATEGORY);
    report.policy = summarize(verdict, p.policies.filter((x) => !(GATE_POLICY_IDS as readonly string[]).includes(x.id)));
    if (o.policy?.length && report.policy.policies.length === 0) report.warnings.push(`--policy ${o.policy.join(', ')}: no enabled image policies in these packs; nothing was checked`);
    for (const e of report.policy.expiredExceptions) report.warnings.push(`exception for ${e.policy} (owner ${e.owner}) expired on ${e.expires}: no longer applies`);
    if (verdict.decision === 'deny' && p.denyCode !== 0) process.exitCode = p.denyCode;
  }
  // A DB with nothing for an ecosystem checked none of its packages: "0 vulnerabilities" would be wrong.
  if (p.uncoveredCode !== 0 && report.coverage.some((c) => c.advisories === 0)) process.exitCode = p.uncoveredCode;
  // Secrets and hygiene ride along the same walk; the same severity filter applies to them.
  const keep = p.subject.severities?.length ? new Set(p.subject.severities) : undefined;
  const extra = result.extra.filter((f) => !keep || keep.has(f.severity));
  const scanFindings = [...report.findings, ...extra].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  report.findings = [...scanFindings, ...violations];
  for (const w of report.warnings) process.stderr.write(`gatehouse: warning: ${w}\n`);
  let text: string;
  if (o.format === 'sarif') text = getFormatter('sarif').format(report.findings, { command: `${command} ${target}` });
  else if (o.format === 'cyclonedx') {
    const kind = command.startsWith('image') ? 'image' : 'directory';
    text = writeCycloneDx({ target: { kind, name: target }, inventory: result.inventory, toolVersion: GATEHOUSE_VERSION, vulnerabilities: scanFindings });
  } else if (o.format === 'json') text = `${JSON.stringify(report, null, 2)}\n`;
  else text = renderScanTable(report, !o.output && useColor(process.stdout));
  await writeReportText(text, o.output);
  return result;
}

export function registerFsCommands(program: Command): void {
  // `fs` is shared with `fs sbom` (sbom.ts): whichever registers first creates it.
  const fs = program.commands.find((c) => c.name() === 'fs') ?? program.command('fs').description('scan a directory: a source tree or an unpacked root filesystem');
  const cmd = addScanOptions(fs.command('scan').description('vulnerabilities of the packages found in a directory, gated by --policy packs').argument('<dir>', 'directory'));
  cmd.action(async (dir: string, o: ScanCliOptions) => {
    const p = await prepare(cmd, o);
    await runScan('fs scan', dir, p, o, (opts) => scanDirectorySubject(dir, opts));
  });
}

export function registerImageScanCommand(image: Command): void {
  const cmd = addCentralOptions(addScanOptions(addImageOptions(image.command('scan').description('vulnerabilities, secrets and hygiene of an image, gated by --policy packs; with --server, pushed to Central').argument('<ref>', 'image reference (see `image inspect`)'))))
    .option('--max-image-age <days>', 'report images older than this (hygiene)', '180')
    .option('--trust-policy <file>', 'trust policy (as image verify --policy): verify signatures to fill the image.signed / image.signature.* fields');
  cmd.action(async (ref: string, o: ScanCliOptions & ImageCliOptions & CentralCliOptions) => {
    const maxImageAgeDays = Number(o.maxImageAge);
    if (!(maxImageAgeDays >= 0)) throw new UserError(`--max-image-age must be a number of days, got "${o.maxImageAge}"`, 'usage');
    const central = centralClientFrom(o);
    const p = await prepare(cmd, o);
    const { facts, report, inventory, provenance } = await runScan('image scan', ref, p, o, (opts) =>
      scanImageSubject(ref, { ...opts, maxImageAgeDays, trustPolicy: o.trustPolicy, open: openOptions(o), progress: progressFor }),
    );
    if (central && facts.digest) {
      await pushImageReport(central, {
        digest: facts.digest, refs: [ref], os: inventory.os, created: facts.created, layers: facts.layers,
        sbom: cycloneDxSbom(ref, facts.digest, inventory), findings: report.findings, db: { updatedAt: report.db.updatedAt }, ...provenance,
        ...(facts.signature ? { signature: { verified: facts.signature.signed && facts.signature.trusted, signers: facts.signature.signers, message: facts.signature.reason } } : {}),
      });
    }
  });
}
