/** `/images`: every image Central knows, with vulnerability counts, signature and age. */
import { useMemo, useState } from 'react';
import { Link } from 'react-router';
import { createColumnHelper } from '@tanstack/react-table';
import { query } from '../api/client';
import { useLiveChanges } from '../api/hooks';
import { vulnCount, type Image } from '../api/types';
import { Filters, useFilters } from '../components/Filters';
import { PagedTable } from '../components/PagedTable';
import { age, shortDigest, When } from '../components/bits';

const col = createColumnHelper<Image>();

export function Images() {
  const f = useFilters(['ref']);
  const [refresh, setRefresh] = useState(0);
  useLiveChanges(['image', 'images'], () => setRefresh((n) => n + 1));
  const columns = useMemo(() => [
    col.accessor('refs', { header: 'Image', size: 320, cell: (c) => <Link to={`/images/${c.row.original.digest}`}>{c.getValue()[0] ?? shortDigest(c.row.original.digest)}</Link> }),
    col.accessor('digest', { header: 'Digest', size: 130, cell: (c) => <code>{shortDigest(c.getValue())}</code> }),
    col.display({ id: 'critical', header: 'Critical', size: 70, cell: (c) => vulnCount(c.row.original.summary, 'CRITICAL') }),
    col.display({ id: 'high', header: 'High', size: 70, cell: (c) => vulnCount(c.row.original.summary, 'HIGH') }),
    col.display({ id: 'fixable', header: 'Fixable', size: 70, cell: (c) => c.row.original.summary.fixable }),
    col.accessor('signature', { header: 'Signature', size: 110, cell: (c) => (c.getValue() ? (c.getValue()!.verified ? 'verified' : 'not verified') : 'unknown') }),
    col.accessor('created', { header: 'Age', size: 90, cell: (c) => age(c.getValue()) }),
    col.accessor('scannedAt', { header: 'Scanned', size: 170, cell: (c) => <When iso={c.getValue()} /> }),
  ], []);
  return (
    <>
      <h1>Images</h1>
      <Filters fields={[{ name: 'ref', label: 'Exact reference', placeholder: 'registry/repo:tag' }]} />
      <PagedTable path={`/api/v1/images${query(f)}`} columns={columns} label="Images" rowKey={(i) => i.digest} refresh={refresh} empty="No image yet." />
    </>
  );
}
