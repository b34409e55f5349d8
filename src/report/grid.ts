/**
 * The one aligned-table renderer: columns padded to their widest cell (optionally capped),
 * two spaces between columns, the last column unpadded. Every human table in Gatehouse
 * (findings, who-can, registry audit, image layers, scan sections) is drawn by it.
 */

export interface GridOptions {
  /** Cap on a column's padded width (longer cells still print in full). */
  maxWidth?: number;
  /**
   * Decorates a body cell after padding (escape codes have no width, so colour goes here).
   * Receives the padded text and the raw cell; returns what to print.
   */
  decorate?: (padded: string, cell: string, row: number, column: number) => string;
}

export function renderGrid(headers: readonly string[], rows: readonly (readonly string[])[], opts: GridOptions = {}): string {
  const cap = opts.maxWidth ?? Infinity;
  const widths = headers.map((h, i) => Math.min(cap, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: readonly string[], row: number) =>
    cells
      .map((c, i) => {
        const padded = i === cells.length - 1 ? c : c.padEnd(widths[i]!);
        return row >= 0 && opts.decorate ? opts.decorate(padded, c, row, i) : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(headers, -1), ...rows.map((r, i) => line(r, i))].join('\n');
}
