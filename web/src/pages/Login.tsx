/** `/login`: paste an API token. It is checked against the API, then kept in sessionStorage. */
import { useId, useState, type FormEvent } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { api, ApiError } from '../api/client';
import { session } from '../api/session';

export function Login() {
  const navigate = useNavigate();
  const location = useLocation();
  const [message] = useState(() => session.takeMessage());
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errorId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (!value) return setError('Paste an API token (gatehouse token create, or the admin token Central printed at its first start).');
    setBusy(true);
    try {
      // Any read route checks the token; a one-row page is the cheapest.
      await api('GET', '/api/v1/deployments?limit=1', undefined, value);
      session.signIn(value);
      const from = (location.state as { from?: string } | null)?.from;
      navigate(from && from !== '/login' ? from : '/', { replace: true });
    } catch (err) {
      const e2 = err instanceof ApiError ? err : new ApiError(0, 'error', String(err));
      setError(e2.status === 401 ? `That token was refused: ${e2.message}.`
        : e2.status === 403 ? `That token's role cannot read the inventory: ${e2.message}.`
        : e2.code === 'unreachable' ? 'Central cannot be reached. Check that it is running and try again.'
        : e2.message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="login">
      <form className="card" onSubmit={submit} aria-describedby={error ? errorId : undefined}>
        <h1>Sign in to Gatehouse</h1>
        {message && <p className="notice" role="status">{message}</p>}
        <label htmlFor="token">API token</label>
        <input id="token" name="token" type="password" autoComplete="off" spellCheck={false} value={token}
          onChange={(e) => setToken(e.target.value)} aria-invalid={error ? true : undefined} autoFocus />
        <p className="hint">The token stays in this tab only (session storage) and is sent to Central alone.</p>
        {error && <p id={errorId} className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
