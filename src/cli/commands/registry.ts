/** `gatehouse registry …`: registry hygiene (age, size, signatures of every tag). */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { auditRegistry, auditState, parseAge, type AuditRow } from '../../trust/audit.js';
import { loadTrustPolicy } from '../../trust/policy.js';
import { RegistryStore } from '../../trust/registry-write.js';
import { UserError, describeError } from '../../util/errors.js';
import { formatBytes, table } from '../text.js';
import { existsSync } from 'node:fs';
import { SEVERITIES, type Finding, type Severity } from '../../findings/finding.js';
import { formatNames, getFormatter, writeFileAtomic } from '../../report/index.js';
import { exitCodeOption, formatOption, outputOption, writeOutput } from '../report-options.js';
import { VulnDb, defaultDbPath } from '../../vuln/db.js';
import { countImageVulnerabilities } from '../../vuln/count.js';
import { addCentralOptions, centralClientFrom, type CentralCliOptions } from '../central-options.js';
import { pushFindingReports } from '../central-push.js';

interface AuditCliOptions {
  repo?: string;
  maxAge: string;
  format: string;
  output?: string;
  policy?: string;
  state?: string;
  concurrency: string;
  pageSize: string;
  exitCode: number;
  insecure?: boolean;
  authfile?: string;
  db?: string;
  vulns: boolean;
}

export function registerRegistryCommands(program: Command): Command {
  const registry = program.command('registry').description('registry hygiene');
  const audit = registry
    .command('audit')
    .description('every tag of a registry: digest, created, age, size, signed/verified; flags stale, unsigned and moved tags')
    .argument('<registry>', 'registry host[:port]')
    .option('--repo <glob>', 'only repositories matching this glob (e.g. "team/**")')
    .option('--max-age <age>', 'images older than this are stale (d, w, m, y)', '180d')
    .addOption(formatOption([...new Set(['table', 'json', 'csv', ...formatNames()])], 'output format (sarif, junit: one finding per flag)'))
    .addOption(outputOption())
    .option('--policy <file>', 'trust policy YAML: report whether each tag is verified under it')
    .option('--state <file>', 'tag→digest file from the previous audit (read, then rewritten) to flag tags that moved')
    .option('--concurrency <n>', 'tags examined at once', '4')
    .addOption(new Option('--page-size <n>', 'catalog/tag list page size').default('1000').hideHelp())
    .addOption(exitCodeOption('when any tag is flagged'))
    .option('--db <path>', `vulnerability database for the counts per tag (default ${defaultDbPath()}; counts are left out when there is none)`)
    .option('--no-vulns', 'do not scan images for vulnerability counts')
    .option('--insecure', 'use plain HTTP for the registry (loopback registries always use it)')
    .option('--authfile <file>', 'registry credentials file');
  addCentralOptions(audit).action(async (host: string, o: AuditCliOptions & CentralCliOptions) => {
      const central = centralClientFrom(o);
      let maxAgeDays: number;
      try {
        maxAgeDays = parseAge(o.maxAge);
      } catch (e) {
        throw new UserError(describeError(e), 'usage');
      }
      const concurrency = positiveInt(o.concurrency, '--concurrency');
      const pageSize = positiveInt(o.pageSize, '--page-size');
      const policy = o.policy ? await loadTrustPolicy(o.policy) : undefined;
      const previous = o.state ? await readState(o.state) : undefined;
      const store = new RegistryStore(host, { insecure: o.insecure || undefined, authFile: o.authfile });
      const dbPath = o.db ?? defaultDbPath();
      let db: VulnDb | undefined;
      if (o.vulns && existsSync(dbPath)) db = VulnDb.open(dbPath, { readonly: true });
      else if (o.vulns) process.stderr.write(`gatehouse: no vulnerability database at ${dbPath}: vulnerability counts left out (gatehouse db update)\n`);
      const insecure = store.client.baseUrl.startsWith('http:');
      const bar =
        process.stderr.isTTY && !process.env.CI
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'auditing [{bar}] {value}/{total} tags', clearOnComplete: true }, cliProgress.Presets.shades_classic)
          : undefined;
      let rows: AuditRow[];
      try {
        rows = await auditRegistry(store, {
          repo: o.repo,
          maxAgeDays,
          policy,
          previous,
          concurrency,
          pageSize,
          onProgress: (done, total) => (done === 0 ? bar?.start(total, 0) : bar?.update(done)),
          vulnerabilities: db && ((ref) => countImageVulnerabilities(db, ref, { insecure, authFile: o.authfile })),
        });
      } finally {
        bar?.stop();
        await store.close();
        db?.close();
      }
      if (o.state) await writeFileAtomic(o.state, `${JSON.stringify(auditState(rows), null, 1)}\n`);
      const text = o.format === 'table' || o.format === 'json' || o.format === 'csv' ? render(rows, o.format) : getFormatter(o.format).format(auditFindings(host, rows), { command: 'registry audit' });
      await writeOutput(text, o);
      if (rows.some((r) => r.flags.length > 0)) process.exitCode = o.exitCode;
      if (central) {
        // One report per repository audited: a repository whose flags are gone is cleared in Central.
        const findings = auditFindings(host, rows);
        const repos = [...new Set(rows.map((r) => r.repository))].sort();
        await pushFindingReports(central, repos.map((repo) => ({
          source: 'registry-audit', target: `${host}/${repo}`, findings: findings.filter((f) => f.data?.repository === repo),
        })));
      }
    });
  return registry;
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`${flag} must be a positive integer`, 'usage');
  return n;
}

