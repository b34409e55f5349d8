/**
 * The RBAC risk catalog (data in policies/rbac-risks.yaml): permission patterns that
 * rbac-police, KubiScan and rbac-tool flag. A risk matches a grant (verbs on resources),
 * a role reference (cluster-admin) or a subject (system:anonymous).
 */
import { parseSeverity, type Severity } from '../../findings/finding.js';
import { loadManifests } from '../manifests.js';
import { defaultPackDir } from '../../policy/builtin.js';
import { UserError } from '../../util/errors.js';
import { join } from 'node:path';
import type { Mappings } from '../../policy/types.js';

export interface GrantPattern {
  verbs: string[];
  resources: string[];
  apiGroups?: string[];
  /** Grants the same subject must also hold, in the same namespace or cluster-wide. */
  with?: GrantPattern[];
}

/** Checks one grant pattern (and its `with`), so a typo cannot match everything or nothing. */
function toGrant(g: any, at: string): GrantPattern {
  const list = (k: string, required: boolean): string[] | undefined => {
    const v = g?.[k];
    if (v === undefined && !required) return undefined;
    if (!Array.isArray(v) || !v.length || v.some((x) => typeof x !== 'string')) throw new UserError(`${at}: grant ${k} must be a non-empty list of strings`, 'bad-policy');
    return v as string[];
  };
  const out: GrantPattern = { verbs: list('verbs', true)!, resources: list('resources', true)! };
  const groups = list('apiGroups', false);
  if (groups) out.apiGroups = groups;
  if (g?.with !== undefined) {
    if (!Array.isArray(g.with) || !g.with.length) throw new UserError(`${at}: grant with must be a non-empty list of grants`, 'bad-policy');
    out.with = g.with.map((w: unknown) => toGrant(w, at));
  }
  return out;
}

export interface RbacRisk {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  remediation?: string;
  mappings: Mappings;
  /** Any of these grants (each with its `with` grants) makes the subject risky. */
  grants?: GrantPattern[];
  /** A '*' in verbs, resources or apiGroups. */
  wildcard?: boolean;
  /** Bindings to these roles. */
  roleRefs?: string[];
  /** Bindings to these subjects (users/groups). */
  subjects?: string[];
}

export async function loadRbacRisks(paths?: string[]): Promise<RbacRisk[]> {
  const { objects, notes } = await loadManifests(paths ?? [join(defaultPackDir(), 'rbac-risks.yaml')]);
  const err = notes.find((n) => n.level === 'error');
  if (err) throw new UserError(`${err.file}${err.line ? `:${err.line}` : ''}: ${err.message}`, 'bad-policy');
  const risks: RbacRisk[] = [];
  for (const o of objects) {
    if (o.kind !== 'RbacRiskPack') continue;
    (Array.isArray(o.raw.risks) ? o.raw.risks : []).forEach((r: any, i: number) => {
      const at = () => `${o.source.file}:${o.positionOf(['risks', i]).line}`;
      if (typeof r?.id !== 'string') throw new UserError(`${at()}: risk needs an id`, 'bad-policy');
      let severity: Severity;
      try {
        severity = parseSeverity(String(r.severity));
      } catch (e) {
        throw new UserError(`${at()}: risk ${r.id}: ${(e as Error).message}`, 'bad-policy');
      }
      if (!r.grants && !r.wildcard && !r.roleRefs && !r.subjects) throw new UserError(`${at()}: risk ${r.id} matches nothing (grants, wildcard, roleRefs or subjects)`, 'bad-policy');
      if (r.grants !== undefined && !Array.isArray(r.grants)) throw new UserError(`${at()}: risk ${r.id}: grants must be a list`, 'bad-policy');
      const grants = Array.isArray(r.grants) ? r.grants.map((g: unknown) => toGrant(g, `${at()}: risk ${r.id}`)) : undefined;
      risks.push({
        id: r.id, name: String(r.name ?? r.id), description: String(r.description ?? ''), severity,
        remediation: r.remediation, mappings: r.mappings ?? {}, grants, wildcard: r.wildcard === true,
        roleRefs: r.roleRefs, subjects: r.subjects,
      });
    });
  }
  return risks;
}
