/** The policies API as the /policies page uses it: the list, a dry run (with every problem of a bad pack), an upload. */
import { api, ApiError } from './client';
import { session } from './session';

export interface PolicyItem {
  id: string; name: string; description?: string; severity: string; subject: string; stages: string[];
  scope?: Record<string, unknown>; criteria: unknown; enforcement: string[]; remediation?: string;
  mappings?: Record<string, unknown>; enabled: boolean; category?: string; origin?: { file: string; line: number }; pack: string;
}

export interface DryRunViolation {
  id: string; policyId: string; severity: string; title: string; stage: string;
  subjectKind: string; subjectKey: string; subject: string; state: string; change: string;
}

export interface DryRunResult {
  policies: { id: string; name: string; subject: string; stages: string[]; severity: string; evaluated: boolean; reason?: string }[];
  evaluated: { images: number; deployments: number };
  total: number;
  byPolicy: Record<string, number>;
  bySeverity: Record<string, number>;
  changes: { new: number; unchanged: number; reopened: number; resolved: number };
  violations: DryRunViolation[];
  resolved: DryRunViolation[];
  limit: number;
  truncated: boolean;
}

/** A pack Central refused: the first problem as the message, all of them in `problems`. */
export class PolicyProblems extends ApiError {
  constructor(status: number, code: string, message: string, readonly problems: string[]) {
    super(status, code, message);
  }
}

export async function dryRunPolicy(yaml: string, pack?: string, limit = 200): Promise<DryRunResult> {
  let res: Response;
  try {
    res = await fetch('/api/v1/policies/dry-run', {
      method: 'POST',
      headers: { authorization: `Bearer ${session.token() ?? ''}`, 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ yaml, limit, ...(pack ? { pack } : {}) }),
    });
  } catch {
    // Let the shared client notice (and show) that Central is unreachable.
    return api<DryRunResult>('POST', '/api/v1/policies/dry-run', { yaml, limit, ...(pack ? { pack } : {}) });
  }
  const body = (await res.json().catch(() => ({}))) as Partial<DryRunResult> & { error?: string; message?: string; problems?: string[] };
  if (!res.ok) {
    if (res.status === 401 || res.status >= 502) return api<DryRunResult>('POST', '/api/v1/policies/dry-run', { yaml, limit, ...(pack ? { pack } : {}) });
    throw new PolicyProblems(res.status, body.error ?? 'error', body.message ?? `HTTP ${res.status}`, body.problems ?? (body.message ? [body.message] : []));
  }
  return body as DryRunResult;
}

export function uploadPack(pack: string, yaml: string): Promise<{ pack: string; policies: string[] }> {
  return api('POST', '/api/v1/policies', { pack, yaml });
}

/** A one-policy pack in the pack format, from a policy as the API returns it. */
export function packOf(p: PolicyItem, packName: string): Record<string, unknown> {
  const policy: Record<string, unknown> = { id: p.id, name: p.name };
  if (p.description) policy.description = p.description;
  if (p.category) policy.category = p.category;
  policy.severity = p.severity;
  policy.stages = p.stages;
  if (p.scope && Object.keys(p.scope).length) policy.scope = p.scope;
  policy.criteria = p.criteria;
  policy.enforcement = p.enforcement;
  if (p.remediation) policy.remediation = p.remediation;
  if (p.mappings && Object.keys(p.mappings).length) policy.mappings = p.mappings;
  if (!p.enabled) policy.enabled = false;
  return { apiVersion: 'gatehouse.dev/v1', kind: 'PolicyPack', metadata: { name: packName }, subject: p.subject, policies: [policy] };
}
