/** The frame of every signed-in page: skip link, navigation, the unreachable banner, sign-out. */
import { useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';
import { api, connection } from '../api/client';
import { closeLiveChanges } from '../api/hooks';
import { session } from '../api/session';

const NAV = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/deployments', label: 'Deployments' },
  { to: '/images', label: 'Images' },
  { to: '/violations', label: 'Violations' },
  { to: '/incidents', label: 'Incidents' },
  { to: '/network', label: 'Network' },
  { to: '/compliance', label: 'Compliance' },
  { to: '/registries', label: 'Registries' },
  { to: '/policies', label: 'Policies' },
  { to: '/settings', label: 'Settings' },
];

export function Layout() {
  const navigate = useNavigate();
  const location = useLocation();
  const reachable = useSyncExternalStore(connection.onReachability, () => connection.reachable);
  const [mainRef, setMainRef] = useState<HTMLElement | null>(null);

  // A refused token (expired, revoked) ends the session: back to /login with the reason.
  useEffect(() => connection.onUnauthorized((message) => {
    closeLiveChanges();
    session.signOut(`Your session ended: ${message}. Sign in again.`);
    navigate('/login', { replace: true, state: { from: location.pathname } });
  }), [navigate, location.pathname]);

  // While Central is unreachable, probe it so the banner goes away by itself.
  useEffect(() => {
    if (reachable) return;
    const timer = setInterval(() => { api('GET', '/healthz').catch(() => undefined); }, 5000);
    return () => clearInterval(timer);
  }, [reachable]);

  // Moving to another page puts focus on its content (screen readers announce it); the
  // first page after sign-in keeps focus at the top, so Tab reaches the skip link first.
  const shownPath = useRef(location.pathname);
  useEffect(() => {
    if (shownPath.current === location.pathname) return;
    shownPath.current = location.pathname;
    mainRef?.focus();
  }, [location.pathname, mainRef]);

  const signOut = () => {
    closeLiveChanges();
    session.signOut();
    navigate('/login');
  };

  return (
    <div className="app">
      <a className="skip-link" href="#main">Skip to content</a>
      <header className="topbar">
        <span className="brand">Gatehouse</span>
        <nav aria-label="Main">
          <ul>
            {NAV.map((n) => <li key={n.to}><NavLink to={n.to} end={n.end}>{n.label}</NavLink></li>)}
          </ul>
        </nav>
        <button type="button" className="link-button" onClick={signOut}>Sign out</button>
      </header>
      {!reachable && <div className="banner" role="alert">Central cannot be reached. Showing what was last loaded; retrying as you use the console.</div>}
      <main id="main" ref={setMainRef} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
