/**
 * `gatehouse ci check image REF` and `ci check deployment FILE...`: the CI gate as roxctl
 * users know it. The image is scanned here (as `image scan` does) and the manifests read
 * here (as `k8s check` does); Central evaluates its current policies and exceptions and
 * answers the verdict. Exit 1 when the verdict fails the build, 0 when it passes, 2 on
 * errors (bad flags, unreadable files, Central unreachable or refusing the token).
 */
import { Option, type Command } from 'commander';
import type { CiVerdict } from '../../central/api/ci.js';
import type { Finding } from '../../findings/finding.js';
import { loadManifests, type ManifestObject } from '../../kube/manifests.js';
import { UserError } from '../../util/errors.js';
import { defaultDbPath } from '../../vuln/db.js';
import { addCentralOptions, requireCentralClient, type CentralCliOptions } from '../central-options.js';
import { addImageOptions, openOptions, progressFor, type ImageCliOptions } from '../image-options.js';
import { SCANNERS, scanImageSubject, type Scanner } from '../image-subject.js';
import { addReportOptions, writeReport, type ReportCliOptions } from '../report-options.js';

const FORMATS = ['table', 'json', 'sarif', 'junit'] as const;

type CheckOptions = CentralCliOptions & ReportCliOptions;

export function registerCiCommands(program: Command): Command {
  const ci = program.command('ci').description("CI gate: verdicts of Central's current policies and exceptions (exit 1 when the build must fail)");
  const check = ci.command('check').description('check an image or manifests against Central (roxctl image check / deployment check)');

  const image = addCentralOptions(addReportOptions(addImageOptions(
    check
      .command('image')
      .description('scan an image here, then ask Central for the verdict of its build-stage image policies (fail-build fails)')
      .argument('<ref>', 'image reference (see `image inspect`)')
      .addOption(new Option('--db <path>', 'vulnerability database file').default(defaultDbPath(), '~/.cache/gatehouse/db/vuln.db'))
      .option('--scanners <list>', `what to look for, comma-separated (${SCANNERS.join(', ')})`, SCANNERS.join(','))
      .option('--max-image-age <days>', 'hygiene: report images older than this', '180')
      .option('--trust-policy <file>', 'trust policy (as image verify --policy): verify signatures to fill the image.signed / image.signature.* fields'),
  ), { formats: FORMATS, severity: false, exitCode: false }));
  image.action(async (ref: string, o: CheckOptions & ImageCliOptions & { db: string; scanners: string; maxImageAge: string; trustPolicy?: string }) => {
    const maxImageAgeDays = Number(o.maxImageAge);
    if (!(maxImageAgeDays >= 0)) throw new UserError(`--max-image-age must be a number of days, got "${o.maxImageAge}"`, 'usage');
    const scanners = parseScanners(o.scanners);
    const client = requireCentralClient(o); // no Central, no point scanning
    try {
      const { facts } = await scanImageSubject(ref, { db: o.db, scanners, maxImageAgeDays, trustPolicy: o.trustPolicy, open: openOptions(o), progress: progressFor });
      const verdict = await client.post<CiVerdict>('/api/v1/ci/image-check', { facts });
      await report(`ci check image ${ref}`, verdict, verdict.violations, o);
    } finally {
      await client.close();
    }
  });

  const deployment = addCentralOptions(addReportOptions(
    check
      .command('deployment')
      .description("read manifests here, then ask Central for the verdict of its deploy-stage policies (fail-build or deny-admission fails)")
      .argument('<paths...>', 'manifest files or directories; - reads stdin (e.g. helm template … | gatehouse ci check deployment -)'),
    { formats: FORMATS, severity: false, exitCode: false },
  ));
  deployment.action(async (paths: string[], o: CheckOptions) => {
    const client = requireCentralClient(o);
    try {
      const { objects, notes } = await loadManifests(paths);
      const broken = notes.find((n) => n.level === 'error');
      if (broken) throw new UserError(`${broken.file}${broken.line ? `:${broken.line}` : ''}: ${broken.message}`, 'bad-input');
      if (objects.length === 0) throw new UserError(`no Kubernetes objects in ${paths.join(', ')}`, 'bad-input');
      const verdict = await client.post<CiVerdict>('/api/v1/ci/deployment-check', { objects: objects.map((x) => x.raw) });
      await report(`ci check deployment ${paths.join(' ')}`, verdict, verdict.violations.map((f) => locate(f, objects)), o);
    } finally {
      await client.close();
    }
  });
  return ci;
}

function parseScanners(text: string): Scanner[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list) if (!(SCANNERS as readonly string[]).includes(s)) throw new UserError(`--scanners: unknown scanner "${s}" (expected ${SCANNERS.join(', ')})`, 'usage');
  return list as Scanner[];
}

async function report(command: string, verdict: CiVerdict, violations: Finding[], o: CheckOptions): Promise<void> {
  const notes = [
    `verdict: ${verdict.failBuild ? 'FAIL' : 'pass'} (${verdict.decision})`,
    ...verdict.excepted.map((x) => `${x.policy} excepted (owner ${x.exception.owner}${x.exception.expires ? `, until ${x.exception.expires}` : ''}): ${x.exception.reason}`),
  ];
  await writeReport(violations, { command, notes, extra: { decision: verdict.decision, failBuild: verdict.failBuild, excepted: verdict.excepted } }, o);
  if (verdict.failBuild) process.exitCode = 1;
}

/** Central saw the objects without their files: point each violation back at the file and line it came from. */
function locate(f: Finding, objects: ManifestObject[]): Finding {
  const k = f.resource.k8s;
  if (!k) return f;
  const object = objects.find((x) => x.kind === k.kind && x.name === k.name && (x.namespace ?? undefined) === (k.namespace ?? undefined));
  if (!object) return f;
  const field = typeof f.data?.field === 'string' ? f.data.field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)) : [];
  const pos = object.positionOf(field);
  return { ...f, resource: { ...f.resource, k8s: { ...k, file: pos.file, line: pos.line }, file: { path: pos.file, line: pos.line, column: pos.column } } };
}
