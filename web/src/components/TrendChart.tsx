/**
 * The dashboard's trends (GET /api/v1/summary/trends): open violations per day by severity as
 * lines, drawn with uPlot (small, canvas, fast with thousands of points), in the severity
 * colours of the stylesheet so both themes read. The same numbers are a table for screen
 * readers and keyboard users (and the tests), under "Show as a table".
 */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { SEVERITIES } from '../api/types';

export interface TrendPoint {
  date: string;
  open: { total: number; bySeverity: Record<string, number>; byStage: Record<string, number> };
  alerts: number;
  incidents: number;
}

/** A CSS custom property's value on the page (the theme's colour for a severity). */
const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';

export function TrendChart({ points }: { points: TrendPoint[] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el || points.length === 0) return;
    const x = points.map((p) => Date.parse(`${p.date}T12:00:00Z`) / 1000);
    const series = SEVERITIES.map((s) => points.map((p) => p.open.bySeverity[s] ?? 0));
    const make = () => new uPlot({
      width: Math.max(280, el.clientWidth),
      height: 180,
      legend: { show: true },
      axes: [
        { stroke: cssVar('--muted'), grid: { stroke: cssVar('--border') }, ticks: { stroke: cssVar('--border') } },
        { stroke: cssVar('--muted'), grid: { stroke: cssVar('--border') }, ticks: { stroke: cssVar('--border') } },
      ],
      series: [{}, ...SEVERITIES.map((s) => ({ label: s.toLowerCase(), stroke: cssVar(`--${s.toLowerCase()}`), width: 2 }))],
    }, [x, ...series], el);
    let plot = make();
    // Redrawn on a theme change (the colours are read once per draw) and when the card resizes.
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    const redraw = () => { plot.destroy(); plot = make(); };
    media.addEventListener('change', redraw);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, el.clientWidth), height: 180 }));
    resize.observe(el);
    return () => {
      media.removeEventListener('change', redraw);
      resize.disconnect();
      plot.destroy();
    };
  }, [points]);
  if (points.length === 0) return <p className="muted">No data yet.</p>;
  const last = points[points.length - 1]!;
  return (
    <>
      <div ref={box} className="trend-chart" role="img" aria-label={`Open violations per day for the last ${points.length} days; today ${last.open.total}`} />
      <details>
        <summary>Show as a table</summary>
        {/* Scrolls inside the card: nine columns are wider than a dashboard card. */}
        <div className="table-scroll" tabIndex={0} role="group" aria-label="Open violations per day">
        <table className="compact" data-testid="trends-table">
          <thead><tr><th scope="col">Day</th>{SEVERITIES.map((s) => <th key={s} scope="col">{s.toLowerCase()}</th>)}<th scope="col">Open</th><th scope="col">Alerts</th><th scope="col">Incidents</th></tr></thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.date}>
                <th scope="row" className="nowrap">{p.date}</th>
                {SEVERITIES.map((s) => <td key={s}>{p.open.bySeverity[s] ?? 0}</td>)}
                <td>{p.open.total}</td><td>{p.alerts}</td><td>{p.incidents}</td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      </details>
    </>
  );
}
