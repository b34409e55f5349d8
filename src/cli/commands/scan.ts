/** `gatehouse fs scan DIR` and `gatehouse image scan REF`: vulnerability scans of a root. */
import { Option, type Command } from 'commander';
import { SEVERITIES, parseSeverity, severityRank, type Finding, type Severity } from '../../findings/finding.js';
import { hygieneVisitors, imageHygiene } from '../../hygiene/index.js';
import type { ImageWalk } from '../../image/index.js';
import { openImage } from '../../image/index.js';
import { inventoryDirectory, inventoryImage, type Inventory } from '../../inventory/index.js';
import { UserError } from '../../util/errors.js';
import { VulnDb, defaultDbPath } from '../../vuln/db.js';
import { scanInventory } from '../../vuln/scan.js';
import { loadIgnoreFile, loadOpenVex } from '../../vuln/suppress.js';
import { addImageOptions, openOptions, progressFor, type ImageCliOptions } from '../image-options.js';
import { getFormatter } from '../../report/index.js';
import { writeCycloneDx } from '../../inventory/sbom/cyclonedx.js';
import { GATEHOUSE_VERSION } from '../../version.js';
import { renderScanTable, useColor } from '../scan-table.js';

interface ScanCliOptions {
  db: string;
  format: 'table' | 'json' | 'sarif' | 'cyclonedx';
  severity?: string;
  exitCode: string;
  ignoreUnfixed?: boolean;
  offline?: boolean;
  dbMaxAge: string;
  ignorefile?: string;
  vex?: string;
  scanners: string;
  maxImageAge: string;
}

const SCANNERS = ['vuln', 'secret', 'hygiene'] as const;
type Scanner = (typeof SCANNERS)[number];

function parseScanners(text: string): Scanner[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) if (!(SCANNERS as readonly string[]).includes(s)) throw new UserError(`--scanners: unknown scanner "${s}" (expected ${SCANNERS.join(', ')})`, 'usage');
  return list as Scanner[];
}

function addScanOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--db <path>', 'vulnerability database file').default(defaultDbPath(), '~/.cache/gatehouse/db/vuln.db'))
    .addOption(new Option('--format <format>', 'output format (cyclonedx: the SBOM with its vulnerabilities)').choices(['table', 'json', 'sarif', 'cyclonedx']).default('table'))
    .option('--severity <list>', 'severities to report, comma-separated (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)')
    .option('--exit-code <n>', 'exit code when findings remain after filters', '0')
    .option('--ignore-unfixed', 'report only vulnerabilities that have a fixed version')
    .option('--ignorefile <file>', 'ids to ignore: .trivyignore lines "ID [exp:YYYY-MM-DD]" or YAML (vulnerabilities: [{id, package, expires, reason}])')
    .option('--vex <file>', 'OpenVEX document: not_affected / fixed statements suppress findings')
    .option('--offline', 'never download (scans only read the local database)')
    .option('--db-max-age <days>', 'warn when the database is older than this', '7')
    .option('--scanners <list>', `what to look for, comma-separated (${SCANNERS.join(', ')}; secret and hygiene apply to images)`, SCANNERS.join(','))
    .option('--max-image-age <days>', 'report images older than this (hygiene)', '180');
}

function parseOptions(o: ScanCliOptions): { severities?: Severity[]; exitCode: number; maxDbAgeDays: number } {
  const exitCode = Number(o.exitCode);
  if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) throw new UserError(`--exit-code must be an integer 0-255, got "${o.exitCode}"`);
  const maxDbAgeDays = Number(o.dbMaxAge);
  if (!(maxDbAgeDays >= 0)) throw new UserError(`--db-max-age must be a number of days, got "${o.dbMaxAge}"`);
  const out: { severities?: Severity[]; exitCode: number; maxDbAgeDays: number } = { exitCode, maxDbAgeDays };
  if (o.severity) {
    try {
      out.severities = o.severity.split(',').filter(Boolean).map(parseSeverity);
    } catch (e) {
      throw new UserError(`--severity: ${(e as Error).message}`);
    }
  }
  return out;
}

