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
}

export interface RbacRisk {
  id: string;
  name: string;
  description: string;
  severity: Severity;
  remediation?: string;
  mappings: Mappings;
  /** Any of these grants makes the rule risky. */
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
      risks.push({
        id: r.id, name: String(r.name ?? r.id), description: String(r.description ?? ''), severity,
        remediation: r.remediation, mappings: r.mappings ?? {}, grants: r.grants, wildcard: r.wildcard === true,
        roleRefs: r.roleRefs, subjects: r.subjects,
      });
    });
  }
  return risks;
}
