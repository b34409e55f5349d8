/** Pieces shared by /incidents, /incidents/:id and the dashboard: workload names and links, tactics. */
import { Link } from 'react-router';
import { query } from '../api/client';
import type { Incident } from '../api/types';
import { workloadParts } from '../api/names';

export { readableTitle, workloadParts } from '../api/names';

/** A workload named by its identity, linked to the deployments of its cluster (or host) and namespace. */
export function WorkloadLink({ id }: { id: string }) {
  const w = workloadParts(id);
  if (!w.cluster) return <span title={id}>{w.label}</span>;
  return <Link to={`/deployments${query({ cluster: w.cluster, namespace: w.namespace })}`} title={id}>{w.label}</Link>;
}

/** ATT&CK tactics as small labels, each with its id in the title and a link to attack.mitre.org's description text. */
export function Tactics({ incident, max }: { incident: Pick<Incident, 'tactics'>; max?: number }) {
  const shown = max ? incident.tactics.slice(0, max) : incident.tactics;
  if (shown.length === 0) return <span className="muted">—</span>;
  return (
    <span className="tactics">
      {shown.map((t) => <span key={t.id} className="tactic" title={t.id}>{t.name}</span>)}
      {max && incident.tactics.length > max ? <span className="muted"> +{incident.tactics.length - max}</span> : null}
    </span>
  );
}

/** ATT&CK Enterprise tactics in kill-chain order (policies/attack/techniques.yaml), the /incidents tactic filter's choices. */
export const TACTIC_NAMES = [
  'Reconnaissance', 'Resource Development', 'Initial Access', 'Execution', 'Persistence', 'Privilege Escalation', 'Defense Evasion',
  'Credential Access', 'Discovery', 'Lateral Movement', 'Collection', 'Command and Control', 'Exfiltration', 'Impact',
];

export const LAYER_NAMES: Record<string, string> = { api: 'Kubernetes API', runtime: 'Runtime', network: 'Network', admission: 'Admission' };
