/** A deployment's risk explained: each factor's share of the score as a bar, with its multiplier. */
import type { RiskFactor } from '../api/types';

export function FactorBar({ factors }: { factors: RiskFactor[] }) {
  const shown = factors.filter((f) => f.contribution > 0);
  if (shown.length === 0) return <span className="muted">no risk factor</span>;
  return (
    <span className="factor-bar" role="img" aria-label={shown.map((f) => `${f.name} ${Math.round(f.contribution * 100)}%`).join(', ')}>
      {shown.map((f, i) => <span key={f.name} className={`factor f${i % 6}`} style={{ width: `${f.contribution * 100}%` }} title={`${f.name}: ×${f.score.toFixed(2)} (${Math.round(f.contribution * 100)}%)`} />)}
    </span>
  );
}

export function FactorTable({ factors }: { factors: RiskFactor[] }) {
  if (factors.length === 0) return <p className="muted">No risk factor applies.</p>;
  return (
    <table className="compact">
      <thead><tr><th scope="col">Factor</th><th scope="col">Multiplier</th><th scope="col">Share of score</th><th scope="col">Why</th></tr></thead>
      <tbody>
        {factors.map((f) => (
          <tr key={f.name}>
            <th scope="row">{f.name}</th>
            <td>×{f.score.toFixed(2)}</td>
            <td>{Math.round(f.contribution * 100)}%</td>
            <td>{f.details.length ? <ul className="plain">{f.details.map((d) => <li key={d}>{d}</li>)}</ul> : <span className="muted">—</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
