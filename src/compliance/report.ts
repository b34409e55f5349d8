/**
 * `buildComplianceReport(framework, inputs)`: the results of every engine that ran over the
 * inputs, grouped per control of a framework, each control pass, fail, manual or not
 * applicable with its evidence. The library API the CLI and (later) Central call.
 *
 * Per-control status, in this order:
 * 1. fail — some mapped check failed (a failure found automatically is a failure even for a
 *    control the framework assesses manually);
 * 2. manual — the framework assesses the control manually (automated results, if any, are
 *    the evidence for the person who decides), or a mapped check could only be `unknown`
 *    (a fact that could not be read: someone has to look) or is itself `manual`;
 * 3. pass — at least one mapped check was evaluated and every evaluated one passed;
 * 4. not-applicable — no mapped check applies to the inputs given (no object of its kind,
 *    or its engine did not run: image, engine-request and runtime policies need their own
 *    inputs).
 */
import type { CheckResult } from '../findings/check-result.js';
import type { Finding } from '../findings/finding.js';
import type { ManifestObject } from '../kube/manifests.js';
import { buildIndex } from '../kube/object-index.js';
import { analyzeRbac } from '../kube/rbac/analyze.js';
import { loadRbacRisks } from '../kube/rbac/risks.js';
import { GATEHOUSE_VERSION } from '../version.js';
import { builtinCatalog, type CatalogEntry, type CheckCatalog, type RegisteredCheck } from './catalog.js';
import { runClusterChecks } from './cluster-checks.js';
import { loadFramework, type Assessment } from './framework.js';
import { runDeployPolicies } from './policy-results.js';
import { readSavedReport } from './saved-reports.js';

export type ControlStatus = 'pass' | 'fail' | 'manual' | 'not-applicable';
export const CONTROL_STATUSES: readonly ControlStatus[] = ['fail', 'manual', 'pass', 'not-applicable'];

export interface ComplianceInputs {
  /** Kubernetes objects (manifests or a live cluster): deploy policies, RBAC risks, cluster-level checks. */
  objects?: readonly ManifestObject[];
  /** What the objects are, for the report: `cluster kind-dev` or the manifest paths. */
  source?: string;
  /** The cluster name (live mode), for policy scopes. */
  cluster?: string;
  /** Results of other engines' checks (node and control-plane checks of src/node). */
  results?: readonly CheckResult[];
  /** What produced `results`, for the report (`node check on host1`). */
  resultsSource?: string;
  /** The ids other engines register, so their framework fragments validate. */
  registeredChecks?: readonly RegisteredCheck[];
  /** Extra policy packs or exception files for the deploy policies. */
  policyPaths?: string[];
  /** Istio's root namespace (default istio-system). */
  meshRootNamespace?: string;
  /** JSON reports of other commands (image scan, dockerfile check, rbac analyze, node check…). */
  savedReports?: string[];
}

export interface ReportOptions {
  /** A framework folder to read instead of policies/frameworks/<framework>/. */
  frameworkDir?: string;
  now?: Date;
  /**
   * Passed results kept per check of a control (default 50; Infinity for all). Failures and
   * unknowns are always all kept; the counts in `checks` are always complete. A cluster of
   * thousands of objects passes each policy thousands of times: samples, not all of them.
   */
  passSamples?: number;
}

export interface CheckSummary {
  id: string;
  title: string;
  source: CatalogEntry['source'];
  pass: number;
  fail: number;
  unknown: number;
  /** Whether any result of this check exists for the inputs. */
  evaluated: boolean;
}

export interface ControlResult {
  id: string;
  title: string;
  section: string;
  assessment: Assessment;
  description?: string;
  status: ControlStatus;
  /** One line: why this status. */
  reason: string;
  checks: CheckSummary[];
  /**
   * The results behind the status: failures first, then unknown, then passes (up to
   * `passSamples` per check). A failure's Finding is in `findings`, not repeated here.
   */
  results: Omit<CheckResult, 'finding'>[];
  /** The Findings of the failed results. */
  findings: Finding[];
}

export interface ComplianceReport {
  framework: { id: string; title: string; version: string };
  generatedAt: string;
  tool: { name: 'gatehouse'; version: string };
  inputs: string[];
  summary: Record<ControlStatus, number>;
  controls: ControlResult[];
}

/** Everything the engines say about the inputs, as CheckResults. */
export async function gatherResults(inputs: ComplianceInputs, opts: ReportOptions = {}): Promise<CheckResult[]> {
  // Many results on a big cluster: appended in loops (a spread of 100k arguments overflows the stack).
  const out: CheckResult[] = [];
  const add = (rs: readonly CheckResult[]) => {
    for (const r of rs) out.push(r);
  };
  if (inputs.objects) {
    const objects = inputs.objects;
    const index = buildIndex(objects);
    add((await runDeployPolicies(objects, { policyPaths: inputs.policyPaths, cluster: inputs.cluster, now: opts.now })).results);
    add(runClusterChecks(objects, { index, meshRootNamespace: inputs.meshRootNamespace }));
    add(rbacResults(objects, await loadRbacRisks()));
  }
  add(inputs.results ?? []);
  return out;
}

function rbacResults(objects: readonly ManifestObject[], risks: Awaited<ReturnType<typeof loadRbacRisks>>): CheckResult[] {
  const analysis = analyzeRbac(objects, risks);
  if (analysis.subjects === 0) return [];
  const out: CheckResult[] = [];
  for (const risk of risks) {
    const found = analysis.findings.filter((f) => f.id === risk.id);
    if (found.length)
      for (const f of found) out.push({ id: risk.id, title: f.title, status: 'fail', severity: risk.severity, evidence: [`${f.detail ?? f.title}${f.resource.file ? ` (${f.resource.file.path}:${f.resource.file.line})` : ''}`], remediation: risk.remediation, finding: f });
    else out.push({ id: risk.id, title: `${risk.name}: none`, status: 'pass', severity: risk.severity, evidence: [`none of the ${analysis.subjects} subject(s) bound by the RBAC objects holds it`], remediation: risk.remediation });
  }
  return out;
}

