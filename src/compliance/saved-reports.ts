/**
 * Other commands' JSON reports as inputs (`compliance report --findings FILE`): the checks
 * this command cannot run itself (image policies, Dockerfile rules, runtime alerts) still
 * count, from a report saved where they ran. A finding whose policy id (or id) is a known
 * check is a failed result. Passes only where the report says what was evaluated:
 * - `image scan` / `fs scan` JSON: `policy.policies`, the image policies that ran;
 * - `dockerfile check`: every Dockerfile rule; `rbac analyze`: every RBAC risk;
 * - `node check`: its `results` are CheckResults already.
 * Falco JSON alert lines (`runtime replay --format json`, `sensor`): each alert fails its
 * rule (when Gatehouse knows the rule name) and the runtime policies under its `gatehouse`
 * key. Other reports (`k8s check`) and alerts give failures only: that something was not
 * reported does not say it was checked.
 */
import { basename } from 'node:path';
import { readFile, stat } from 'node:fs/promises';
import type { CheckResult } from '../findings/check-result.js';
import type { Finding, Severity } from '../findings/finding.js';
import { UserError, describeError } from '../util/errors.js';
import type { CheckCatalog } from './catalog.js';

const MAX_BYTES = 256 * 1024 * 1024;

export interface SavedReportResults {
  results: CheckResult[];
  /** `dockerfile check (Dockerfile.json): 3 finding(s)` */
  label: string;
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

export async function readSavedReport(file: string, catalog: CheckCatalog): Promise<SavedReportResults> {
  let text: string;
  try {
    const st = await stat(file);
    if (st.size > MAX_BYTES) throw new UserError(`${file}: ${st.size} bytes is larger than the ${MAX_BYTES}-byte limit for a report`, 'too-large');
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`cannot read ${file}: ${describeError(e)}`, 'bad-path');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const alerts = alertLines(text);
    if (alerts) return resultsFromAlerts(alerts, file, catalog);
    throw new UserError(`${file}: not JSON (${describeError(e)}); give a report written with --format json`, 'bad-input');
  }
  if (isObj(doc) && typeof doc.rule === 'string' && typeof doc.output === 'string') return resultsFromAlerts([doc], file, catalog);
  return resultsFromReport(doc, file, catalog);
}

/** Falco JSON alert lines (one object with rule, priority and output per line), or undefined. */
function alertLines(text: string): Record<string, any>[] | undefined {
  const out: Record<string, any>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (!isObj(v) || typeof v.rule !== 'string' || typeof v.output !== 'string') return undefined;
    out.push(v);
  }
  return out.length ? out : undefined;
}

export function resultsFromAlerts(alerts: readonly Record<string, any>[], file: string, catalog: CheckCatalog): SavedReportResults {
  const where = basename(file);
  const results: CheckResult[] = [];
  const ids = new Set<string>();
  for (const a of alerts) {
    const policies: unknown[] = Array.isArray(a.gatehouse?.policies) ? a.gatehouse.policies : [];
    for (const id of [a.rule, ...policies]) {
      if (typeof id !== 'string' || !catalog.has(id)) continue;
      ids.add(id);
      const severity: Severity = /^(Emergency|Alert|Critical)$/i.test(String(a.priority)) ? 'CRITICAL' : /^Error$/i.test(String(a.priority)) ? 'HIGH' : /^Warning$/i.test(String(a.priority)) ? 'MEDIUM' : 'LOW';
      results.push({ id, title: `${a.rule}${id === a.rule ? '' : ` (policy ${id})`}`, status: 'fail', severity, evidence: [`alert (${where}) ${a.time ?? ''} ${a.priority ?? ''}: ${a.output}`.replace(/\s+/g, ' ')] });
    }
  }
  return { results, label: `runtime alerts (${where}): ${alerts.length} alert(s), ${ids.size} failed check(s)` };
}

export function resultsFromReport(doc: unknown, file: string, catalog: CheckCatalog): SavedReportResults {
  if (!isObj(doc) || !Array.isArray(doc.findings)) throw new UserError(`${file}: not a Gatehouse JSON report (no "findings" list); give a report written with --format json`, 'bad-input');
  const command = typeof doc.command === 'string' ? doc.command : doc.policy && Array.isArray(doc.policy.policies) ? 'image scan' : 'report';
  const where = basename(file);
  const results: CheckResult[] = [];
  const failed = new Set<string>();
  const findings = doc.findings.filter(isObj) as Finding[];
  for (const f of findings) {
    const id = typeof f.policy?.id === 'string' && catalog.has(f.policy.id) ? f.policy.id : typeof f.id === 'string' && catalog.has(f.id) ? f.id : undefined;
    if (!id) continue;
    failed.add(id);
    const at = f.resource?.file ? ` (${f.resource.file.path}${f.resource.file.line ? `:${f.resource.file.line}` : ''})` : f.resource?.image?.ref ? ` (${f.resource.image.ref})` : '';
    results.push({ id, title: `${f.title ?? id}`, status: 'fail', severity: (f.severity ?? 'UNKNOWN') as Severity, evidence: [`${command} (${where}): ${f.detail ?? f.title ?? id}${at}`], remediation: f.remediation, finding: f });
  }
  let evaluated: string[] = [];
  if (doc.command === 'node check' && Array.isArray(doc.results)) {
    const rs = (doc.results as unknown[]).filter((r): r is CheckResult => isObj(r) && typeof r.id === 'string' && typeof r.status === 'string' && catalog.has(r.id));
    // The node report's own results replace the failures read from its findings.
    return { results: rs.map((r) => ({ ...r, evidence: (r.evidence ?? []).map((e) => `node check (${where}): ${e}`) })), label: `node check (${where}): ${rs.length} result(s)` };
  }
  if (isObj(doc.policy) && Array.isArray(doc.policy.policies)) evaluated = doc.policy.policies.filter((p: unknown): p is string => typeof p === 'string');
  else if (doc.command === 'dockerfile check') evaluated = [...catalog.values()].filter((e) => e.source === 'dockerfile-rule').map((e) => e.id);
  else if (doc.command === 'rbac analyze') evaluated = [...catalog.values()].filter((e) => e.source === 'rbac-risk').map((e) => e.id);
  for (const id of evaluated) {
    if (failed.has(id) || !catalog.has(id)) continue;
    results.push({ id, title: `${catalog.get(id)!.title}: no violation`, status: 'pass', severity: 'UNKNOWN', evidence: [`${command} (${where}) evaluated ${id}: no violation`] });
  }
  return { results, label: `${command} (${where}): ${failed.size} failed and ${evaluated.filter((id) => !failed.has(id)).length} passed check(s)` };
}
