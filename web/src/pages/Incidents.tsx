/**
 * `/incidents`: correlated incidents, most recently active first (cursor-paged, virtualized):
 * severity, state, title, first/last seen, hosts and workloads involved, ATT&CK tactics.
 * Filters (severity, state, host, workload, ATT&CK tactic) live in the URL. Re-read when alerts, decisions, audit events or
 * flows arrive (the API waits for the correlator before answering).
 */
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { createColumnHelper } from '@tanstack/react-table';
import { query } from '../api/client';
import { useLiveChanges } from '../api/hooks';
import { SEVERITIES, type Incident } from '../api/types';
import { Filters, useFilters } from '../components/Filters';
import { PagedTable } from '../components/PagedTable';
import { SeverityBadge, StateBadge, When } from '../components/bits';
import { readableTitle, TACTIC_NAMES, Tactics, workloadParts } from '../components/incidents';

const col = createColumnHelper<Incident>();
const FILTERS = ['severity', 'state', 'host', 'workload', 'tactic'];

/** "node-a, node-b +2". */
function some(list: string[], n = 2): string {
  if (list.length === 0) return '—';
  return list.slice(0, n).join(', ') + (list.length > n ? ` +${list.length - n}` : '');
}

export function Incidents() {
  const f = useFilters(FILTERS);
  const [refresh, setRefresh] = useState(0);
  useLiveChanges(['alerts', 'events', 'incidents'], () => setRefresh((n) => n + 1));
  const columns = useMemo(() => [
    col.accessor('severity', { header: 'Severity', size: 88, cell: (c) => <SeverityBadge severity={c.getValue()} /> }),
    col.accessor('state', { header: 'State', size: 70, cell: (c) => <StateBadge state={c.getValue()} /> }),
    col.accessor('title', { header: 'Incident', size: 262, cell: (c) => <Link to={`/incidents/${encodeURIComponent(c.row.original.id)}`} title={c.getValue()}>{readableTitle(c.getValue())}</Link> }),
    col.display({ id: 'tactics', header: 'ATT&CK tactics', size: 215, cell: (c) => <Tactics incident={c.row.original} max={3} /> }),
    col.display({ id: 'hosts', header: 'Hosts', size: 120, cell: (c) => <span title={c.row.original.hosts.join(', ')}>{some(c.row.original.hosts)}</span> }),
    col.display({ id: 'workloads', header: 'Workloads', size: 160, cell: (c) => <span title={c.row.original.workloads.join('\n')}>{some(c.row.original.workloads.map((w) => workloadParts(w).label), 1)}</span> }),
    col.accessor('firstSeen', { header: 'First seen', size: 152, cell: (c) => <When iso={c.getValue()} short /> }),
    col.accessor('lastSeen', { header: 'Last seen', size: 152, cell: (c) => <When iso={c.getValue()} short /> }),
  ], []);
  const path = `/api/v1/incidents${query(f)}`;
  return (
    <>
      <h1>Incidents</h1>
      <p className="hint">Alerts, admission and engine denials, Kubernetes audit events and network flows that Central correlated into one story: the same workload, pod, process lineage, remote endpoint, or a connection from an incident's workload.</p>
      <Filters fields={[
        { name: 'severity', label: 'Severity', options: SEVERITIES }, { name: 'state', label: 'State', options: ['open', 'closed'] },
        { name: 'tactic', label: 'ATT&CK tactic', options: TACTIC_NAMES }, { name: 'host', label: 'Host', placeholder: 'node-a' },
        { name: 'workload', label: 'Workload', placeholder: 'k8s:cluster/ns/Deployment/name', wide: true },
      ]} />
      <PagedTable path={path} columns={columns} label="Incidents" rowKey={(i) => i.id} refresh={refresh} empty="No incident matches." />
    </>
  );
}
