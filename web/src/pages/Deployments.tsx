/** `/deployments`: every workload ranked by risk, each factor's share shown; filters in the URL. */
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { createColumnHelper } from '@tanstack/react-table';
import { query } from '../api/client';
import { useLiveChanges } from '../api/hooks';
import { SEVERITIES, type Deployment } from '../api/types';
import { Filters, useFilters } from '../components/Filters';
import { PagedTable } from '../components/PagedTable';
import { FactorBar } from '../components/RiskFactors';

const col = createColumnHelper<Deployment>();
const FILTERS = ['cluster', 'namespace', 'label', 'severity', 'policy'];

export function Deployments() {
  const f = useFilters(FILTERS);
  const [refresh, setRefresh] = useState(0);
  useLiveChanges(['objects', 'image', 'images', 'alerts', 'exceptions', 'policies', 'deployments'], () => setRefresh((n) => n + 1));
  const columns = useMemo(() => [
    col.accessor('riskScore', { header: 'Risk', size: 70, cell: (c) => <span className="score">{c.getValue().toFixed(1)}</span> }),
    col.accessor('name', { header: 'Deployment', size: 260, cell: (c) => <Link to={`/deployments/${encodeURIComponent(c.row.original.id)}`}>{c.row.original.kind}/{c.getValue()}</Link> }),
    col.accessor('namespace', { header: 'Namespace', size: 140, cell: (c) => c.getValue() ?? '—' }),
    col.display({ id: 'where', header: 'Cluster / host', size: 140, cell: (c) => c.row.original.cluster ?? c.row.original.host ?? '—' }),
    col.accessor('riskFactors', { header: 'Risk factors', size: 260, cell: (c) => <FactorBar factors={c.getValue()} /> }),
    col.display({ id: 'top', header: 'Main factor', size: 200, cell: (c) => { const t = c.row.original.riskFactors[0]; return t && t.contribution > 0 ? `${t.name} (${Math.round(t.contribution * 100)}%)` : '—'; } }),
  ], []);
  return (
    <>
      <h1>Deployments</h1>
      <Filters fields={[
        { name: 'cluster', label: 'Cluster' }, { name: 'namespace', label: 'Namespace' }, { name: 'label', label: 'Label', placeholder: 'app=web' },
        { name: 'severity', label: 'Severity', options: SEVERITIES }, { name: 'policy', label: 'Policy' },
      ]} />
      <PagedTable path={`/api/v1/deployments${query({ sort: 'risk', ...f })}`} columns={columns} label="Deployments ranked by risk"
        rowKey={(d) => d.id} refresh={refresh} empty="No deployment matches." />
    </>
  );
}