const RANK: Record<CheckResult['status'], number> = { fail: 0, unknown: 1, manual: 2, pass: 3, 'not-applicable': 4 };

export function evaluateControls(
  framework: { controls: readonly { id: string; title: string; section: string; assessment: Assessment; description?: string; checks: readonly string[] }[] },
  results: readonly CheckResult[],
  catalog: CheckCatalog,
  opts: { passSamples?: number } = {},
): ControlResult[] {
  const samples = opts.passSamples ?? 50;
  const byId = new Map<string, CheckResult[]>();
  for (const r of results) {
    const list = byId.get(r.id);
    if (list) list.push(r);
    else byId.set(r.id, [r]);
  }
  return framework.controls.map((c) => {
    const mine: CheckResult[] = [];
    for (const id of c.checks) {
      let passes = 0;
      for (const r of byId.get(id) ?? []) if (r.status !== 'pass' || passes++ < samples) mine.push(r);
    }
    mine.sort((a, b) => RANK[a.status] - RANK[b.status]);
    const checks: CheckSummary[] = c.checks.map((id) => {
      const rs = byId.get(id) ?? [];
      const n = (s: CheckResult['status']) => rs.filter((r) => r.status === s).length;
      return { id, title: catalog.get(id)?.title ?? id, source: catalog.get(id)?.source ?? 'policy', pass: n('pass'), fail: n('fail'), unknown: n('unknown'), evaluated: rs.some((r) => r.status === 'pass' || r.status === 'fail' || r.status === 'unknown') };
    });
    const failed = checks.filter((k) => k.fail > 0);
    const unknown = checks.filter((k) => k.unknown > 0);
    const needsPerson = checks.filter((k) => (byId.get(k.id) ?? []).some((r) => r.status === 'manual'));
    const evaluated = checks.filter((k) => k.evaluated);
    const notEvaluated = checks.filter((k) => !k.evaluated).map((k) => k.id);
    let status: ControlStatus;
    let reason: string;
    const count = (k: CheckSummary[], f: (s: CheckSummary) => number) => k.reduce((a, s) => a + f(s), 0);
    if (failed.length) {
      status = 'fail';
      reason = `${count(failed, (s) => s.fail)} failed result(s) of ${failed.map((k) => k.id).join(', ')}`;
    } else if (c.assessment === 'manual') {
      status = 'manual';
      reason = `assessed manually${evaluated.length ? `; automated evidence: ${count(evaluated, (s) => s.pass)} passed result(s) of ${evaluated.map((k) => k.id).join(', ')}` : ''}`;
    } else if (unknown.length) {
      status = 'manual';
      reason = `could not be determined automatically: ${unknown.map((k) => k.id).join(', ')} unknown; check by hand`;
    } else if (needsPerson.length) {
      status = 'manual';
      reason = `${needsPerson.map((k) => k.id).join(', ')} need(s) a person to decide`;
    } else if (evaluated.length) {
      status = 'pass';
      reason = `${count(evaluated, (s) => s.pass)} passed result(s) of ${evaluated.map((k) => k.id).join(', ')}${notEvaluated.length ? `; not evaluated on these inputs: ${notEvaluated.join(', ')}` : ''}`;
    } else {
      status = 'not-applicable';
      reason = c.checks.length ? `no mapped check applies to the inputs (${c.checks.join(', ')})` : 'no automated check maps to this control';
    }
    return {
      id: c.id,
      title: c.title,
      section: c.section,
      assessment: c.assessment,
      ...(c.description ? { description: c.description } : {}),
      status,
      reason,
      checks,
      results: mine.map(({ finding: _finding, ...rest }) => rest),
      findings: mine.flatMap((r) => (r.status === 'fail' && r.finding ? [r.finding] : [])),
    };
  });
}

export async function buildComplianceReport(framework: string, inputs: ComplianceInputs, opts: ReportOptions = {}): Promise<ComplianceReport> {
  const catalog = await builtinCatalog({ registered: inputs.registeredChecks });
  const fw = await loadFramework(framework, catalog, { dir: opts.frameworkDir });
  const results = await gatherResults(inputs, opts);
  const saved: string[] = [];
  for (const file of inputs.savedReports ?? []) {
    const r = await readSavedReport(file, catalog);
    for (const x of r.results) results.push(x);
    saved.push(r.label);
  }
  const controls = evaluateControls(fw, results, catalog, { passSamples: opts.passSamples });
  const summary = { pass: 0, fail: 0, manual: 0, 'not-applicable': 0 } as Record<ControlStatus, number>;
  for (const c of controls) summary[c.status]++;
  const sources = [
    ...(inputs.objects ? [`${inputs.source ?? 'Kubernetes objects'}: ${inputs.objects.length} object(s)`] : []),
    ...(inputs.results ? [`${inputs.resultsSource ?? 'check results'}: ${inputs.results.length} result(s)`] : []),
    ...saved,
  ];
  return {
    framework: { id: fw.id, title: fw.title, version: fw.version },
    generatedAt: (opts.now ?? new Date()).toISOString(),
    tool: { name: 'gatehouse', version: GATEHOUSE_VERSION },
    inputs: sources,
    summary,
    controls,
  };
}