async function runScan(
  command: string,
  target: string,
  o: ScanCliOptions,
  inventory: () => Promise<Inventory>,
  extraFindings: () => Finding[] = () => [],
): Promise<void> {
  const opts = parseOptions(o);
  const scanners = parseScanners(o.scanners);
  const db = VulnDb.open(o.db, { readonly: true });
  try {
    const ignore = o.ignorefile ? loadIgnoreFile(o.ignorefile) : undefined;
    const vex = o.vex ? loadOpenVex(o.vex) : undefined;
    const inv = await inventory();
    const report = scanInventory(db, scanners.includes('vuln') ? inv : { ...inv, packages: [] }, target, { severities: opts.severities, ignoreUnfixed: o.ignoreUnfixed, maxDbAgeDays: opts.maxDbAgeDays, ignore, vex });
    // Secrets and hygiene ride along the same walk; the same severity filter applies.
    const keep = new Set(opts.severities?.length ? opts.severities : SEVERITIES);
    const extra = extraFindings().filter((f) => keep.has(f.severity));
    report.findings = [...report.findings, ...extra].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
    for (const w of report.warnings) process.stderr.write(`gatehouse: warning: ${w}\n`);
    if (o.format === 'sarif') process.stdout.write(getFormatter('sarif').format(report.findings, { command: `${command} ${target}` }));
    else if (o.format === 'cyclonedx') {
      const kind = command.startsWith('image') ? 'image' : 'directory';
      process.stdout.write(writeCycloneDx({ target: { kind, name: target }, inventory: inv, toolVersion: GATEHOUSE_VERSION, vulnerabilities: report.findings }));
    }
    else process.stdout.write(o.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : renderScanTable(report, useColor(process.stdout)));
    if (report.findings.length > 0 && opts.exitCode !== 0) process.exitCode = opts.exitCode;
  } finally {
    db.close();
  }
}

export function registerFsCommands(program: Command): void {
  // `fs` is shared with `fs sbom` (sbom.ts): whichever registers first creates it.
  const fs = program.commands.find((c) => c.name() === 'fs') ?? program.command('fs').description('scan a directory: a source tree or an unpacked root filesystem');
  addScanOptions(fs.command('scan').description('vulnerabilities of the packages found in a directory').argument('<dir>', 'directory')).action(
    async (dir: string, o: ScanCliOptions) => runScan('fs scan', dir, o, () => inventoryDirectory(dir)),
  );
}

export function registerImageScanCommand(image: Command): void {
  addScanOptions(addImageOptions(image.command('scan').description('vulnerabilities of the packages in an image').argument('<ref>', 'image reference (see `image inspect`)'))).action(
    async (ref: string, o: ScanCliOptions & ImageCliOptions) => {
      const scanners = parseScanners(o.scanners);
      const hygiene = { scanners: scanners.filter((s): s is 'secret' | 'hygiene' => s !== 'vuln'), maxAgeDays: Number(o.maxImageAge) };
      if (!(hygiene.maxAgeDays >= 0)) throw new UserError(`--max-image-age must be a number of days, got "${o.maxImageAge}"`, 'usage');
      let extra: Finding[] = [];
      await runScan(
        'image scan',
        ref,
        o,
        async () => {
          const img = await openImage(ref, openOptions(o));
          const progress = progressFor(img);
          try {
            let walk: ImageWalk | undefined;
            const inv = await inventoryImage(img, { progress: progress.reporter, extraVisitors: hygieneVisitors(hygiene), onWalk: (w) => (walk = w) });
            if (walk) extra = imageHygiene(img, walk, hygiene);
            return inv;
          } finally {
            progress.stop();
            await img.close();
          }
        },
        () => extra,
      );
    },
  );
}
