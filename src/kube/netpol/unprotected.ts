/**
 * Workloads without ingress or egress isolation: no NetworkPolicy isolates them in that
 * direction and no (Baseline)AdminNetworkPolicy has rules in that direction for them, so
 * any peer may connect (ingress) or be reached (egress).
 */
import type { Finding } from '../../findings/finding.js';
import type { AdminPolicyModel, ClusterModel, Workload } from './model.js';
import { NetpolEngine } from './analyze.js';

export interface UnprotectedWorkload {
  workload: Workload;
  /** true: nothing restricts traffic in that direction. */
  ingress: boolean;
  egress: boolean;
}

export function unprotectedWorkloads(model: ClusterModel): UnprotectedWorkload[] {
  const engine = new NetpolEngine(model);
  const admins: AdminPolicyModel[] = [...model.anps, ...(model.banp ? [model.banp] : [])];
  const nsLabels = (w: Workload) => model.namespaces.get(w.namespace)?.labels ?? {};
  const adminCovers = (w: Workload, ingress: boolean): boolean =>
    admins.some((a) => (ingress ? a.ingress : a.egress).length > 0 && a.subjectNs(nsLabels(w)) && a.subjectPod(w.labels));
  const out: UnprotectedWorkload[] = [];
  for (const w of model.workloads) {
    if (w.synthetic) continue;
    const ingress = !engine.isolated(w, true) && !adminCovers(w, true);
    const egress = !engine.isolated(w, false) && !adminCovers(w, false);
    if (ingress || egress) out.push({ workload: w, ingress, egress });
  }
  return out.sort((a, b) => (a.workload.id < b.workload.id ? -1 : a.workload.id > b.workload.id ? 1 : 0));
}

export function unprotectedFindings(list: UnprotectedWorkload[]): Finding[] {
  return list.map(({ workload: w, ingress, egress }) => {
    const dirs = [ingress ? 'ingress' : '', egress ? 'egress' : ''].filter(Boolean).join(' and ');
    return {
      id: 'netpol-unprotected-workload',
      kind: 'misconfiguration',
      severity: ingress ? 'MEDIUM' : 'LOW',
      title: `${w.id} has no ${dirs} isolation`,
      detail: `No NetworkPolicy or AdminNetworkPolicy restricts ${dirs} traffic of ${w.id}: every peer is allowed.`,
      resource: { k8s: { kind: w.kind, namespace: w.namespace, name: w.name, file: w.source?.file, line: w.source?.line } },
      remediation: 'Add a default-deny NetworkPolicy in the namespace and allow only the needed connections (see `gatehouse netpol generate`).',
      data: { ingress, egress },
    };
  });
}
