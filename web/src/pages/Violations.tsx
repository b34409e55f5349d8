/**
 * `/violations`: filter by policy, stage, state and severity; create an exception for one.
 * States change live: an exception created here or anywhere re-reads the list (SSE).
 */
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { createColumnHelper } from '@tanstack/react-table';
import { query } from '../api/client';
import { useLiveChanges } from '../api/hooks';
import { SEVERITIES, STAGES, type Violation } from '../api/types';
import { Filters, useFilters } from '../components/Filters';
import { PagedTable } from '../components/PagedTable';
import { ExceptionDialog } from '../components/ExceptionDialog';
import { SeverityBadge, StateBadge, When } from '../components/bits';

const col = createColumnHelper<Violation>();

function subjectLink(v: Violation) {
  if (v.subjectKind === 'image') return <Link to={`/images/${v.subject}`}>{v.finding?.resource.image?.ref ?? v.subject.slice(0, 19)}</Link>;
  if (v.subjectKind === 'deployment') return <Link to={`/deployments/${encodeURIComponent(v.subject)}`}>{v.finding?.resource.k8s?.name ?? v.subject}</Link>;
  const k = v.finding?.resource.k8s;
  return <span>{k ? `${k.namespace ? `${k.namespace}/` : ''}${k.kind}/${k.name}` : v.subject}</span>;
}

export function Violations() {
  const f = useFilters(['policy', 'stage', 'state', 'severity']);
  const [refresh, setRefresh] = useState(0);
  const [excepting, setExcepting] = useState<Violation | null>(null);
  useLiveChanges(['exceptions', 'policies', 'image', 'images', 'alerts', 'objects', 'deployments', 'violations'], () => setRefresh((n) => n + 1));
  const columns = useMemo(() => [
    col.accessor('severity', { header: 'Severity', size: 100, cell: (c) => <SeverityBadge severity={c.getValue()} /> }),
    col.accessor('title', { header: 'Violation', size: 340 }),
    col.accessor('policyId', { header: 'Policy', size: 160 }),
    col.accessor('stage', { header: 'Stage', size: 90 }),
    col.display({ id: 'subject', header: 'Subject', size: 200, cell: (c) => subjectLink(c.row.original) }),
    col.accessor('state', { header: 'State', size: 100, cell: (c) => <StateBadge state={c.getValue()} /> }),
    col.accessor('lastSeen', { header: 'Last seen', size: 130, cell: (c) => <When iso={c.getValue()} short /> }),
    col.display({
      id: 'actions', header: () => <span className="sr-only">Actions</span>, size: 80,
      cell: (c) => c.row.original.state === 'active'
        ? <button type="button" className="small" onClick={() => setExcepting(c.row.original)} aria-label={`Except: ${c.row.original.title}`}>Except</button>
        : null,
    }),
  ], []);
  return (
    <>
      <h1>Violations</h1>
      <Filters fields={[
        { name: 'policy', label: 'Policy' }, { name: 'stage', label: 'Stage', options: [...STAGES] },
        { name: 'state', label: 'State', options: ['active', 'excepted', 'resolved'] }, { name: 'severity', label: 'Severity', options: SEVERITIES },
      ]} />
      <PagedTable path={`/api/v1/violations${query(f)}`} columns={columns} label="Violations" rowKey={(v) => v.id} refresh={refresh} empty="No violation matches." />
      {excepting && <ExceptionDialog violation={excepting} onClose={() => setExcepting(null)} onCreated={() => setExcepting(null)} />}
    </>
  );
}
