/**
 * A table of API rows paged by the API's cursor: TanStack Table for columns, TanStack
 * Virtual so only the visible rows are in the DOM (15,000 rows stay smooth). The next page
 * is fetched when the last loaded rows scroll into view. A real <table> with spacer rows,
 * so screen readers and axe see table semantics.
 */
import { useEffect, useRef, useState } from 'react';
import { flexRender, getCoreRowModel, useReactTable, type ColumnDef } from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { api, ApiError, connection, type Page } from '../api/client';

const ROW_HEIGHT = 40;

export interface PagedTableProps<T> {
  /** The list path with its filters; `limit` and `cursor` are added. A new path starts over. */
  path: string;
  columns: ColumnDef<T, any>[];
  label: string;
  rowKey: (row: T) => string;
  /** Bumped to re-read from the first page (live changes). */
  refresh?: number;
  pageSize?: number;
  empty?: string;
}

export function PagedTable<T>({ path, columns, label, rowKey, refresh = 0, pageSize = 200, empty = 'Nothing to show.' }: PagedTableProps<T>) {
  const [rows, setRows] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);

  const load = async (from: string | undefined, gen: number, replace: boolean) => {
    setLoading(true);
    try {
      const sep = path.includes('?') ? '&' : '?';
      const page = await api<Page<T>>('GET', `${path}${sep}limit=${pageSize}${from ? `&cursor=${encodeURIComponent(from)}` : ''}`);
      if (gen !== generation.current) return;
      setRows((r) => (replace ? page.items : [...r, ...page.items]));
      setCursor(page.nextCursor);
      setError(null);
    } catch (e) {
      if (gen === generation.current) setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  useEffect(() => {
    const gen = ++generation.current;
    void load(undefined, gen, true);
  }, [path, refresh]);

  // Central back after being unreachable: a table that failed loads again by itself.
  const [retry, setRetry] = useState(0);
  useEffect(() => connection.onReachability(() => { if (connection.reachable) setRetry((n) => n + 1); }), []);
  useEffect(() => {
    if (retry === 0 || !error) return;
    const gen = ++generation.current;
    void load(undefined, gen, true);
  }, [retry]);

  const table = useReactTable({ data: rows, columns, getCoreRowModel: getCoreRowModel(), getRowId: rowKey });
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });
  const items = virtualizer.getVirtualItems();
  const lastIndex = items[items.length - 1]?.index ?? 0;

  useEffect(() => {
    if (cursor && !loading && lastIndex >= rows.length - 20) void load(cursor, generation.current, false);
  }, [lastIndex, cursor, loading, rows.length]);

  const tableRows = table.getRowModel().rows;
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtualizer.getTotalSize() - items[items.length - 1]!.end : 0;
  const colSpan = columns.length;

  return (
    <div className="paged-table">
      {error && <p className="error" role="alert">{error}</p>}
      <div className="table-scroll" ref={scroller} tabIndex={0} role="region" aria-label={label}>
        <table aria-rowcount={cursor ? -1 : rows.length + 1}>
          <thead>
            {table.getHeaderGroups().map((g) => (
              <tr key={g.id}>{g.headers.map((h) => <th key={h.id} scope="col" style={{ width: h.getSize() }}>{flexRender(h.column.columnDef.header, h.getContext())}</th>)}</tr>
            ))}
          </thead>
          <tbody>
            {padTop > 0 && <tr aria-hidden="true"><td colSpan={colSpan} style={{ height: padTop, padding: 0, border: 0 }} /></tr>}
            {items.map((vi) => {
              const row = tableRows[vi.index]!;
              return (
                <tr key={row.id} aria-rowindex={vi.index + 2} style={{ height: ROW_HEIGHT }}>
                  {row.getVisibleCells().map((c) => <td key={c.id}>{flexRender(c.column.columnDef.cell, c.getContext())}</td>)}
                </tr>
              );
            })}
            {padBottom > 0 && <tr aria-hidden="true"><td colSpan={colSpan} style={{ height: padBottom, padding: 0, border: 0 }} /></tr>}
          </tbody>
        </table>
        {!loading && !error && rows.length === 0 && <p className="empty">{empty}</p>}
      </div>
      <p className="table-status" aria-live="polite">
        {loading ? 'Loading…' : error && rows.length === 0 ? 'Not loaded' : `${rows.length.toLocaleString()} ${cursor ? 'loaded, more below' : 'in all'}`}
      </p>
    </div>
  );
}