async function readState(path: string): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // first audit
    throw new UserError(`cannot read ${path}: ${describeError(e)}`, 'io');
  }
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as Record<string, string>;
  } catch {
    throw new UserError(`${path}: not an audit state file (expected a JSON object of repository:tag → digest)`, 'bad-state');
  }
}

const FLAG_FINDING: Record<string, { severity: Severity; title: string }> = {
  stale: { severity: 'MEDIUM', title: 'image is older than --max-age' },
  unsigned: { severity: 'MEDIUM', title: 'image has no signature' },
  unverified: { severity: 'HIGH', title: 'image is not verified under the trust policy' },
  moved: { severity: 'LOW', title: 'tag points to another digest than at the previous audit' },
  error: { severity: 'UNKNOWN', title: 'tag could not be audited' },
};

/** One Finding per flag of every tag, for the Finding formats (sarif, junit). */
function auditFindings(host: string, rows: AuditRow[]): Finding[] {
  return rows.flatMap((r) =>
    r.flags.map((flag): Finding => {
      const ref = `${host}/${r.repository}:${r.tag}`;
      const d = FLAG_FINDING[flag] ?? { severity: 'UNKNOWN' as Severity, title: flag };
      const detail =
        flag === 'stale' ? `${ref} was created ${r.created ?? '?'} (${r.ageDays ?? '?'} days ago)`
        : flag === 'moved' ? `${ref} moved from ${r.previousDigest ?? '?'} to ${r.digest ?? '?'}`
        : flag === 'error' ? `${ref}: ${r.error ?? 'unknown error'}`
        : ref;
      return {
        id: `registry-${flag}`,
        kind: 'hygiene',
        severity: d.severity,
        title: d.title,
        detail,
        resource: { image: { ref, digest: r.digest } },
        data: { repository: r.repository, tag: r.tag, flag },
      };
    }),
  );
}

const COLUMNS = ['repository', 'tag', 'digest', 'created', 'ageDays', 'size', 'signed', 'verified', 'flags', 'error'] as const;
/** Severities shown most severe first, as scanners list them. */
const SEVERITY_COLUMNS = [...SEVERITIES].reverse();

function render(rows: AuditRow[], format: string): string {
  const withVulns = rows.some((r) => r.vulnerabilities);
  if (format === 'json') return `${JSON.stringify(rows, null, 2)}\n`;
  if (format === 'csv') {
    const cell = (v: unknown) => {
      const s = v === undefined ? '' : Array.isArray(v) ? v.join(' ') : String(v);
      return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const vulnHead = withVulns ? SEVERITY_COLUMNS.map((s) => `vuln${s[0]}${s.slice(1).toLowerCase()}`) : [];
    const vulnCells = (r: AuditRow) => (withVulns ? SEVERITY_COLUMNS.map((s) => cell(r.vulnerabilities?.[s])) : []);
    return `${[[...COLUMNS, ...vulnHead].join(','), ...rows.map((r) => [...COLUMNS.map((c) => cell(r[c])), ...vulnCells(r)].join(','))].join('\n')}\n`;
  }
  if (rows.length === 0) return 'no tags found\n';
  const vulnCell = (r: AuditRow) => (r.vulnerabilities ? SEVERITY_COLUMNS.map((s) => `${s[0]}:${r.vulnerabilities![s] ?? 0}`).join(' ') : '-');
  return `${table(
    ['REPOSITORY', 'TAG', 'DIGEST', 'CREATED', 'AGE', 'SIZE', 'SIGNED', ...(withVulns ? ['VULNERABILITIES'] : []), 'FLAGS'],
    rows.map((r) => [
      r.repository,
      r.tag,
      r.digest?.slice(0, 19) ?? '-',
      r.created?.slice(0, 10) ?? '-',
      r.ageDays === undefined ? '-' : `${r.ageDays}d`,
      r.size === undefined ? '-' : formatBytes(r.size),
      r.verified === undefined ? (r.signed ? 'yes' : 'no') : r.verified ? 'verified' : r.signed ? 'unverified' : 'no',
      ...(withVulns ? [vulnCell(r)] : []),
      [...r.flags, r.error ?? ''].filter(Boolean).join(', '),
    ]),
  )}\n`;
}
