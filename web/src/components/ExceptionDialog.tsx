/**
 * Creating an exception for one violation: owner, reason and expiry are required (Central
 * refuses an exception without them). The scope is the violation's policy and subject.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Violation } from '../api/types';

/** The exception's scope from the violation: policy, plus its workload or image. */
export function exceptionScope(v: Violation): Record<string, string> {
  const scope: Record<string, string> = { policy: v.policyId };
  const k8s = v.finding?.resource.k8s;
  const image = v.finding?.resource.image;
  if (k8s) {
    if (k8s.namespace) scope.namespace = k8s.namespace;
    scope.workload = k8s.name;
  } else if (image?.digest || v.subjectKind === 'image') {
    scope.image = image?.digest ?? v.subject;
  }
  return scope;
}

const inDays = (n: number) => new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);

export function ExceptionDialog({ violation, onClose, onCreated }: { violation: Violation; onClose: () => void; onCreated: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [owner, setOwner] = useState('');
  const [reason, setReason] = useState('');
  const [expires, setExpires] = useState(inDays(30));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const titleId = useId();
  const scope = exceptionScope(violation);

  useEffect(() => {
    const d = dialog.current;
    d?.showModal();
    return () => d?.close();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api('POST', '/api/v1/exceptions', { ...scope, owner: owner.trim(), reason: reason.trim(), expires });
      onCreated();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog ref={dialog} aria-labelledby={titleId} onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form onSubmit={submit} className="stack">
        <h2 id={titleId}>Create an exception</h2>
        <p className="muted">For <strong>{violation.title}</strong></p>
        <p className="labels">{Object.entries(scope).map(([k, v]) => <code key={k}>{k}: {v}</code>)}</p>
        <label htmlFor="exc-owner">Owner</label>
        <input id="exc-owner" required maxLength={200} value={owner} onChange={(e) => setOwner(e.target.value)} placeholder="team or person accountable" />
        <label htmlFor="exc-reason">Reason</label>
        <textarea id="exc-reason" required maxLength={5000} rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
        <label htmlFor="exc-expires">Expires (end of day, UTC)</label>
        <input id="exc-expires" type="date" required min={inDays(0)} value={expires} onChange={(e) => setExpires(e.target.value)} />
        {error && <p className="error" role="alert">{error}</p>}
        <div className="actions">
          <button type="submit" disabled={busy}>{busy ? 'Creating…' : 'Create exception'}</button>
          <button type="button" className="secondary" onClick={onClose}>Cancel</button>
        </div>
      </form>
    </dialog>
  );
}
