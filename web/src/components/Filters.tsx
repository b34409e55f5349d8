/**
 * Filters kept in the URL's query string, so a filtered view is a link that can be shared.
 * Each field applies on submit (Enter) or, for selects, on change.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';

export interface FilterField { name: string; label: string; options?: string[]; placeholder?: string; /** Room for long values (workload identities). */ wide?: boolean }

export function useFilters(names: string[]): Record<string, string> {
  const [params] = useSearchParams();
  return Object.fromEntries(names.map((n) => [n, params.get(n) ?? '']));
}

export function Filters({ fields }: { fields: FilterField[] }) {
  const [params, setParams] = useSearchParams();
  const fromUrl = () => Object.fromEntries(fields.map((f) => [f.name, params.get(f.name) ?? '']));
  const [draft, setDraft] = useState<Record<string, string>>(fromUrl);
  // A link to the same page with other filters (or Back) changes the URL under the form: show what applies.
  const key = params.toString();
  useEffect(() => setDraft(fromUrl()), [key]);
  const apply = (values: Record<string, string>) => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(values)) if (v.trim()) next.set(k, v.trim());
    setParams(next);
  };
  const submit = (e: FormEvent) => { e.preventDefault(); apply(draft); };
  return (
    <form className="filters" onSubmit={submit} role="search" aria-label="Filters">
      {fields.map((f) => (
        <label key={f.name}>
          <span>{f.label}</span>
          {f.options ? (
            <select name={f.name} value={draft[f.name] ?? ''} onChange={(e) => { const v = { ...draft, [f.name]: e.target.value }; setDraft(v); apply(v); }}>
              <option value="">any</option>
              {f.options.map((o) => <option key={o} value={o}>{o}</option>)}
            </select>
          ) : (
            <input name={f.name} className={f.wide ? 'wide' : undefined} value={draft[f.name] ?? ''} placeholder={f.placeholder} onChange={(e) => setDraft({ ...draft, [f.name]: e.target.value })} />
          )}
        </label>
      ))}
      <button type="submit">Apply</button>
      <button type="button" className="secondary" onClick={() => { const empty = Object.fromEntries(fields.map((f) => [f.name, ''])); setDraft(empty); apply(empty); }}>Clear</button>
    </form>
  );
}
